"""Calibration metrics as plain numpy functions, and the ``calibration`` check's measurement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks.base import CheckSpec, Measurement

if TYPE_CHECKING:
    from ..checks.evaluation import Evaluation

__all__ = ["expected_calibration_error", "reliability_bins", "run_check"]


def reliability_bins(proba: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> dict[str, list[float]]:
    """Per-bin data of a reliability diagram over equal-width confidence bins.

    Bin ``i`` holds confidences in ``[i/n, (i+1)/n)``; the last bin is closed, so a confidence of
    exactly 1.0 falls in it. Empty bins have count 0 and accuracy and confidence 0.

    Returns:
        ``edges`` (n_bins + 1), and per bin ``count``, ``accuracy`` and ``confidence``.
    """
    proba = np.asarray(proba, dtype=np.float64)
    labels = np.asarray(labels)
    if proba.ndim != 2 or len(proba) != len(labels) or len(labels) == 0:
        raise ValueError(f"expected proba (N, K) and labels (N,) with N >= 1, got {proba.shape} and {labels.shape}")
    if n_bins < 1:
        raise ValueError(f"expected n_bins >= 1, got {n_bins}")
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.nan_to_num(np.bincount(index, weights=correct, minlength=n_bins) / count)
        conf = np.nan_to_num(np.bincount(index, weights=confidence, minlength=n_bins) / count)
    return {
        "edges": edges.tolist(),
        "count": count.tolist(),
        "accuracy": acc.tolist(),
        "confidence": conf.tolist(),
    }


def expected_calibration_error(proba: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error (L1) over equal-width bins of top-1 confidence (Guo et al., 2017).

    Example:
        >>> expected_calibration_error(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1]), n_bins=10)
        0.4
    """
    bins = reliability_bins(proba, labels, n_bins)
    count = np.asarray(bins["count"])
    gap = np.abs(np.asarray(bins["accuracy"]) - np.asarray(bins["confidence"]))
    return float(np.round((gap * count).sum() / count.sum(), 12))


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    n_bins = int(spec.param("bins", 15))
    proba, labels = evaluation.clean_proba, evaluation.data.y
    details: dict[str, Any] = {"reliability": reliability_bins(proba, labels, n_bins)}
    details["mean_confidence"] = float(proba.max(axis=1).mean())
    details["accuracy"] = evaluation.clean_accuracy()
    return Measurement(value=expected_calibration_error(proba, labels, n_bins), n=evaluation.data.n, details=details)
