"""Synthetic models whose true error rates are known by construction, for measuring verdicts.

``benchmarks/bench_verdicts.py`` and the unit tests feed these to the plugin's own verdict code
(:class:`~pytest_mlguard.checks.base.CheckResult`, :class:`~pytest_mlguard.verdicts.sequential.EarlyStop`,
:func:`~pytest_mlguard.calibration.inference.calibration_inference`) to measure false-fail rates, power,
coverage and flake rates. numpy only, seeded.

Example:
    >>> proba, labels = calibration_model(np.random.default_rng(0), 2000, accuracy=0.8, ece=0.1)
    >>> bool(abs((proba.argmax(1) == labels).mean() - 0.8) < 0.03), bool(abs(proba.max(1).mean() - 0.9) < 0.03)
    (True, True)
"""

from __future__ import annotations

import numpy as np

__all__ = ["calibration_model", "proportion_outcomes"]


def calibration_model(
    rng: np.random.Generator, n: int, *, accuracy: float, ece: float = 0.0, classes: int = 10, concentration: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` predictions ``(n, classes)`` and labels of a model whose top-label accuracy is ``accuracy``
    and whose top-label calibration error is exactly ``ece`` (overconfidence: at every confidence c,
    the top class is right with probability ``c - ece``).

    Confidences: the top probability is ``1/K + (1 - 1/K) * Beta`` with mean ``accuracy + ece``
    (``concentration`` = a + b of the beta); the other classes share the rest at random, and a wrong
    answer is one of them, drawn in proportion to its probability. With ``ece = 0`` the labels are
    drawn from the predicted distribution itself, so the model is calibrated in every sense
    (class-wise too).
    """
    chance = 1.0 / classes
    mean = accuracy + ece
    if not (chance <= accuracy and mean < 1.0):
        raise ValueError(f"expected 1/classes <= accuracy and accuracy + ece < 1, got accuracy={accuracy}, ece={ece}")
    share = (mean - chance) / (1 - chance)
    top = chance + (1 - chance) * rng.beta(share * concentration, (1 - share) * concentration, n)
    top = np.maximum(top, ece + 1e-12)
    rest = rng.dirichlet(np.ones(classes - 1), n) * (1 - top)[:, None]
    winner = rng.integers(0, classes, n)
    proba = np.empty((n, classes))
    proba[np.arange(n), winner] = top
    others = (winner[:, None] + 1 + np.arange(classes - 1)[None, :]) % classes
    proba[np.arange(n)[:, None], others] = rest
    if ece == 0.0:  # calibrated in every sense: the label is drawn from the prediction
        cumulative = np.cumsum(proba, axis=1)
        labels = np.minimum((rng.random(n)[:, None] >= cumulative).sum(axis=1), classes - 1)
        return proba, labels
    argmax = proba.argmax(axis=1)
    confidence = proba[np.arange(n), argmax]
    right = rng.random(n) < confidence - ece
    wrong_weights = proba.copy()
    wrong_weights[np.arange(n), argmax] = 0.0
    cumulative = np.cumsum(wrong_weights, axis=1) / np.maximum(wrong_weights.sum(axis=1, keepdims=True), 1e-300)
    wrong = np.minimum((rng.random(n)[:, None] >= cumulative).sum(axis=1), classes - 1)
    return proba, np.where(right, argmax, wrong)


def proportion_outcomes(rng: np.random.Generator, runs: int, n: int, rate: float | np.ndarray) -> np.ndarray:
    """``(runs, n)`` per-sample outcomes (True: the sample counts) of checks whose true proportion is
    ``rate`` (a number, or one per run)."""
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), (runs,))
    return rng.random((runs, n)) < rate[:, None]
