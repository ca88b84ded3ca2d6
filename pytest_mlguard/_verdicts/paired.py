"""Two models measured on the same samples: their per-sample outcomes, paired, and whether one regressed.

The model-version gate reruns a candidate's checks on the model in production, on the same samples
with the same random draws. A proportion metric (accuracy, accuracy under a corruption, robust
accuracy) of the two is then a pair of correlated proportions, and the change is judged with the
paired interval of Newcombe (1998, method 10; :func:`~pytest_mlguard._verdicts.intervals.paired_interval`):
only the samples on which the two models differ move it (McNemar's setting). Two independent
intervals, one a model, ignore that correlation: they are about as wide as the sum of both and
decide far less often.

A check keeps its per-sample outcomes for such a comparison with :func:`keep_outcomes` (in its
evaluation's memo, by check id, with the positions of the samples in the check's own order: a check
that stopped early or drew more samples saw some of them only); :func:`kept_outcomes` reads them
back, and :func:`paired_regression` decides a change against a tolerance.

Example:
    >>> rng = np.random.default_rng(0)
    >>> baseline = rng.random(360) < 0.9
    >>> candidate = baseline & (rng.random(360) > 0.1)  # loses a tenth of the samples it got right
    >>> out = paired_regression(baseline, candidate, tolerance=0.02)
    >>> out["decision"], round(out["change"], 3)
    ('regressed', -0.069)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from .intervals import IntervalMethod

#: per-sample outcomes of a check: the positions of its samples in the check's order, and the outcomes
Outcomes = tuple[np.ndarray, np.ndarray]

_MEMO_KEY = ("paired", "per-sample-outcomes")


def keep_outcomes(evaluation: Any, check_id: str, outcomes: Any, positions: Any = None) -> None:
    """Keep the per-sample outcomes (booleans: the sample counts) of ``check_id`` in ``evaluation``
    (anything with ``memo(key, compute)``), at ``positions`` in the check's order of samples
    (default: the first ``len(outcomes)``). A later run of the same check replaces them."""
    values = np.asarray(outcomes, dtype=bool)
    where = np.arange(len(values)) if positions is None else np.asarray(positions, dtype=np.int64)
    if where.shape != values.shape:
        raise ValueError(f"expected one position per outcome, got {where.shape} positions and {values.shape} outcomes")
    evaluation.memo(_MEMO_KEY, dict)[check_id] = (where, values)


def kept_outcomes(evaluation: Any, check_id: str) -> Outcomes | None:
    """What :func:`keep_outcomes` kept for ``check_id`` in ``evaluation``, or ``None``."""
    kept: dict[str, Outcomes] = evaluation.memo(_MEMO_KEY, dict)
    return kept.get(check_id)


def paired_samples(first: Outcomes, second: Outcomes) -> tuple[np.ndarray, np.ndarray]:
    """The outcomes of the samples at the positions both saw, in the order of those positions.

    Example:
        >>> a = (np.array([0, 1, 2]), np.array([True, False, True]))
        >>> b = (np.array([2, 0]), np.array([False, True]))
        >>> [x.tolist() for x in paired_samples(a, b)]
        [[True, True], [True, False]]
    """
    _, in_first, in_second = np.intersect1d(first[0], second[0], assume_unique=True, return_indices=True)
    return first[1][in_first], second[1][in_second]


def paired_regression(
    baseline: Any,
    candidate: Any,
    *,
    tolerance: float,
    kind: Literal["floor", "ceiling"] = "floor",
    confidence: float = 0.95,
    method: Literal["clopper-pearson", "wilson"] = "clopper-pearson",
) -> dict[str, Any]:
    """Did the candidate's proportion regress from the baseline's by more than ``tolerance``?

    ``baseline`` and ``candidate`` are per-sample booleans of the same samples. A floor metric
    regresses when it falls, a ceiling metric when it rises. Returns ``change`` (candidate minus
    baseline), ``interval`` (its paired interval at ``confidence``), ``n``, ``pairs`` (both, only the
    baseline, only the candidate, neither) and ``decision``: ``regressed`` (the whole interval lies
    beyond the tolerance), ``within`` (none of it does) or ``inconclusive``.
    """
    from .intervals import paired_counts, paired_interval_counts

    pairs = paired_counts(baseline, candidate)
    low, high = paired_interval_counts(*pairs, confidence=confidence, method=method)
    n = sum(pairs)
    change = (pairs[2] - pairs[1]) / n
    # the regression (how much worse) is -change for a floor metric, +change for a ceiling one
    regressed, within = judge(low, high, tolerance, kind)
    decision = "regressed" if regressed else "within" if within else "inconclusive"
    return {"change": change, "interval": (low, high), "n": n, "pairs": list(pairs), "decision": decision}


def judge(low: Any, high: Any, tolerance: float, kind: str) -> tuple[Any, Any]:
    """Whether the paired interval ``(low, high)`` of a change (candidate minus baseline) decides a
    regression beyond ``tolerance`` (``regressed``), decides none (``within``), for a ``floor`` metric
    (it regresses when it falls) or a ``ceiling`` one; scalars or arrays."""
    worst, best = (-np.asarray(low), -np.asarray(high)) if kind == "floor" else (np.asarray(high), np.asarray(low))
    return best > tolerance, worst <= tolerance


#: tables whose cells fall this far into a binomial tail are left out of the sums below
_TAIL = 1e-8
#: the tables one sample size sums over, at most (more: the probabilities are not computed)
_MOST_TABLES = 4_000_000


class TableBudget:
    """How many more tables the sums of :func:`regression_probabilities` may go through: a bound on the
    work of a search for a sample size (about a second for each few million on one core)."""

    def __init__(self, tables: int = 8_000_000) -> None:
        self.left = tables

    def take(self, tables: int) -> bool:
        """Spend ``tables``; ``False`` (and nothing spent) when fewer are left."""
        if tables > self.left:
            return False
        self.left -= tables
        return True


def _tables(cells: Any, n: int, tail: float = _TAIL, budget: TableBudget | None = None) -> tuple[np.ndarray, ...] | None:
    """The tables ``(both, only baseline, only candidate, neither)`` of ``n`` samples drawn with the
    probabilities ``cells``, and their probabilities: every table, or (``tail`` > 0) those whose first
    three cells lie within their binomials' ``tail`` quantiles (they miss less than 6 * ``tail``) and
    whose probability is above 1e-15. ``None`` when there are more than :data:`_MOST_TABLES`, or
    more than ``budget`` has left (counted over every combination of the three ranges)."""
    from scipy.special import gammaln, xlogy
    from scipy.stats import binom

    p = np.asarray(cells, dtype=np.float64)
    p = p / p.sum()
    # the three cells' tail quantiles in one call each (scipy's per-call work outweighs three values)
    lows, highs = ([0] * 3, [n] * 3) if tail <= 0 else (binom.ppf(tail, n, p[:3]).astype(int), binom.isf(tail, n, p[:3]).astype(int) + 1)
    ranges = [np.arange(max(low, 0), min(max(high, 0), n) + 1) for low, high in zip(lows, highs)]
    size = int(np.prod([len(r) for r in ranges], dtype=np.float64))
    if size > _MOST_TABLES or (budget is not None and not budget.take(size)):
        return None
    a, b, c, d = _within(ranges, n, zero_fourth=p[3] == 0)
    # each term from a table of its cell's counts (the same values, not computed for every table), summed in
    # the order of the full formula (gammaln(n + 1) - gammaln(a + 1) - ... + xlogy(d, p[3])): the same bits
    log = (gammaln(n + 1) - _term(gammaln, ranges[0], a) - _term(gammaln, ranges[1], b) - _term(gammaln, ranges[2], c)) + (
        _term(xlogy, ranges[0], a, p[0]) + _term(xlogy, ranges[1], b, p[1]) + _term(xlogy, ranges[2], c, p[2])
    )
    counts = np.arange(n + 1)
    log = log - _term(gammaln, counts, d) + _term(xlogy, counts, d, p[3])
    keep = log > (-np.inf if tail <= 0 else math.log(1e-15))
    return a[keep], b[keep], c[keep], d[keep], np.exp(log[keep])


def _within(ranges: list[np.ndarray], n: int, *, zero_fourth: bool) -> tuple[np.ndarray, ...]:
    """The tables ``(a, b, c, d = n - a - b - c)`` of the three ``ranges`` (consecutive counts) with
    ``d >= 0`` (``d == 0`` where the fourth cell's probability is 0: any other d has probability 0), in
    the order of their grid (``a``, then ``b``, then ``c``, ascending)."""
    a, b = (x.ravel() for x in np.meshgrid(ranges[0], ranges[1], indexing="ij"))
    first, last = int(ranges[2][0]), int(ranges[2][-1])
    high = np.minimum(last, n - a - b)  # d >= 0
    low = np.maximum(first, high) if zero_fourth else np.full_like(high, first)
    lengths = np.maximum(high - low + 1, 0)
    starts = np.cumsum(lengths) - lengths
    c = np.repeat(low, lengths) + (np.arange(int(lengths.sum())) - np.repeat(starts, lengths))
    a, b = np.repeat(a, lengths), np.repeat(b, lengths)
    return a, b, c, n - a - b - c


def _term(function: Any, counts: np.ndarray, at: np.ndarray, *args: float) -> np.ndarray:
    """``function(count + 1.0)`` (gammaln) or ``function(count, p)`` (xlogy) of each count in ``at``, computed
    once for each of ``counts`` (consecutive, from ``counts[0]``)."""
    values = function(counts + 1.0) if not args else function(counts.astype(np.float64), *args)
    return values[at - counts[0]]


#: the binomial bounds computed for each (n, confidence, method) of n up to ``_BOUNDS_MOST_N``, the latest
#: ``_BOUNDS_KEPT`` (NaN: not computed): at most 5 MB
_BOUNDS: OrderedDict[tuple[int, float, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
_BOUNDS_MOST_N, _BOUNDS_KEPT = 5000, 64


def paired_bounds(
    a: Any, b: Any, c: Any, d: Any, confidence: float = 0.95, method: IntervalMethod = "clopper-pearson", weight: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~pytest_mlguard._verdicts.intervals.paired_interval_counts` of many tables of the same n at
    once (arrays of their cells), without checks."""
    from .intervals import binomial_bounds

    a, b, c, d = (np.asarray(x, dtype=np.float64) for x in (a, b, c, d))
    n = int(a[0] + b[0] + c[0] + d[0])
    first, second = (a + b).astype(np.int64), (a + c).astype(np.int64)
    counts = np.flatnonzero(np.bincount(np.concatenate([first, second]), minlength=n + 1))  # the bounds of the counts that occur, not of all n + 1
    lows, highs = _BOUNDS.get((n, confidence, method)) or (np.full(n + 1, np.nan), np.full(n + 1, np.nan))
    missing = counts[np.isnan(lows[counts])]
    if len(missing):
        lows[missing], highs[missing] = binomial_bounds(missing, n, confidence, method)
    if n <= _BOUNDS_MOST_N:  # the searches for n of several checks go through the same n: their bounds are kept
        _BOUNDS[(n, confidence, method)] = lows, highs
        _BOUNDS.move_to_end((n, confidence, method))
        while len(_BOUNDS) > _BOUNDS_KEPT:
            _BOUNDS.popitem(last=False)
    p1, p2 = first / n, second / n
    cross = a * d - b * c
    cross = np.where(cross > 0, np.maximum(cross - n / 2, 0.0), cross)
    spread = (a + b) * (c + d) * (a + c) * (b + d)
    phi = np.where(spread > 0, cross / np.sqrt(np.where(spread > 0, spread, 1.0)), 0.0)
    down_2, up_1, up_2, down_1 = p2 - lows[second], weight * (highs[first] - p1), highs[second] - p2, weight * (p1 - lows[first])
    low = (p2 - weight * p1) - np.sqrt(np.maximum(0.0, down_2**2 + up_1**2 - 2 * phi * down_2 * up_1))
    high = (p2 - weight * p1) + np.sqrt(np.maximum(0.0, up_2**2 + down_1**2 - 2 * phi * up_2 * down_1))
    return low, high


def regression_probabilities(
    cells: Any,
    n: int,
    *,
    tolerance: float,
    kind: str = "floor",
    confidence: float = 0.95,
    method: IntervalMethod = "clopper-pearson",
    tail: float = _TAIL,
    budget: TableBudget | None = None,
) -> tuple[float, float] | None:
    """The probabilities that :func:`paired_regression` of ``n`` fresh samples decides ``regressed`` and
    ``within``, when the pairs fall in the four cells (both, only the baseline, only the candidate,
    neither) with the probabilities ``cells``: summed over every table of ``n`` samples (``tail`` 0) or
    every one but those in far binomial tails. ``None`` when that is too many tables to sum (or more
    than ``budget`` has left)."""
    tables = _tables(cells, n, tail, budget)
    if tables is None:
        return None
    a, b, c, d, probability = tables
    regressed, within = judge(*paired_bounds(a, b, c, d, confidence=confidence, method=method), tolerance, kind)
    return float(probability[regressed].sum()), float(probability[within].sum())


def smallest_deciding_n(decides: Callable[[int], float | None], probability: float = 0.8, limit: int = 100_000) -> int | None:
    """The smallest n with ``decides(n) >= probability``, n up to ``limit``; ``None`` when none reaches
    it or ``decides`` cannot say (returns ``None``).

    The probability steps with n (the counts are whole) around a rising trend, so a bisection could
    miss the first n: doubling finds a power of two that reaches it; from a quarter of that, a coarse
    pass (every 1/32nd of it) finds where it comes within 0.03 of it, and from the coarse point before, every
    n is scanned (every n below 64).
    """
    size = 1
    while True:
        reached = decides(min(size, limit))
        if reached is None or (reached < probability and size >= limit):
            return None
        if reached >= probability:
            size = min(size, limit)
            break
        size *= 2
    start, step = (1, 1) if size <= 64 else (size // 4, size // 32)
    for n in range(start, size + 1, step):
        near = decides(n)
        if near is None:
            return None
        if near >= probability - 0.03:
            break
        start = n
    for n in range(start, min(size, limit) + 1):
        reached = decides(n)
        if reached is None:
            return None
        if reached >= probability:
            return n
    return None


def paired_required_n(
    pairs: Any,
    *,
    tolerance: float,
    kind: str = "floor",
    confidence: float = 0.95,
    method: IntervalMethod = "clopper-pearson",
    probability: float = 0.8,
    limit: int = 100_000,
) -> int | None:
    """The smallest n at which :func:`paired_regression` is decided (``regressed`` or ``within``) with at
    least ``probability`` if the pairs fall in their cells as often as in ``pairs`` (the counts of this
    run); ``None`` when no n up to ``limit`` does, or the search would go through more tables than a
    :class:`TableBudget` allows (the n is then not known).

    Example:
        >>> paired_required_n([300, 20, 2, 38], tolerance=0.02)  # a drop of 0.05 beyond a tolerance of 0.02
        500
    """
    cells, budget = np.asarray(pairs, dtype=np.float64), TableBudget()

    def decides(n: int) -> float | None:
        out = regression_probabilities(cells, n, tolerance=tolerance, kind=kind, confidence=confidence, method=method, budget=budget)
        return None if out is None else sum(out)

    return smallest_deciding_n(decides, probability, limit)


#: tables drawn at each n where :func:`relative_required_n` cannot sum them all
DRAWN_TABLES = 20_000


def _relative_decided(tables: tuple[np.ndarray, ...], n: int, factor: float, confidence: float, method: IntervalMethod) -> float:
    """The probability of the tables ``(a, b, c, d, chance)`` of n pairs whose relative-floor verdict is decided."""
    a, b, c, d, chance = tables
    return float(chance[_decided(a, b, c, d, n, factor, confidence, method)].sum())


def _decided(a: Any, b: Any, c: Any, d: Any, n: int, factor: float, confidence: float, method: IntervalMethod) -> np.ndarray:
    """Whether the relative-floor verdict of each table of n pairs is decided (a function of each table alone)."""
    low, high = paired_bounds(a, b, c, d, confidence=confidence, method=method, weight=factor)
    threshold = np.round(factor * (a + b) / n, 12)
    return (np.maximum(0.0, threshold + low) >= threshold) | (np.minimum(1.0, threshold + high) < threshold)


def _drawn_decided(cells: np.ndarray, n: int, factor: float, confidence: float, method: IntervalMethod) -> float:
    """The share of :data:`DRAWN_TABLES` tables of n pairs, drawn with the seed n, whose verdict is decided.

    Drawn tables repeat (where n is small, or a cell is empty): each distinct table is judged once
    (:func:`_distinct`), and the share summed as over every drawn table (the same value to the last bit:
    one ``1 / DRAWN_TABLES`` for each table decided)."""
    drawn = np.random.default_rng(n).multinomial(n, cells / cells.sum(), DRAWN_TABLES)
    tables = np.ascontiguousarray(drawn.T)  # each cell's counts in a row of their own (the drawn rows are tables)
    found = _distinct(tables, n)
    distinct, inverse = found if found is not None else (tables, None)
    decided = _decided(distinct[0], distinct[1], distinct[2], distinct[3], n, factor, confidence, method)
    if inverse is not None:
        decided = decided[inverse]
    return float(np.full(DRAWN_TABLES, 1.0 / DRAWN_TABLES)[decided].sum())


def _distinct(tables: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct tables among ``tables`` (4 rows of counts of n pairs) and the place of each table
    among them, counted on the grid of the three cells with the narrowest ranges (the fourth is n less
    their sum); ``None`` where that grid is over 8 times as large as the tables (they seldom repeat)."""
    low = tables.min(axis=1)
    width = tables.max(axis=1) - low + 1
    dropped = int(np.argmax(width))
    kept = [cell for cell in range(4) if cell != dropped]
    size = math.prod(int(width[cell]) for cell in kept)
    if size > 8 * tables.shape[1]:
        return None
    key = np.zeros(tables.shape[1], dtype=np.int64)
    for cell in kept:
        key = key * width[cell] + (tables[cell] - low[cell])
    present = np.bincount(key, minlength=size)
    keys = np.flatnonzero(present)
    distinct = np.empty((4, len(keys)), dtype=tables.dtype)
    rest = keys
    for cell in reversed(kept):
        distinct[cell], rest = rest % width[cell] + low[cell], rest // width[cell]
    distinct[dropped] = n - distinct[kept].sum(axis=0)
    return distinct, (np.cumsum(present > 0) - 1)[key]


def relative_required_n(
    pairs: Any,
    *,
    factor: float,
    confidence: float = 0.95,
    method: IntervalMethod = "clopper-pearson",
    probability: float = 0.8,
    limit: int = 100_000,
) -> int | None:
    """For a proportion against a relative floor ``factor*clean`` (the pairs of its clean and its own
    outcomes: both, only clean, only this one, neither): the smallest n at which a fresh run decides
    it with at least ``probability`` if the pairs fall in their cells as often as in ``pairs``.

    The run's verdict is that of its paired interval of ``value - factor * clean`` moved by the
    threshold ``factor * clean`` and kept in [0, 1] (as the check reports it): passed when its low end
    clears the threshold, failed when its high end misses it. The probability is summed over the
    tables of n pairs, as :func:`paired_required_n`, while they are few (a :class:`TableBudget` of
    1 M, about a second). Beyond (a check near its floor, which needs thousands of samples), it is
    that of :data:`DRAWN_TABLES` tables drawn with a seed of their own at each n (a standard error of
    0.003 at 0.8), and n is found by bisection to within 0.5%. ``None`` when no n up to ``limit`` does.

    Example:
        >>> relative_required_n([5, 1, 1, 3], factor=0.5)  # clean 0.6, this 0.6, against a floor of 0.3
        18
    """
    cells, budget = np.asarray(pairs, dtype=np.float64), TableBudget(1_000_000)
    summed = {"all": True}

    def exact(n: int) -> float | None:
        tables = _tables(cells, n, _TAIL, budget) if summed["all"] else None
        summed["all"] = tables is not None
        return None if tables is None else _relative_decided(tables, n, factor, confidence, method)

    found = smallest_deciding_n(exact, probability, limit)
    if found is not None or summed["all"]:
        return found

    def drawn(n: int) -> float:  # the same tables for every call at this n
        return _drawn_decided(cells, n, factor, confidence, method)

    low, high = 1, 64
    while drawn(min(high, limit)) < probability:
        if high >= limit:
            return None
        low, high = high, high * 2
    high = min(high, limit)
    while high - low > max(1, high // 200):
        middle = (low + high) // 2
        low, high = (low, middle) if drawn(middle) >= probability else (middle, high)
    return high
