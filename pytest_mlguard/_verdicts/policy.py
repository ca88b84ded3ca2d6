"""What an interval means for a verdict: the floor policies, and the sample size that would decide.

Given an estimate, its confidence interval and a floor (or ceiling):

* the interval *decides* when it lies wholly on one side of the threshold: ``passed`` or ``failed``;
* otherwise the verdict is ``inconclusive``, and the policy says what the test outcome is:
  ``strict`` fails it (the whole interval must clear the floor), ``estimate`` follows the point
  estimate, ``lenient`` passes it (any part of the interval may clear the floor).

Example:
    >>> v = decide(0.82, (0.70, 0.90), threshold=0.8, kind="floor", policy="estimate")
    >>> v.label, v.passed
    ('inconclusive', True)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .intervals import IntervalMethod


Policy = Literal["strict", "estimate", "lenient"]
POLICIES: tuple[str, ...] = ("strict", "estimate", "lenient")


@dataclass(frozen=True)
class Verdict:
    """``label`` is ``passed``, ``failed`` or ``inconclusive``; ``passed`` is the test outcome."""

    label: Literal["passed", "failed", "inconclusive"]
    passed: bool


def decide(
    value: float,
    interval: tuple[float, float] | None,
    *,
    threshold: float,
    kind: Literal["floor", "ceiling"],
    policy: Policy = "lenient",
) -> Verdict:
    """The verdict of ``value`` with ``interval`` against ``threshold`` under ``policy``."""
    by_estimate = value >= threshold if kind == "floor" else value <= threshold
    if value != value:  # NaN never passes
        return Verdict("failed", False)
    if interval is None:
        return Verdict("passed" if by_estimate else "failed", by_estimate)
    low, high = interval
    if kind == "floor":
        clears, misses = low >= threshold, high < threshold
    else:
        clears, misses = high <= threshold, low > threshold
    if clears:
        return Verdict("passed", True)
    if misses:
        return Verdict("failed", False)
    outcome = {"strict": False, "estimate": by_estimate, "lenient": True}[policy]
    return Verdict("inconclusive", outcome)


#: :func:`required_n` names the smallest n that decides with at least this probability
DECIDE_PROBABILITY = 0.8


def decision_probability(
    rate: float,
    threshold: float,
    n: Any,
    confidence: float = 0.95,
    method: IntervalMethod = "clopper-pearson",
    *,
    kind: Literal["floor", "ceiling"] = "floor",
) -> np.ndarray:
    """The probability that a ``method`` interval at ``confidence`` decides (lies wholly on one side of
    ``threshold``, as :func:`decide` judges it) when ``n`` samples are drawn at the true ``rate``; ``n``
    may be an array.

    The intervals of ``k`` successes move up with ``k``, so the outcomes that pass are ``k >= k_pass``
    and those that fail ``k <= k_fail``: two binomial tails. (Wilson's boundaries are found from the
    score test's and checked against the intervals themselves, floating point being what it is.)
    """
    from scipy.stats import binom

    from .intervals import binomial_bounds, z_value

    size = np.atleast_1d(np.asarray(n, dtype=np.int64))
    alpha = 1 - confidence
    if method == "clopper-pearson":
        # the interval's ends are binomial tails at the threshold: its low end reaches the threshold
        # from the first k with P(X >= k) <= alpha/2, its high end from the first k with P(X <= k) >= alpha/2
        up, down = binom.isf(alpha / 2, size, threshold) + 1, binom.ppf(alpha / 2, size, threshold)
        if kind == "floor":
            return np.asarray(binom.sf(up - 1, size, rate) + binom.cdf(down - 1, size, rate), dtype=np.float64)
        return np.asarray(binom.cdf(down - 1, size, rate) + binom.sf(up - 1, size, rate), dtype=np.float64)
    else:  # Wilson's ends are the score test's
        z = z_value(confidence)
        spread = z * np.sqrt(size * threshold * (1 - threshold))
        up, down = np.ceil(size * threshold + spread), np.ceil(size * threshold - spread)

    def first(guess: np.ndarray, condition: Any) -> np.ndarray:
        """The first k in 0..n+1 where ``condition(k)`` holds (it holds from there on), from a guess
        that floating point may have put one or two off."""
        k = np.clip(np.asarray(guess, dtype=np.int64), 0, size + 1)
        for _ in range(8):
            holds = lambda j: (j > size) | condition(np.clip(j, 0, size))  # noqa: E731
            later, earlier = ~holds(k), (k >= 1) & holds(k - 1)
            if not (later.any() or earlier.any()):
                return k
            k = k + later - earlier
        raise AssertionError("the interval's ends are not monotone in the successes")  # pragma: no cover

    def bounds(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return binomial_bounds(k, size, confidence, method)

    if kind == "floor":  # passes with many successes (k >= clear), fails with few (k < miss)
        clear = first(up, lambda k: bounds(k)[0] >= threshold)
        miss = first(down, lambda k: bounds(k)[1] >= threshold)
        passing, failing = binom.sf(clear - 1, size, rate), binom.cdf(miss - 1, size, rate)
    else:  # a ceiling passes with few successes (k < clear) and fails with many (k >= miss)
        clear = first(down, lambda k: bounds(k)[1] > threshold)
        miss = first(up, lambda k: bounds(k)[0] > threshold)
        passing, failing = binom.cdf(clear - 1, size, rate), binom.sf(miss - 1, size, rate)
    return np.asarray(passing + failing, dtype=np.float64)


def required_n(
    estimate: float,
    threshold: float,
    confidence: float = 0.95,
    method: IntervalMethod = "clopper-pearson",
    *,
    kind: Literal["floor", "ceiling"] = "floor",
    probability: float = DECIDE_PROBABILITY,
    limit: int = 1_000_000,
) -> int | None:
    """The smallest sample size at which the verdict is decided with at least ``probability`` (80%)
    if the true proportion equals ``estimate``.

    A fresh run of that many samples, drawn where the estimate says, gets an interval wholly on one
    side of the threshold in at least 80% of runs. The probability is not monotone in n (the
    binomial's steps), so every n is scanned, not bisected, from well below the first that decides
    half the time. ``None`` when no n up to ``limit`` decides that often, as when the estimate equals
    the threshold.

    Example:
        >>> required_n(0.96, 0.93)
        471
    """
    if not 0 < probability < 1:
        raise ValueError(f"expected a probability in (0, 1), got {probability}")
    if estimate == threshold or not 0 <= estimate <= 1:
        return None
    return _required_n(float(estimate), float(threshold), float(confidence), method, kind, float(probability), int(limit))


@functools.lru_cache(maxsize=4096)
def _required_n(
    estimate: float, threshold: float, confidence: float, method: IntervalMethod, kind: Literal["floor", "ceiling"], probability: float, limit: int
) -> int | None:
    from scipy.stats import norm

    spread = max(estimate * (1 - estimate), threshold * (1 - threshold), 1e-12)
    if (norm.ppf(1 - (1 - confidence) / 2) + norm.ppf(probability)) ** 2 * spread / (estimate - threshold) ** 2 > 4 * limit:
        return None  # the normal approximation needs far more than the limit

    def decides(sizes: np.ndarray) -> np.ndarray:
        return decision_probability(estimate, threshold, sizes, confidence, method, kind=kind)

    # The probability steps with n around a rising trend, by at most about the binomial's largest
    # probability, 1 / sqrt(2 pi n p q). A coarse pass finds where it comes within twice that (and 1%)
    # of the target; no earlier n can reach it. Every n is scanned from the coarse point before.
    start = 1
    while start * 2 <= limit and decides(np.array([start * 2]))[0] < 0.5:
        start *= 2
    step = max(1, start // 128)
    while start <= limit:
        coarse = np.arange(start, min(start + 64 * step, limit) + 1, step)
        wobble = 0.01 + 2 / np.sqrt(2 * np.pi * coarse * spread)
        near = np.flatnonzero(decides(coarse) >= probability - wobble)
        if len(near):
            start = int(coarse[near[0] - 1]) if near[0] > 0 else start
            break
        start = int(coarse[-1]) + step
    block = 256
    while start <= limit:
        sizes = np.arange(start, min(start + block, limit + 1))
        hits = np.flatnonzero(decides(sizes) >= probability)
        if len(hits):
            return int(sizes[hits[0]])
        start, block = start + block, block * 2
    return None


def scaled_required_n(
    value: float, interval: tuple[float, float], threshold: float, n: int, confidence: float, *, probability: float = DECIDE_PROBABILITY
) -> int | None:
    """:func:`required_n` for a metric without a binomial model (a bootstrap interval): the n at which
    an interval of this width, shrinking as 1/sqrt(n) around a normal estimate at ``value``, decides
    with ``probability``."""
    from scipy.stats import norm

    z = norm.ppf(0.5 + confidence / 2)
    spread = (interval[1] - interval[0]) / (2 * z)  # the standard error the interval implies
    distance = abs(value - threshold)
    if distance == 0 or spread <= 0 or math.isnan(value):
        return None
    return max(n + 1, math.ceil(n * ((z + norm.ppf(probability)) * spread / distance) ** 2))
