"""Confidence intervals for the metrics verdicts rest on, as plain functions.

Accuracy-like metrics (a fraction of samples that pass) get a binomial interval, Wilson's score
interval or the exact Clopper-Pearson one; other metrics (ECE, say) a percentile bootstrap interval.

Example:
    >>> low, high = wilson(45, 50, 0.95)
    >>> round(low, 3), round(high, 3)
    (0.786, 0.957)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np

__all__ = ["IntervalMethod", "binomial_interval", "bootstrap_interval", "clopper_pearson", "wilson", "z_value"]

IntervalMethod = Literal["wilson", "clopper-pearson"]


def z_value(confidence: float) -> float:
    """The two-sided standard-normal quantile for ``confidence`` (1.96 for 0.95)."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


def _check(successes: float, n: int, confidence: float) -> None:
    if n < 1:
        raise ValueError(f"expected n >= 1 samples, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"expected 0 <= successes <= n, got successes={successes}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"expected a confidence in (0, 1), got {confidence}")


def wilson(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion."""
    _check(successes, n, confidence)
    z = z_value(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends, where rounding would miss them
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def clopper_pearson(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (conservative) Clopper-Pearson interval."""
    from scipy.stats import beta

    _check(successes, n, confidence)
    alpha = 1 - confidence
    k = round(successes)
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def binomial_interval(successes: float, n: int, confidence: float = 0.95, method: IntervalMethod = "wilson") -> tuple[float, float]:
    if method == "wilson":
        return wilson(successes, n, confidence)
    if method == "clopper-pearson":
        return clopper_pearson(successes, n, confidence)
    raise ValueError(f"expected method 'wilson' or 'clopper-pearson', got {method!r}")


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float],
    n: int,
    confidence: float = 0.95,
    *,
    resamples: int = 1000,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(indices)`` over ``n`` samples.

    ``statistic`` receives an index array (drawn with replacement) and returns the metric on those
    samples, so the caller keeps its arrays.
    """
    if n < 1:
        raise ValueError(f"expected n >= 1 samples, got n={n}")
    values = np.array([statistic(rng.integers(0, n, size=n)) for _ in range(resamples)])
    alpha = 1 - confidence
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
