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
from typing import Any, Literal

#: a check that may stop early looks at its verdict about this many times ...
LOOKS = 12
#: ... at least this many samples apart
MIN_LOOK = 20


def look_size(n: int) -> int:
    """Samples between looks at the verdict of a check of ``n`` samples."""
    return max(MIN_LOOK, math.ceil(n / LOOKS))

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


def confidence_sequence(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The interval of proportions the mixture test has not rejected after ``successes`` of ``n``.

    Valid after optional stopping: an interval reported when a sequential check stopped early.

    Example:
        >>> low, high = confidence_sequence(45, 50)
        >>> round(low, 3), round(high, 3)
        (0.712, 0.984)
    """
    from scipy.optimize import brentq

    if n < 1:
        raise ValueError(f"expected n >= 1 samples, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"expected 0 <= successes <= n, got successes={successes}, n={n}")
    level = math.log(1.0 / (1.0 - confidence))
    estimate = successes / n

    def excess(p: float) -> float:
        return log_mixture_martingale(successes, n, p) - level

    tiny = 1e-12
    low = 0.0 if excess(tiny) < 0 else brentq(excess, tiny, max(estimate, tiny), xtol=1e-9)
    high = 1.0 if excess(1 - tiny) < 0 else brentq(excess, min(estimate, 1 - tiny), 1 - tiny, xtol=1e-9)
    return float(low), float(high)


class EarlyStop:
    """Whether a floor (or ceiling) check on a proportion may stop after the samples seen so far.

    Args:
        mode: ``sequential`` (stop once the confidence sequence excludes the threshold), ``exact``
            (stop once no remaining sample could change the verdict of all ``total`` samples) or ``off``.
        threshold: the floor or ceiling of the proportion.
        total: the samples the check would evaluate without stopping.

    The samples must come in an order unrelated to their outcomes (the evaluation's data are a
    seeded random permutation), or ``sequential`` loses its error guarantee.

    Example:
        >>> stop = EarlyStop("exact", threshold=0.5, total=10)
        >>> stop.update(successes=5, n=5)
        True
        >>> stop.decision
        'passed'
    """

    def __init__(
        self, mode: str, threshold: float, total: int, *, kind: Literal["floor", "ceiling"] = "floor", confidence: float = 0.95
    ) -> None:
        self.mode, self.threshold, self.total, self.kind = mode, threshold, total, kind
        self.confidence = confidence
        self._test = SequentialFloorTest(threshold, confidence, kind)
        self.successes = self.n = self.known_failures = 0
        self.decision: Decision = "undecided"

    def update(self, successes: int, n: int, *, known_failures: int = 0) -> bool:
        """Record cumulative ``successes`` of ``n``; return whether the check may stop now.

        ``known_failures``: samples not yet looked at that are known to fail (``exact`` only: a
        misclassified sample cannot be robust).
        """
        self.successes, self.n, self.known_failures = int(successes), int(n), int(known_failures)
        if self.mode == "sequential" and n < self.total:
            self.decision = self._test.update(successes, n)
        elif self.mode == "exact":
            self.decision = self._exact()
        return self.decision != "undecided" and n < self.total

    def _exact(self) -> Decision:
        best = (self.successes + self.total - self.n - self.known_failures) / self.total  # every open sample succeeds
        worst = self.successes / self.total  # every remaining sample fails
        if self.kind == "floor":
            return "passed" if worst >= self.threshold else "failed" if best < self.threshold else "undecided"
        return "passed" if best <= self.threshold else "failed" if worst > self.threshold else "undecided"

    @property
    def stopped(self) -> bool:
        return self.decision != "undecided" and self.n < self.total

    def value_and_interval(self) -> tuple[float, tuple[float, float] | None, str | None]:
        """The reported value, its interval and the interval's method, once the check is over.

        A sequential stop reports the estimate with its confidence sequence (valid after stopping);
        an exact stop the bound that decided the full run's verdict, with no interval; otherwise the
        caller's fixed-sample interval applies (``None``).
        """
        estimate = self.successes / max(1, self.n)
        if not self.stopped:
            return estimate, None, None
        if self.mode == "sequential":
            return estimate, confidence_sequence(self.successes, self.n, self.confidence), "confidence-sequence"
        if (self.decision == "passed") == (self.kind == "floor"):
            return self.successes / self.total, None, None
        return (self.successes + self.total - self.n - self.known_failures) / self.total, None, None

    def details(self, evaluations: int) -> dict[str, Any]:
        """What the report says of the stop: samples used and skipped, model evaluations saved."""
        per_sample = evaluations / max(1, self.n)
        skipped = self.total - self.n
        return {
            "mode": self.mode,
            "stopped": self.stopped,
            "decision": self.decision,
            "samples_used": self.n,
            "samples_skipped": skipped,
            "evaluations_saved": int(round(per_sample * skipped)) if self.stopped else 0,
        }


def drawn_more(outcomes: Any, details: dict[str, Any], test: SequentialFloorTest | None, samples: int, what: str = "floor") -> dict[str, Any]:
    """What a proportion check that drew more samples (``verdict.more_samples``, the evaluation's
    ``draw_more``) reports beside its value: the confidence sequence of all its ``outcomes`` at the
    test's confidence as its interval, and a line saying how many it drew beyond the ``samples`` of
    the setting; nothing (``{}``) when the fixed-n interval of those decided (``test`` is ``None``).
    Fields of a ``Measurement``, for ``dataclasses.replace``.

    Example:
        >>> test = SequentialFloorTest(0.5, 0.95, min_samples=0)
        >>> out = drawn_more([True] * 90 + [False] * 10, {"drawn": 60}, test, samples=40)
        >>> out["interval_method"], out["message"]
        ('confidence-sequence', "drew 60 more samples than the 40 of 'samples': the interval on those straddled the floor")
    """
    if test is None:
        return {}
    successes, n = int(sum(bool(v) for v in outcomes)), len(outcomes)
    return {
        "interval": confidence_sequence(successes, n, test.confidence),
        "interval_method": "confidence-sequence",
        "message": f"drew {details['drawn']} more samples than the {samples} of 'samples': the interval on those straddled the {what}",
    }


def product_confidence_sequence(counts: list[tuple[int, int]], confidence: float = 0.95) -> tuple[float, float]:
    """The proportions that the product of independent mixture martingales has not rejected.

    Each ``(successes, n)`` is one shard's count when it stopped (early, on its own share, or at its
    end). The shards' samples are disjoint and their stopping times their own, so the product of their
    martingales at ``p`` is an e-value under ``p`` (its expectation is at most 1), and by Markov's
    inequality the set ``{p : prod_i M_i(p) < 1/alpha}`` holds the true proportion with probability
    ``1 - alpha`` at least. One count gives :func:`confidence_sequence`. The product is smallest at the
    pooled estimate; where even there it reaches ``1/alpha`` (the shards disagree beyond chance, with
    probability alpha at most) the set is empty, and the estimate alone is returned.

    Example:
        >>> low, high = product_confidence_sequence([(45, 50)])
        >>> (round(low, 3), round(high, 3)) == tuple(round(v, 3) for v in confidence_sequence(45, 50))
        True
        >>> low, high = product_confidence_sequence([(45, 50), (44, 50), (47, 50)])
        >>> round(low, 3), round(high, 3)
        (0.773, 0.977)
        >>> product_confidence_sequence([(50, 50), (0, 50)])  # no common proportion
        (0.5, 0.5)
    """
    from scipy.optimize import brentq

    counts = [(int(s), int(n)) for s, n in counts if n > 0]
    if not counts:
        raise ValueError("expected at least one count with n >= 1")
    level = math.log(1.0 / (1.0 - confidence))
    estimate = sum(s for s, _ in counts) / sum(n for _, n in counts)

    def excess(p: float) -> float:
        return sum(log_mixture_martingale(s, n, p) for s, n in counts) - level

    tiny = 1e-12
    centre = min(max(estimate, tiny), 1 - tiny)
    if excess(centre) >= 0:  # no common proportion fits every shard at this level (a chance of alpha at most): the estimate alone
        return float(estimate), float(estimate)
    low = 0.0 if excess(tiny) < 0 else brentq(excess, tiny, centre, xtol=1e-9)
    high = 1.0 if excess(1 - tiny) < 0 else brentq(excess, centre, 1 - tiny, xtol=1e-9)
    return float(low), float(high)
