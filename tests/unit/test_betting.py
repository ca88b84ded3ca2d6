"""The betting interval of a bounded mean (Waudby-Smith and Ramdas 2024) against a plain loop over its
capital processes, its coverage on the distributions hardest for it, and the NLL check that uses it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_mlguard._verdicts.betting import TRUNCATION, betting_mean_interval


def rejected(values, m, confidence):
    """Whether the hedged capital process rejects the mean ``m`` of ``values`` in [0, 1], written as the
    paper states it, one value at a time: the bets from the mean and variance of the values before
    (one fake value at 1/2, variance 1/4), truncated to c/m and c/(1 - m); either capital at 2/alpha."""
    alpha, n = 1 - confidence, len(values)
    rises = falls = 1.0
    total, squares, seen = 0.5, 0.25, 1
    for x in values:
        bet = math.sqrt(2 * math.log(2 / alpha) / (n * max(squares / seen, 1e-12)))
        rises *= 1 + min(bet, TRUNCATION / m if m > 0 else math.inf) * (x - m)
        falls *= 1 - min(bet, TRUNCATION / (1 - m) if m < 1 else math.inf) * (x - m)
        if max(rises, falls) >= 2 / alpha:
            return True
        total, seen = total + x, seen + 1
        squares += (x - total / seen) ** 2
    return False


@pytest.mark.parametrize("seed, n, confidence", [(0, 40, 0.95), (1, 360, 0.95), (2, 360, 0.999), (3, 2000, 0.9)])
def test_the_interval_ends_where_the_plain_loop_starts_rejecting(seed, n, confidence):
    rng = np.random.default_rng(seed)
    values = np.where(rng.random(n) < 0.02, 1.0, rng.beta(1, 20, n))  # heavy right tail in [0, 1]
    low, high = betting_mean_interval(values, confidence)
    inside = 0.03 * (high - low)
    assert rejected(values, low, confidence) and rejected(values, high, confidence)
    assert not rejected(values, low + inside, confidence) and not rejected(values, high - inside, confidence)
    assert not rejected(values, values.mean(), confidence) and low < values.mean() < high


@pytest.mark.parametrize("p, n", [(0.01, 30), (0.05, 60), (0.3, 20), (0.5, 100), (0.97, 50)])
def test_the_interval_covers_two_point_means_at_its_level(p, n):
    """Values at the two bounds only, the distribution that is hardest for any interval of a bounded
    mean: the coverage holds at small n and near a bound, where a normal interval fails."""
    rng = np.random.default_rng(int(p * 1000) + n)
    runs = 400
    covered = sum(low <= p <= high for low, high in (betting_mean_interval(rng.random(n) < p) for _ in range(runs)))
    assert covered >= 0.95 * runs


def test_the_interval_is_in_the_units_of_the_bounds():
    values = np.random.default_rng(0).uniform(0, 3, 200)
    low, high = betting_mean_interval(values, bounds=(0.0, 3.0))
    scaled = betting_mean_interval(values / 3)
    assert (low, high) == pytest.approx((3 * scaled[0], 3 * scaled[1]), abs=1e-12)
    assert betting_mean_interval(values - 1, bounds=(-1.0, 2.0)) == pytest.approx((low - 1, high - 1), abs=1e-12)


@pytest.mark.parametrize(
    "values, kwargs, message",
    [
        ([], {}, "expected at least 1 value"),
        ([0.5], {"bounds": (1.0, 1.0)}, "bounds low < high"),
        ([0.5], {"confidence": 1.0}, r"expected a confidence in \(0, 1\)"),
        ([0.5, 1.5], {}, r"expected values within bounds=\(0.0, 1.0\), got values in \[0.5, 1.5\]"),
    ],
)
def test_invalid_arguments_say_what_was_expected(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        betting_mean_interval(values, **kwargs)


def test_the_nll_interval_does_not_depend_on_the_order_of_the_samples():
    """Sorted, then put in an order drawn from the check's seed: a merge of shards, whose samples come in
    another order, gets the interval of the unsharded run."""
    from pytest_mlguard._verdicts.mean_simulation import heavy_tailed_model
    from pytest_mlguard.calibration._run import nll_interval

    proba, labels = heavy_tailed_model(np.random.default_rng(0), 300, accuracy=0.8, share=0.01)
    order = np.random.default_rng(1).permutation(300)
    first = nll_interval(proba, labels, 0.95, rng=np.random.default_rng(2))
    assert nll_interval(proba[order], labels[order], 0.95, rng=np.random.default_rng(2)) == first



def test_the_nll_interval_is_none_where_a_probability_is_nan():
    from pytest_mlguard.calibration._run import nll_interval

    proba = np.array([[0.9, 0.1], [np.nan, np.nan], [0.2, 0.8]])
    assert nll_interval(proba, np.array([0, 1, 1]), 0.95, rng=np.random.default_rng(0)) is None
