"""Anytime-valid sequential testing of a proportion against a floor, for early stopping.

A check that evaluates samples batch by batch may stop as soon as its verdict is decided, without
inflating the error rate that peeking at a fixed-n test would: the decision uses a confidence
*sequence* (Robbins' beta-binomial mixture martingale; Howard et al., 2021, "Time-uniform, nonparametric,
nonasymptotic confidence sequences"), valid at every sample size at once by Ville's inequality. At
level ``alpha`` the probability that the sequence ever excludes the true proportion is at most
``alpha``, however often it is looked at.

Example:
    >>> test = SequentialFloorTest(floor=0.5, confidence=0.95)
    >>> test.update(successes=95, n=100)
    'passed'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["SequentialFloorTest", "log_mixture_martingale"]

Decision = Literal["passed", "failed", "undecided"]


def log_mixture_martingale(successes: int, n: int, p: float, a: float = 1.0, b: float = 1.0) -> float:
    """log of the beta(a, b)-mixture likelihood ratio against the null proportion ``p``.

    ``M_n(p) = B(a + S, b + n - S) / B(a, b) / (p^S (1 - p)^(n - S))``: a nonnegative martingale under
    ``p`` with initial value 1, so ``P(sup_n M_n(p) >= 1/alpha) <= alpha``.
    """
    from scipy.special import betaln

    if n == 0:
        return 0.0
    failures = n - successes
    if p <= 0.0:
        return math.inf if successes > 0 else float(betaln(a, b + n) - betaln(a, b))
    if p >= 1.0:
        return math.inf if failures > 0 else float(betaln(a + n, b) - betaln(a, b))
    log_null = successes * math.log(p) + failures * math.log1p(-p)
    return float(betaln(a + successes, b + failures) - betaln(a, b) - log_null)


@dataclass
class SequentialFloorTest:
    """Is a proportion at least ``floor`` (``kind="floor"``) or at most a ceiling?

    Feed cumulative counts with :meth:`update`; it returns ``"passed"`` or ``"failed"`` once the
    confidence sequence excludes the threshold, ``"undecided"`` until then.
    """

    floor: float
    confidence: float = 0.95
    kind: Literal["floor", "ceiling"] = "floor"
    min_samples: int = 20
    successes: int = field(default=0, init=False)
    n: int = field(default=0, init=False)

    def update(self, successes: int, n: int) -> Decision:
        """Record cumulative ``successes`` out of ``n`` and return the decision so far."""
        self.successes, self.n = int(successes), int(n)
        return self.decision()

    def decision(self) -> Decision:
        if self.n < self.min_samples:
            return "undecided"
        threshold = math.log(1.0 / (1.0 - self.confidence))
        if log_mixture_martingale(self.successes, self.n, self.floor) < threshold:
            return "undecided"
        above = self.successes / self.n > self.floor
        if self.kind == "floor":
            return "passed" if above else "failed"
        return "failed" if above else "passed"
