"""Temperature scaling as advice, not a fix: the temperature that would calibrate the model.

Temperature scaling (Guo et al., 2017) divides the logits by one number ``T`` fitted to minimise
the negative log-likelihood; ``T > 1`` softens an overconfident model, ``T < 1`` sharpens an
underconfident one, and the predicted classes do not change. pytest-mlguard never changes the
model: it reports the temperature fitted on the evaluation data and the calibration it would give,
so that a failing ECE check says what a fix could buy ("temperature 1.8 would give ECE 0.02").
Fit the temperature you deploy on held-out data, not on the data you test with.

The logits are taken as ``log(p)`` (probabilities below 1e-15 count as 1e-15), which softmax maps
back to ``p``, so the advice works for any model that returns probabilities.

Example:
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(4000, 5)) * 2
    >>> labels = np.array([rng.choice(5, p=p) for p in temperature_scale(np.exp(logits), 1.0)])
    >>> overconfident = temperature_scale(np.exp(logits), 0.5)  # logits doubled
    >>> round(fit_temperature(overconfident, labels), 1)
    2.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgument
from .metrics import NLL_EPS as _EPS
from .metrics import (
    Binning,
    _check,
    brier_score,
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
)

__all__ = ["TEMPERATURE_BOUNDS", "fit_temperature", "temperature_advice", "temperature_scale"]

TEMPERATURE_BOUNDS = (0.01, 100.0)


def _log_proba(proba: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(proba, dtype=np.float64), _EPS, 1.0))


def temperature_scale(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(p) / T)``: the probabilities at temperature ``T`` (``T = 1`` returns ``p``).

    Example:
        >>> temperature_scale(np.array([[0.8, 0.2]]), 2.0).round(4).tolist()
        [[0.6667, 0.3333]]
    """
    from scipy.special import softmax

    if not np.isfinite(temperature) or temperature <= 0:
        raise InvalidArgument.expected("a positive finite number", "temperature", temperature)
    return softmax(_log_proba(proba) / temperature, axis=1)


def fit_temperature(proba: np.ndarray, labels: np.ndarray, *, bounds: tuple[float, float] = TEMPERATURE_BOUNDS) -> float:
    """The temperature in ``bounds`` that minimises the NLL of ``labels`` under ``proba``.

    The NLL is convex in ``1 / T``, so a bounded scalar search over ``log T`` finds the optimum.
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    proba, labels = _check(proba, labels)
    logits = _log_proba(proba)
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[rows, labels].mean())

    low, high = np.log(bounds[0]), np.log(bounds[1])
    result = minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))


def temperature_advice(
    proba: np.ndarray, labels: np.ndarray, n_bins: int = 15, *, binning: Binning = "equal-width"
) -> dict[str, Any]:
    """The fitted temperature and the calibration metrics before and after scaling (JSON-safe).

    Returns:
        ``temperature``, ``at_bound`` (the optimum lies at the edge of the search range, so the
        advice is only a direction), and ``before`` / ``after`` dicts of ``ece``, ``mce``,
        ``classwise_ece``, ``nll`` and ``brier``.
    """
    temperature = fit_temperature(proba, labels)
    scaled = temperature_scale(proba, temperature)

    def metrics(p: np.ndarray) -> dict[str, float]:
        return {
            "ece": expected_calibration_error(p, labels, n_bins, binning=binning),
            "mce": maximum_calibration_error(p, labels, n_bins, binning=binning),
            "classwise_ece": classwise_calibration_error(p, labels, n_bins, binning=binning),
            "nll": negative_log_likelihood(p, labels),
            "brier": brier_score(p, labels),
        }

    low, high = TEMPERATURE_BOUNDS
    return {
        "temperature": round(temperature, 4),
        "at_bound": bool(temperature < low * 1.01 or temperature > high / 1.01),
        "before": metrics(np.asarray(proba, dtype=np.float64)),
        "after": metrics(scaled),
    }
