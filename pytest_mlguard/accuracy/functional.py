"""Accuracy as a plain function, and the ``accuracy`` check's measurement."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..checks.base import CheckSpec, Measurement

if TYPE_CHECKING:
    from ..checks.evaluation import Evaluation

__all__ = ["accuracy", "run_check"]


def accuracy(proba: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of probabilities (or scores) ``(N, K)`` against integer labels ``(N,)``.

    Example:
        >>> accuracy(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]))
        0.5
    """
    proba = np.asarray(proba)
    labels = np.asarray(labels)
    if proba.ndim != 2 or len(proba) != len(labels) or len(labels) == 0:
        raise ValueError(f"expected proba (N, K) and labels (N,) with N >= 1, got {proba.shape} and {labels.shape}")
    return float((proba.argmax(axis=1) == labels).mean())


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    data = evaluation.data
    proba = evaluation.clean_proba
    per_class = {
        evaluation.model.class_names[k]: float((proba[data.y == k].argmax(axis=1) == k).mean())
        for k in np.unique(data.y)
    }
    correct = proba.argmax(axis=1) == data.y
    return Measurement(
        value=accuracy(proba, data.y),
        n=data.n,
        chance=1.0 / evaluation.model.n_classes,
        details={"per_class": per_class},
        successes=int(correct.sum()),
        evaluations=data.n,
    )
