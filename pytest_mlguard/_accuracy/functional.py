"""Accuracy as a plain function, and the ``accuracy`` check's measurement."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from ..checks._base import CheckSpec, Measurement
from .._verdicts.paired import keep_outcomes

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation


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
    """Clean accuracy of :attr:`~pytest_mlguard.checks._evaluation.Evaluation.data`; when its interval
    straddles the floor, more of the data as ``verdict.more_samples`` says
    (:meth:`~pytest_mlguard.checks._evaluation.Evaluation.draw_more`)."""
    data, full = evaluation.data, evaluation.full_data
    proba = evaluation.clean_proba
    chance = 1.0 / evaluation.model.n_classes

    def more(index: np.ndarray) -> np.ndarray:
        drawn.append(index)
        return evaluation.model.predict_proba(full.x[index]).argmax(axis=1) == full.y[index]

    drawn: list[np.ndarray] = []
    threshold = spec.threshold.resolve(chance=chance)
    correct, details, test = evaluation.draw_more(spec, proba.argmax(axis=1) == data.y, more, threshold=threshold)
    labels = np.concatenate([data.y, *(full.y[index] for index in drawn)])
    keep_outcomes(evaluation, spec.id, correct)  # for the gate's paired comparison with another model
    per_class = {evaluation.model.class_names[k]: float(correct[labels == k].mean()) for k in np.unique(labels)}
    measurement = Measurement(
        value=float(correct.mean()),
        n=len(correct),
        chance=chance,
        details={"per_class": per_class, "more_samples": details},
        successes=int(correct.sum()),
        evaluations=len(correct),
    )
    from .._verdicts.sequential import drawn_more

    return dataclasses.replace(measurement, **drawn_more(correct, details, test, data.n))
