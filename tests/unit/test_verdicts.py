"""Intervals against scipy's independent implementations; policies; required n; the sequential
test keeps its error rate under continuous peeking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from pytest_mlguard.verdicts.intervals import bootstrap_interval, clopper_pearson, wilson
from pytest_mlguard.verdicts.policy import decide, required_n
from pytest_mlguard.verdicts.sequential import SequentialFloorTest, log_mixture_martingale


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (45, 50), (50, 50), (352, 360), (1, 1000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_intervals_match_scipy(k, n, confidence):
    exact = binomtest(k, n).proportion_ci(confidence, method="exact")
    score = binomtest(k, n).proportion_ci(confidence, method="wilson")
    assert clopper_pearson(k, n, confidence) == pytest.approx((exact.low, exact.high), abs=1e-9)
    assert wilson(k, n, confidence) == pytest.approx((score.low, score.high), abs=1e-9)


def test_bootstrap_interval_covers_the_mean():
    values = np.random.default_rng(0).normal(0.3, 0.1, size=400)
    low, high = bootstrap_interval(lambda idx: float(values[idx].mean()), len(values), 0.95, rng=np.random.default_rng(1))
    assert low < values.mean() < high and high - low == pytest.approx(2 * 1.96 * 0.1 / 20, rel=0.2)


@pytest.mark.parametrize(
    "value, interval, policy, label, passed",
    [
        (0.9, (0.85, 0.95), "strict", "passed", True),
        (0.7, (0.65, 0.75), "lenient", "failed", False),
        (0.82, (0.75, 0.88), "strict", "inconclusive", False),
        (0.82, (0.75, 0.88), "estimate", "inconclusive", True),
        (0.78, (0.72, 0.84), "estimate", "inconclusive", False),
        (0.78, (0.72, 0.84), "lenient", "inconclusive", True),
        (float("nan"), None, "lenient", "failed", False),
    ],
)
def test_floor_policies(value, interval, policy, label, passed):
    verdict = decide(value, interval, threshold=0.8, kind="floor", policy=policy)
    assert (verdict.label, verdict.passed) == (label, passed)


def test_ceiling_policies():
    assert decide(0.05, (0.03, 0.07), threshold=0.1, kind="ceiling").label == "passed"
    assert decide(0.09, (0.06, 0.12), threshold=0.1, kind="ceiling", policy="strict") == decide(
        0.09, (0.06, 0.12), threshold=0.1, kind="ceiling", policy="strict"
    )
    assert not decide(0.09, (0.06, 0.12), threshold=0.1, kind="ceiling", policy="strict").passed


def test_required_n_decides_and_is_minimal():
    n = required_n(0.9, 0.8, 0.95)
    assert n is not None
    low, _ = wilson(round(0.9 * n), n)
    assert low > 0.8
    low_before, _ = wilson(round(0.9 * (n - 1)), n - 1)
    assert low_before <= 0.8 or round(0.9 * (n - 1)) / (n - 1) != 0.9
    assert required_n(0.8, 0.8) is None


def test_sequential_decides_far_from_the_floor_quickly():
    test = SequentialFloorTest(0.5, 0.95)
    assert test.update(58, 60) == "passed"
    assert SequentialFloorTest(0.9, 0.95).update(20, 60) == "failed"
    assert SequentialFloorTest(0.9, 0.95).update(55, 60) == "undecided"
    assert SequentialFloorTest(0.1, 0.95, kind="ceiling").update(0, 100) == "passed"


def test_mixture_martingale_closed_form():
    # n = 1, S = 1, uniform prior: M = B(2, 1) / B(1, 1) / p = 1 / (2 p)
    assert np.exp(log_mixture_martingale(1, 1, 0.25)) == pytest.approx(2.0)


@pytest.mark.parametrize("p", [0.5, 0.9])
def test_error_rate_holds_under_peeking_at_every_sample(p):
    """With the true proportion exactly at the floor, a wrong decision (either way) at any of 400
    looks happens in at most alpha of the runs; a fixed-n Wilson test peeked at each look would not."""
    rng = np.random.default_rng(0)
    runs, horizon, alpha = 400, 400, 0.05
    draws = rng.random((runs, horizon)) < p
    counts = draws.cumsum(axis=1)
    wrong_sequential = 0
    wrong_naive = 0
    for run in range(runs):
        test = SequentialFloorTest(p, 1 - alpha, min_samples=1)
        decided_naive = False
        for n in range(10, horizon + 1, 10):
            if test.update(int(counts[run, n - 1]), n) != "undecided":
                wrong_sequential += 1
                break
        for n in range(10, horizon + 1, 10):
            low, high = wilson(int(counts[run, n - 1]), n, 1 - alpha)
            if low > p or high < p:
                decided_naive = True
                break
        wrong_naive += decided_naive
    assert wrong_sequential / runs <= alpha
    assert wrong_naive / runs > alpha  # the reason for the confidence sequence
