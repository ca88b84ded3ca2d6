"""The sample size that would decide an inconclusive gate check, for its own paired statistic.

``gate[accuracy]`` (the largest drop of a class's accuracy) and ``gate[robustness]`` (the metrics that
regress beyond tolerance) get intervals built from paired intervals of the same samples
(:mod:`pytest_mlguard._verdicts.paired`), not binomial ones: the n that would decide them is computed
from the probabilities of the tables of pairs (:func:`~pytest_mlguard._verdicts.paired.regression_probabilities`),
not from the one-sample ``required_n``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..._verdicts.intervals import IntervalMethod


def class_drop_required_n(
    per_class: Mapping[str, Mapping[str, Any]],
    class_drop: float,
    confidence: float = 0.95,
    method: IntervalMethod = "clopper-pearson",
    *,
    probability: float = 0.8,
) -> int | None:
    """For an undecided ``gate[accuracy]``: the smallest number of samples at which a fresh comparison
    decides the largest class drop against ``class_drop`` with at least ``probability``, if the classes
    keep their shares of the samples and each class's pairs fall as often as in ``per_class``
    (:func:`~pytest_mlguard.production.gate.compare.compare_models`' ``per_class``).

    As :func:`~pytest_mlguard.production.gate.compare.class_drop_interval` draws it, it passes when every
    class's paired interval of its drop lies within ``class_drop`` and fails when one lies beyond: the
    classes are disjoint samples, so the probability is exact, the product of the classes' chances to
    be ``within`` plus one less the product of their chances not to be decided ``regressed``.
    ``None`` when no n up to 100,000 is found, or the search would sum more tables than a
    :class:`~pytest_mlguard._verdicts.paired.TableBudget` allows.

    Example:
        >>> class_drop_required_n({"a": {"pairs": [40, 8, 0, 2]}, "b": {"pairs": [45, 0, 0, 5]}}, 0.05)  # a drops 0.16
        210
    """
    from ..._verdicts.paired import TableBudget, regression_probabilities, smallest_deciding_n

    pairs = [entry["pairs"] for entry in per_class.values() if sum(entry["pairs"]) > 0]
    if not pairs:
        return None
    share, budget = 1 - (1 - confidence) / len(pairs), TableBudget()
    sizes = [sum(counts) for counts in pairs]
    total = sum(sizes)

    def decides(n: int) -> float | None:
        chances = [
            regression_probabilities(counts, max(1, round(n * size / total)), tolerance=class_drop, kind="floor", confidence=share, method=method, budget=budget)
            for counts, size in zip(pairs, sizes)
        ]
        known = [chance for chance in chances if chance is not None]
        if len(known) < len(chances):
            return None
        return math.prod(within for _, within in known) + 1 - math.prod(1 - regressed for regressed, _ in known)

    return smallest_deciding_n(decides, probability)


def robustness_required_n(robustness: Mapping[str, Any], method: IntervalMethod = "clopper-pearson", *, probability: float = 0.8) -> int | None:
    """For an undecided ``gate[robustness]`` (no regression decided, one or more inconclusive): the n of
    paired samples per metric at which a fresh comparison decides with at least ``probability`` if the
    pairs of every metric fall as often as in this one (:func:`compare_results`' ``robustness``).

    It is decided when a metric's regression is decided or every metric is ``within``. With one paired
    metric that probability is computed exactly (over every table of n pairs,
    :func:`~pytest_mlguard._verdicts.paired.regression_probabilities`). Several share their samples, and
    how their outcomes go together is not known: the probability is then bounded below (the largest
    of their chances to decide a regression, plus one less the sum of their chances not to be
    ``within``), so the n named decides at least that often, and may be more than the smallest that
    does. The metrics without per-sample outcomes and the score, judged by their estimates, are taken
    as they came. ``None`` when the metrics saw different numbers of samples, or no n up to 100,000 is
    found, or the search would sum more tables than a
    :class:`~pytest_mlguard._verdicts.paired.TableBudget` allows.
    """
    from ..._verdicts.paired import TableBudget, regression_probabilities, smallest_deciding_n

    rows = [m for m in robustness["metrics"] if m.get("pairs")]
    if robustness["decided"] or not robustness["inconclusive"] or len({m["paired_n"] for m in rows}) != 1:
        return None
    share, budget = robustness["confidence"], TableBudget()

    def decides(n: int) -> float | None:
        chances = [regression_probabilities(m["pairs"], n, tolerance=m["tolerance"], kind=m["kind"], confidence=share, method=method, budget=budget) for m in rows]
        if any(chance is None for chance in chances):
            return None
        known = [chance for chance in chances if chance is not None]
        return max(regressed for regressed, _ in known) + max(0.0, 1 - sum(1 - within for _, within in known))

    return smallest_deciding_n(decides, probability)
