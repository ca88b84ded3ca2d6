"""Robustness metrics over numpy arrays: robust accuracy, success rate, perturbation norms, curves.

A sample is *robust* when the model classifies it correctly both clean and under the attack; a
sample the model already gets wrong counts as broken at every epsilon.

Example:
    >>> y = np.array([0, 1, 1]); clean = np.array([0, 1, 0]); adv = np.array([0, 0, 0])
    >>> outcome(y, clean, adv)["robust_accuracy"], outcome(y, clean, adv)["success_rate"]
    (0.3333333333333333, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def perturbation_norms(x: np.ndarray, x_adv: np.ndarray, norm: str) -> np.ndarray:
    """Per-sample ``||x_adv - x||`` in the L-inf (``"linf"``) or L2 (``"l2"``) norm, float64."""
    delta = (np.asarray(x_adv, np.float64) - np.asarray(x, np.float64)).reshape(len(x), -1)
    if norm == "linf":
        return np.abs(delta).max(axis=1) if delta.size else np.zeros(len(x))
    return np.linalg.norm(delta, axis=1)


def box_diameter(sample_shape: Sequence[int], value_range: tuple[float, float], norm: str) -> float:
    """The largest perturbation the value range allows: ``high - low`` in L-inf, times sqrt(d) in L2."""
    width = float(value_range[1] - value_range[0])
    return width if norm == "linf" else width * float(np.sqrt(np.prod(sample_shape)))


def outcome(y: np.ndarray, clean_pred: np.ndarray, adv_pred: np.ndarray) -> dict[str, Any]:
    """Robust accuracy, clean accuracy, success rate (flipped / clean-correct) and the masks."""
    clean_ok = clean_pred == y
    robust = clean_ok & (adv_pred == y)
    flipped = clean_ok & ~robust
    return {
        "robust_accuracy": float(robust.mean()) if len(y) else 0.0,
        "clean_accuracy": float(clean_ok.mean()) if len(y) else 0.0,
        "success_rate": float(flipped.sum() / max(1, clean_ok.sum())),
        "clean_ok": clean_ok,
        "robust": robust,
        "flipped": flipped,
    }


def minimal_norms(
    x: np.ndarray,
    x_adv: np.ndarray,
    y: np.ndarray,
    clean_pred: np.ndarray,
    adv_pred: np.ndarray,
    norm: str,
    value_range: tuple[float, float],
) -> np.ndarray:
    """The perturbation a minimal attack needed to flip each sample.

    0 for samples already misclassified; the box diameter (no perturbation in the value range was
    found) where the attack failed; otherwise the norm of the adversarial perturbation.
    """
    norms = perturbation_norms(x, x_adv, norm)
    clean_ok = clean_pred == y
    failed = clean_ok & (adv_pred == y)
    norms = np.where(clean_ok, norms, 0.0)
    return np.where(failed, box_diameter(x.shape[1:], value_range, norm), norms)


def robust_curve(norms: np.ndarray, epsilons: Sequence[float]) -> list[float]:
    """Robust accuracy at each epsilon from minimal-attack norms: the fraction with a norm above it."""
    return [float((norms > eps).mean()) if len(norms) else 0.0 for eps in epsilons]


def curve_from_masks(robust: Sequence[np.ndarray]) -> tuple[list[float], list[float], int]:
    """From per-epsilon robust masks in increasing epsilon order: the raw curve, the sound curve
    (a sample is robust at epsilon only if it survived every smaller epsilon too, since a smaller
    ball lies inside a larger one) and how many samples an attack broke at a smaller epsilon but not
    at a larger one."""
    raw = [float(mask.mean()) for mask in robust]
    sound, running = [], None
    inconsistent = np.zeros_like(robust[0], dtype=bool) if robust else np.zeros(0, bool)
    for mask in robust:
        if running is not None:
            inconsistent |= ~running & mask
        running = mask.copy() if running is None else running & mask
        sound.append(float(running.mean()))
    return raw, sound, int(inconsistent.sum())


def norm_summary(norms: np.ndarray) -> dict[str, float]:
    """Median, mean and quantiles (min, 10, 25, 75, 90, max) of a set of norms."""
    if len(norms) == 0:
        return {}
    q = np.quantile(norms, [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
    keys = ("min", "p10", "p25", "median", "p75", "p90", "max")
    summary = {key: float(value) for key, value in zip(keys, q)}
    summary["mean"] = float(np.mean(norms))
    return summary
