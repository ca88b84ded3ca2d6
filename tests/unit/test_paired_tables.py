"""The tables a relative floor's ``required_n`` sums over (pytest_mlguard/_verdicts/paired.py), computed
without the whole grid of counts, equal those of the whole grid to the last bit; drawn tables judged once
each equal every drawn table judged. A merge recomputes ``required_n`` and must name the unsharded run's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln, xlogy
from scipy.stats import binom

from pytest_mlguard._verdicts import paired


def grid_tables(cells, n, tail):
    """Every table of the three cells' ranges on the whole grid, as the formula reads (the reference)."""
    p = np.asarray(cells, dtype=np.float64)
    p = p / p.sum()
    ranges = []
    for q in p[:3]:
        low, high = (0, n) if tail <= 0 else (int(binom.ppf(tail, n, q)), int(binom.isf(tail, n, q)) + 1)
        ranges.append(np.arange(max(low, 0), min(max(high, 0), n) + 1))
    a, b, c = np.meshgrid(*ranges, indexing="ij", sparse=True)
    d = n - a - b - c
    log = (gammaln(n + 1) - gammaln(a + 1.0) - gammaln(b + 1.0) - gammaln(c + 1.0)) + (xlogy(a, p[0]) + xlogy(b, p[1]) + xlogy(c, p[2]))
    with np.errstate(invalid="ignore"):
        log = log - gammaln(np.maximum(d, 0) + 1.0) + xlogy(d, p[3])
    keep = (d >= 0) & (log > (-np.inf if tail <= 0 else math.log(1e-15)))
    return (*(np.broadcast_to(x, keep.shape)[keep] for x in (a, b, c, d)), np.exp(log[keep]))


@pytest.mark.parametrize("cells", [(5, 1, 1, 3), (153, 147, 0, 0), (3, 6, 0, 1), (0, 4, 4, 2), (250, 40, 5, 5), (1, 0, 0, 0), (40, 0, 30, 0)])
@pytest.mark.parametrize(("n", "tail"), [(n, tail) for n in (1, 2, 7, 40, 300) for tail in (0.0, 1e-8) if n < 300 or tail])  # 300 pairs' whole grid: 27 M tables
def test_the_tables_are_those_of_the_whole_grid_to_the_last_bit(cells, n, tail):
    got, expected = paired._tables(cells, n, tail), grid_tables(cells, n, tail)
    assert len(got) == len(expected) == 5
    for mine, theirs in zip(got, expected):
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)


@pytest.mark.parametrize("cells", [(153, 147, 0, 0), (250, 40, 5, 5), (3, 6, 0, 1)])
@pytest.mark.parametrize("n", [5, 64, 3000])
def test_drawn_tables_judged_once_each_give_the_share_of_every_table_judged(cells, n):
    weights = np.asarray(cells, dtype=np.float64)
    every = np.random.default_rng(n).multinomial(n, weights / weights.sum(), paired.DRAWN_TABLES).T
    expected = paired._relative_decided((*every, np.full(paired.DRAWN_TABLES, 1.0 / paired.DRAWN_TABLES)), n, 0.5, 0.99, "clopper-pearson")
    assert paired._drawn_decided(weights, n, 0.5, 0.99, "clopper-pearson") == expected


@pytest.mark.parametrize("confidence", [0.95, 0.9989361702127659])
@pytest.mark.parametrize("n", [1, 9, 300, 42496])
def test_the_clopper_pearson_ends_computed_in_one_call_are_those_of_each_end(confidence, n):
    from scipy.stats import beta

    from pytest_mlguard._verdicts.intervals import binomial_bounds

    k = np.unique(np.linspace(0, n, 50).round())
    alpha = 1 - confidence
    expected_low = np.where(k == 0, 0.0, beta.ppf(alpha / 2, np.maximum(k, 1), n - k + 1))
    expected_high = np.where(k == n, 1.0, beta.ppf(1 - alpha / 2, k + 1, np.maximum(n - k, 1)))
    low, high = binomial_bounds(k, n, confidence)
    assert np.array_equal(low, expected_low) and np.array_equal(high, expected_high)
    assert [float(x) for x in binomial_bounds(k[1], n, confidence)] == [expected_low[1], expected_high[1]]  # a single count


def test_the_bounds_kept_from_other_tables_of_the_same_n_give_the_same_intervals():
    """A search for n of one check keeps the binomial bounds of the counts it met; another check's tables
    of the same n use them and compute the others."""
    first, second = paired._tables((153, 147, 0, 0), 200), paired._tables((250, 40, 5, 5), 200)
    paired._BOUNDS.clear()
    alone = paired.paired_bounds(*second[:4], confidence=0.99, weight=0.7)
    paired._BOUNDS.clear()
    paired.paired_bounds(*first[:4], confidence=0.99, weight=0.7)  # keeps some of the counts the second meets
    after = paired.paired_bounds(*second[:4], confidence=0.99, weight=0.7)
    assert all(np.array_equal(x, y) for x, y in zip(alone, after))
    lows, _ = paired._BOUNDS[(200, 0.99, "clopper-pearson")]
    assert 0 < np.count_nonzero(~np.isnan(lows)) < 201  # only the counts met
