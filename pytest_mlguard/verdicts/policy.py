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

from dataclasses import dataclass
from typing import Literal

from .intervals import IntervalMethod, binomial_interval

__all__ = ["POLICIES", "Policy", "Verdict", "decide", "required_n"]

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
    policy: Policy = "estimate",
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


def required_n(
    estimate: float,
    threshold: float,
    confidence: float = 0.95,
    method: IntervalMethod = "wilson",
    *,
    limit: int = 10_000_000,
) -> int | None:
    """The smallest sample size at which an interval around ``estimate`` would exclude ``threshold``.

    Assumes the estimate stays where it is. ``None`` when the estimate equals the threshold (no sample
    size decides it) or more than ``limit`` samples would be needed.
    """
    if estimate == threshold:
        return None

    def decided(n: int) -> bool:
        low, high = binomial_interval(round(estimate * n), n, confidence, method)
        return low > threshold if estimate > threshold else high < threshold

    low_n, high_n = 1, 2
    while not decided(high_n):
        low_n, high_n = high_n, high_n * 2
        if high_n > limit:
            return None
    while low_n + 1 < high_n:  # binary search for the first n that decides
        middle = (low_n + high_n) // 2
        if decided(middle):
            high_n = middle
        else:
            low_n = middle
    return high_n
