"""A confidence interval for the mean of bounded values whose coverage is guaranteed, not asymptotic.

Waudby-Smith and Ramdas (2024), "Estimating means of bounded random variables by betting", Journal
of the Royal Statistical Society Series B 86(1), section 4 (the hedged capital process) with the
predictable plug-in bets of their eq. (26), tuned for a fixed n. Scaled to [0, 1], for every candidate
mean ``m`` two gamblers bet on the values as they come:

* ``K+(m) = prod (1 + l+_i (x_i - m))`` wins when the mean lies above ``m``, and
* ``K-(m) = prod (1 - l-_i (x_i - m))`` when it lies below,

with the bet ``l_i = sqrt(2 log(2/alpha) / (n s_{i-1}^2))`` from the mean and variance of the values
before the i-th (regularised by one fake value at 1/2), truncated to ``c/m`` and ``c/(1 - m)`` so that
no value in [0, 1] can take a capital below ``1 - c``. If the true mean is ``m``, either capital is a
nonnegative martingale, so by Ville's inequality it ever reaches ``2/alpha`` with probability at most
``alpha/2``. The interval holds every ``m`` at which neither capital did, for every distribution on
the bounds and every n: no normal approximation, no bootstrap. It is computed on a grid of candidate
means (a coarse pass over the bounds, then a fine one around what it kept), vectorised with numpy.

Its price is the bound: to rule out a mean as high as ``m`` it must bet that no value near the upper
bound comes, and a value there would cost the bet ``c``; so the upper side stays about
``bound * log(2/alpha) / (c n)`` above the sample mean (0.47 for the NLL's 34.5 at 95% and n = 360).
No interval that covers every distribution on the bounds can do much better: a value at the bound with
probability ``log(2/alpha) / n`` goes unseen in n draws in ``alpha/2`` of runs, and moves the mean by
about ``bound * log(2/alpha) / n``. The NLL, bounded by ``-log(eps)``, pays it (docs/calibration.md).

Example:
    >>> rng = np.random.default_rng(0)
    >>> low, high = betting_mean_interval(rng.beta(2, 5, 400), 0.95)
    >>> round(low, 3), round(high, 3)  # the mean of Beta(2, 5) is 2/7 = 0.286
    (0.27, 0.309)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: the truncation ``c`` of the bets (Waudby-Smith and Ramdas suggest 1/2 or 3/4)
TRUNCATION = 0.75
#: candidate means of the coarse and the fine grid
_COARSE, _FINE = 128, 512
#: (candidate means x values) computed at once
_CHUNK = 2_000_000


def _bets(x: np.ndarray, alpha: float) -> np.ndarray:
    """The predictable plug-in bets of a fixed-n interval: each from the values before it (WSR eq. 26)."""
    n = len(x)
    t = np.arange(1, n + 1)
    mean = (0.5 + np.cumsum(x)) / (t + 1)
    variance = (0.25 + np.cumsum((x - mean) ** 2)) / (t + 1)
    before = np.concatenate(([0.25], variance[:-1]))
    return np.sqrt(2 * math.log(2 / alpha) / (n * np.maximum(before, 1e-12)))


def _kept(x: np.ndarray, bets: np.ndarray, means: np.ndarray, alpha: float) -> np.ndarray:
    """Whether each candidate mean survives: neither capital ever reached ``2 / alpha``."""
    threshold = math.log(2 / alpha)
    kept = np.empty(len(means), dtype=bool)
    rows = max(1, _CHUNK // len(x))
    for start in range(0, len(means), rows):
        m = means[start : start + rows, None]
        with np.errstate(divide="ignore"):
            up = np.minimum(bets[None, :], TRUNCATION / m)
            down = np.minimum(bets[None, :], TRUNCATION / (1 - m))
        gap = x[None, :] - m
        rises = np.cumsum(np.log1p(up * gap), axis=1).max(axis=1)
        falls = np.cumsum(np.log1p(-down * gap), axis=1).max(axis=1)
        kept[start : start + rows] = (rises < threshold) & (falls < threshold)
    return kept


def _hull(x: np.ndarray, bets: np.ndarray, means: np.ndarray, alpha: float) -> tuple[float, float]:
    """The smallest and largest kept candidates of a sorted grid, each widened to its rejected neighbour."""
    kept = np.flatnonzero(_kept(x, bets, means, alpha))
    if len(kept) == 0:  # narrower than the grid's step: the cell around the sample mean
        centre = int(np.searchsorted(means, x.mean()))
        first, last = centre, centre - 1
    else:
        first, last = int(kept[0]), int(kept[-1])
    return float(means[max(first - 1, 0)]), float(means[min(last + 1, len(means) - 1)])


def betting_mean_interval(values: Any, confidence: float = 0.95, *, bounds: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    """The hedged betting confidence interval of the mean of ``values``, each within ``bounds``.

    Its coverage is at least ``confidence`` for every distribution on ``bounds`` and every n
    (Waudby-Smith and Ramdas 2024; see the module), and it holds the sample mean. Values are taken
    in the order given, which must not depend on the values (shuffle them first if it could); the
    interval needs no resamples.

    Args:
        values: the per-sample values (losses, confidences), ``n >= 1``.
        confidence: the two-sided level, each side at half of ``1 - confidence``.
        bounds: what no value can leave (the NLL's ``(0, -log(eps))``, the Brier score's ``(0, 2)``).
    """
    low, high = float(bounds[0]), float(bounds[1])
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(x) < 1 or not high > low:
        raise ValueError(f"expected at least 1 value and bounds low < high, got {len(x)} values and bounds={bounds}")
    if not 0 < confidence < 1:
        raise ValueError(f"expected a confidence in (0, 1), got {confidence}")
    if not ((x >= low) & (x <= high)).all():
        raise ValueError(f"expected values within bounds={bounds}, got values in [{x.min()}, {x.max()}]")
    x, alpha = (x - low) / (high - low), 1 - confidence
    bets = _bets(x, alpha)
    coarse = np.union1d(np.linspace(0.0, 1.0, _COARSE + 1), [x.mean()])
    start, stop = _hull(x, bets, coarse, alpha)
    found = _hull(x, bets, np.union1d(np.linspace(start, stop, _FINE + 1), [x.mean()]), alpha)
    # the interval holds the sample mean (widened to it where the bets rejected it: more coverage, not less)
    return low + (high - low) * min(found[0], x.mean()), low + (high - low) * max(found[1], x.mean())
