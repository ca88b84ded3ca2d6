"""Intervals against scipy's independent implementations; policies; required n; the sequential
test keeps its error rate under continuous peeking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from pytest_mlguard._verdicts.intervals import bootstrap_interval, clopper_pearson, wilson
from pytest_mlguard._verdicts.policy import decide, required_n
from pytest_mlguard._verdicts.sequential import SequentialFloorTest, log_mixture_martingale


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (45, 50), (50, 50), (352, 360), (1, 1000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_intervals_match_scipy(k, n, confidence):
    exact = binomtest(k, n).proportion_ci(confidence, method="exact")
    score = binomtest(k, n).proportion_ci(confidence, method="wilson")
    assert clopper_pearson(k, n, confidence) == pytest.approx((exact.low, exact.high), abs=1e-9)
    assert wilson(k, n, confidence) == pytest.approx((score.low, score.high), abs=1e-9)


@pytest.mark.parametrize("n", [1, 7, 360, 1000])
def test_wilson_is_exact_at_the_ends(n):
    assert wilson(n, n)[1] == 1.0 and wilson(0, n)[0] == 0.0  # rounding gave 0.9999999999999999


def test_bootstrap_interval_covers_the_mean():
    values = np.random.default_rng(0).normal(0.3, 0.1, size=400)
    low, high = bootstrap_interval(lambda idx: float(values[idx].mean()), len(values), 0.95, rng=np.random.default_rng(1))
    assert low < values.mean() < high and high - low == pytest.approx(2 * 1.96 * 0.1 / 20, rel=0.2)


@pytest.mark.parametrize("n", [2, 7, 200, 1001])
def test_batched_bootstrap_draws_the_rows_that_one_draw_a_resample_draws(n):
    # all the resamples' indices in one call of Generator.integers are the rows of one call a resample (numpy
    # keeps the unused half of a 64-bit draw in the bit generator between calls), so a batched interval is the
    # unbatched one to the bit
    values = np.random.default_rng(0).random(n)
    seen: list[np.ndarray] = []
    one_at_a_time = bootstrap_interval(lambda idx: seen.append(idx) or float(values[idx].mean()), n, resamples=300, rng=np.random.default_rng(4))
    batched: list[np.ndarray] = []
    together = bootstrap_interval(lambda rows: batched.append(rows) or values[rows].mean(axis=1), n, resamples=300, rng=np.random.default_rng(4), batched=True)
    assert np.array_equal(batched[0], np.stack(seen)) and together == one_at_a_time


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


# -- confidence sequences and early stopping -------------------------------------------------------------

from pytest_mlguard._verdicts.sequential import EarlyStop, confidence_sequence  # noqa: E402


@pytest.mark.parametrize("k, n", [(0, 20), (7, 20), (45, 50), (300, 360), (360, 360)])
def test_confidence_sequence_is_what_the_sequential_test_has_not_rejected(k, n):
    low, high = confidence_sequence(k, n, 0.95)
    assert low <= k / n <= high and (low, high) != (0.0, 1.0)
    for p in np.linspace(0.01, 0.99, 99):
        inside = low <= p <= high
        test = SequentialFloorTest(floor=float(p), confidence=0.95, min_samples=1)
        assert (test.update(k, n) == "undecided") == inside or abs(p - low) < 1e-6 or abs(p - high) < 1e-6


def test_confidence_sequence_is_wider_than_the_fixed_n_interval():
    sequence, fixed = confidence_sequence(300, 360), wilson(300, 360)
    assert sequence[0] < fixed[0] and sequence[1] > fixed[1]


@pytest.mark.parametrize("kind", ["floor", "ceiling"])
def test_exact_early_stop_gives_the_full_run_verdict(kind):
    rng = np.random.default_rng(3)
    stops = 0
    for _ in range(300):
        total, threshold = int(rng.integers(20, 200)), float(rng.uniform(0.1, 0.9))
        outcomes = rng.random(total) < rng.uniform(0, 1)
        full = outcomes.mean() >= threshold if kind == "floor" else outcomes.mean() <= threshold
        stop = EarlyStop("exact", threshold, total, kind=kind)
        for n in range(1, total + 1):
            if stop.update(int(outcomes[:n].sum()), n):
                stops += 1
                assert (stop.decision == "passed") == full
                break
        value, interval, _ = stop.value_and_interval()
        assert interval is None and ((value >= threshold) if kind == "floor" else (value <= threshold)) == full
    assert stops > 100  # it does stop early, often


def test_sequential_early_stop_reports_the_confidence_sequence():
    stop = EarlyStop("sequential", 0.5, 1000)
    n = next(n for n in range(20, 1000, 20) if stop.update(int(0.9 * n), n))
    _value, interval, method = stop.value_and_interval()
    assert method == "confidence-sequence" and interval == confidence_sequence(int(0.9 * n), n) and interval[0] > 0.5
    assert stop.details(evaluations=n)["evaluations_saved"] == 1000 - n
    assert not EarlyStop("off", 0.5, 1000).update(900, 1000)


# -- verdicts of real checks ---------------------------------------------------------------------------------

import zoo  # noqa: E402

from pytest_mlguard.checks._base import CheckResult, Measurement, VerdictRules  # noqa: E402
from pytest_mlguard.checks._evaluation import Evaluation  # noqa: E402
from pytest_mlguard.checks._registry import all_keys, family  # noqa: E402
from pytest_mlguard.config._settings import resolve  # noqa: E402


def accuracy_result(samples, floor, **cli):
    settings = resolve(cli={"samples": str(samples), "accuracy.floor": str(floor), **cli}, environ={}, keys=all_keys())
    accuracy = family("accuracy")
    return Evaluation(zoo.good_model(), zoo.digits(), settings).run(accuracy, accuracy.spec(None, settings))


def test_floor_just_below_the_accuracy_is_inconclusive_at_50_and_decided_at_the_suggested_n():
    floor = 0.9  # the digits model's accuracy on all 360 test images is 0.978
    small = accuracy_result(50, floor, **{"verdict.more_samples": "off"})
    assert small.label == "inconclusive" and small.passed and small.interval[0] < floor <= small.value
    assert small.required_n is not None and 50 < small.required_n <= 360
    assert f"about n={small.required_n} samples would decide it" in small.verdict()
    large = accuracy_result(small.required_n, floor)
    assert large.label == "passed" and large.interval[0] > floor
    # by default the check draws more of the 360 images itself, until its confidence sequence decides
    drawn = accuracy_result(50, floor)
    assert drawn.label == "passed" and 50 < drawn.n <= 360 and drawn.interval_method == "confidence-sequence"


@pytest.mark.parametrize("policy", ["strict", "estimate", "lenient"])
def test_a_floor_of_one_is_a_requirement_on_every_sample_not_an_estimate(policy):
    """Determinism's floor of 1: every sample must match. No interval can lie wholly at 1, so a
    binomial interval would leave it inconclusive forever (and failed under strict)."""
    result = accuracy_result(360, 0.9, **{"verdict.policy": policy})
    spec = family("accuracy").spec(None, resolve(cli={"accuracy.floor": "1"}, environ={}, keys=all_keys()))
    every = CheckResult.from_measurement(spec, "m", Measurement(1.0, 360, successes=360), seed=0, duration_s=0.0, rules=VerdictRules(policy=policy))
    assert every.label == "passed" and every.passed and every.interval is None
    one_off = CheckResult.from_measurement(spec, "m", Measurement(359 / 360, 360, successes=359), seed=0, duration_s=0.0, rules=VerdictRules(policy=policy))
    assert one_off.label == "failed" and not one_off.passed
    assert result.interval is not None  # a floor below 1 keeps its interval


@pytest.mark.parametrize("policy, passed", [("strict", False), ("estimate", True), ("lenient", True)])
def test_policy_decides_the_outcome_of_an_inconclusive_check(policy, passed):
    result = accuracy_result(50, 0.9, **{"verdict.policy": policy, "verdict.more_samples": "off"})
    assert result.label == "inconclusive" and result.passed is passed and result.policy == policy


def planned_checks():
    """How many checks the default suite plans for one model: the Bonferroni share of each."""
    settings = resolve(cli={}, environ={}, keys=all_keys())
    return sum(len(family(name).planned(settings)) for name in ("contract", "accuracy", "corruption", "attack", "calibration", "inputs", "resources", "determinism", "drift", "gate"))


def test_interval_method_and_confidence_are_configurable():
    exact = accuracy_result(100, 0.9)
    share = exact.error_control["check_confidence"]
    m = planned_checks()
    assert m >= 10, m
    assert exact.error_control == {"procedure": "bonferroni", "checks": m, "confidence": 0.95, "check_confidence": pytest.approx(1 - 0.05 / m)}
    score = accuracy_result(100, 0.9, **{"verdict.interval": "wilson"})
    alone = accuracy_result(100, 0.9, **{"verdict.error_control": "none"})
    loose = accuracy_result(100, 0.9, **{"verdict.confidence": "0.8"})
    k = round(exact.value * 100)
    assert exact.interval == pytest.approx(clopper_pearson(k, 100, share)) and exact.interval_method == "clopper-pearson"
    assert exact.confidence == pytest.approx(share) and f"{100 * share:.2f}% clopper-pearson interval" in exact.evidence()
    assert score.interval == pytest.approx(wilson(k, 100, share)) and score.interval_method == "wilson"
    assert alone.interval == pytest.approx(clopper_pearson(k, 100, 0.95)) and alone.confidence == 0.95
    assert loose.interval == pytest.approx(clopper_pearson(k, 100, 1 - 0.2 / m))


def test_interval_and_verdict_survive_the_report_round_trip():
    result = accuracy_result(50, 0.9, **{"verdict.more_samples": "off"})
    again = CheckResult.from_dict(result.to_dict())
    assert again == result
    data = result.to_dict()
    assert data["verdict"] == "inconclusive" and data["interval"]["method"] == "clopper-pearson" and data["required_n"] == result.required_n
    assert data["error_control"]["checks"] == planned_checks()


def test_calibration_gets_a_consistency_resampling_interval_and_none_when_turned_off():
    settings = resolve(cli={"samples": "200"}, environ={}, keys=all_keys())
    calibration = family("calibration")
    spec = calibration.spec("ece", settings)
    result = Evaluation(zoo.good_model(), zoo.digits(), settings).run(calibration, spec)
    assert result.interval_method == "consistency-resampling" and result.interval[0] <= result.value <= result.interval[1]
    assert result.value < result.details["plugin"] and result.details["inference"]["resamples"] == 1000
    off = resolve(cli={"samples": "200", "verdict.bootstrap": "0"}, environ={}, keys=all_keys())
    unresampled = Evaluation(zoo.good_model(), zoo.digits(), off).run(calibration, calibration.spec("ece", off))
    assert unresampled.interval is None and unresampled.value == pytest.approx(result.value)


def test_the_nll_check_gets_the_betting_interval_of_its_bounded_losses():
    settings = resolve(cli={"samples": "200"}, environ={}, keys=all_keys())
    calibration = family("calibration")
    result = Evaluation(zoo.good_model(), zoo.digits(), settings).run(calibration, calibration.spec("nll", settings))
    assert result.interval_method == "betting" and result.interval[0] <= result.value <= result.interval[1]


def test_a_shards_share_is_pending_with_no_interval_nor_required_n():
    """``partial``: a shard's share of a check that the merge recomputes (tests/plugin/test_shard_cost.py counts
    the calls there): no interval, not even the measurement's own (an attack that stopped early, a bootstrap:
    docs/scale.md promises none on a shard), no required n, and the label ``pending``, passed: the merge
    decides. Whole, the same measurements get both."""
    spec = family("accuracy").spec(None, resolve(cli={"accuracy.floor": "0.9"}, environ={}, keys=all_keys()))
    counted = Measurement(0.91, 100, successes=91)
    own = Measurement(0.91, 100, successes=91, interval=(0.86, 0.96), interval_method="bootstrap")
    below = Measurement(0.5, 100, successes=50)

    def result(measurement: Measurement, partial: bool) -> CheckResult:
        return CheckResult.from_measurement(spec, "m", measurement, seed=0, duration_s=0.0, partial=partial)

    assert result(counted, False).interval is not None and result(counted, True).interval is None
    whole, share = result(own, False), result(own, True)
    assert whole.label == "inconclusive" and whole.interval == (0.86, 0.96) and share.interval is None
    assert (share.label, share.passed) == ("pending", True) and share.to_dict()["verdict"] == "pending"
    assert not result(below, False).passed and (result(below, True).label, result(below, True).passed) == ("pending", True)
    assert whole.required_n is not None and share.required_n is None
