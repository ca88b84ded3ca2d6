"""The error rates of the verdicts, on synthetic models whose truth is known by construction, through
the plugin's own code paths (reduced replicates of benchmarks/bench_verdicts.py, fixed seeds).

Before these (Wilson by default, policy ``estimate``, a percentile bootstrap of the plug-in ECE, no
error control across checks) a calibrated model at 70% accuracy failed an ECE ceiling of 0.05 in
73% of runs, a model at all 34 of its floors carried a wrong FAIL label in about half of the runs, and
``required_n`` named sizes that decided about half the time.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlguard.checks._base import CheckResult, CheckSpec, Measurement, VerdictRules
from pytest_mlguard.checks._registry import all_keys
from pytest_mlguard.config.parse import Threshold
from pytest_mlguard.config._settings import resolve
from pytest_mlguard.reporting._report import build_report
from pytest_mlguard._verdicts.intervals import binomial_bounds, binomial_coverage, paired_interval
from pytest_mlguard._verdicts.policy import required_n
from pytest_mlguard._verdicts.simulation import calibration_model, ece_check, ece_power_bound, flake_rate, suite_rates


def default(key):
    return resolve(cli={}, environ={}, keys=all_keys()).get(key)


# -- intervals ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [10, 11, 17, 30, 50, 100, 360])
def test_the_default_binomial_interval_covers_at_least_its_level_for_every_p(n):
    method = default("verdict.interval")
    coverage = binomial_coverage(n, np.linspace(0.0005, 0.9995, 1999), 0.95, method)
    assert coverage.min() >= 0.95, (method, coverage.min())


def test_wilson_undercovers_near_1_which_is_why_it_is_not_the_default():
    assert binomial_coverage(100, [0.99], 0.95, "wilson")[0] == pytest.approx(0.9206, abs=1e-4)


def test_paired_interval_of_a_relative_floor_keeps_its_level_and_is_narrower_than_two_independent_ones():
    rng = np.random.default_rng(0)
    covered, narrower = 0, 0
    truth = 0.9 * 0.8 - 0.7 * 0.9
    for _ in range(400):
        clean = rng.random(360) < 0.9
        corrupted = clean & (rng.random(360) >= 0.2)
        low, high = paired_interval(clean, corrupted, weight=0.7)
        covered += low <= truth <= high
        (cl,), (ch,) = binomial_bounds([clean.sum()], 360)
        (rl,), (rh,) = binomial_bounds([corrupted.sum()], 360)
        narrower += high - low < (rh - 0.7 * cl) - (rl - 0.7 * ch)
    assert covered / 400 >= 0.93 and narrower == 400


def test_a_relative_floor_gets_the_paired_interval():
    spec = CheckSpec("corruption", "fog-3", "accuracy", Threshold(0.7, "clean"))
    measurement = Measurement(0.65, 360, clean=0.9, successes=234, paired=(230, 94, 4, 32))
    result = CheckResult.from_measurement(spec, "m", measurement, seed=0, duration_s=0.0, rules=VerdictRules(checks=1))
    assert result.interval_method == "paired-clopper-pearson" and result.threshold == pytest.approx(0.63)
    low, high = paired_interval([True] * 324 + [False] * 36, [True] * 230 + [False] * 94 + [True] * 4 + [False] * 32, weight=0.7)
    assert result.interval == pytest.approx((0.63 + low, 0.63 + high))


# -- required_n ----------------------------------------------------------------------------------------------
def brute_force_required_n(estimate, threshold, confidence, method, kind):
    """Every outcome k of every n from 1, its interval and the verdict it gives, until 80% decide."""
    from scipy.stats import binom

    for n in range(1, 2000):
        k = np.arange(n + 1)
        low, high = binomial_bounds(k, n, confidence, method)
        decided = (low >= threshold) | (high < threshold) if kind == "floor" else (high <= threshold) | (low > threshold)
        if binom.pmf(k, n, estimate)[decided].sum() >= 0.8:
            return n
    return None


@pytest.mark.parametrize("method", ["clopper-pearson", "wilson"])
@pytest.mark.parametrize("kind", ["floor", "ceiling"])
@pytest.mark.parametrize("estimate, threshold", [(0.96, 0.9), (0.9, 0.8), (0.5, 0.62), (0.99, 0.95), (0.2, 0.1), (0.7, 0.6)])
@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_required_n_is_the_smallest_n_that_decides_80_percent_of_the_time(estimate, threshold, method, kind, confidence):
    assert required_n(estimate, threshold, confidence, method, kind=kind) == brute_force_required_n(estimate, threshold, confidence, method, kind)


def brute_force_relative_required_n(cells, factor, most=40):
    """Every table of pairs (both right, only clean, only corrupted, neither) of every n from 1, drawn
    with the probabilities ``cells``, judged by the check's own interval and verdict (those of
    CheckResult.from_measurement, without its search for n), until 80% of them decide a relative
    floor ``factor*clean``."""
    from pair_tables import pair_tables

    from pytest_mlguard._verdicts.policy import decide
    from pytest_mlguard.checks._result import _interval

    spec, rules = CheckSpec("corruption", "fog-3", "accuracy", Threshold(factor, "clean")), VerdictRules(checks=1)
    for n in range(1, most + 1):
        decided = 0.0
        for a, b, c, d, chance in pair_tables(cells, n):
            measurement = Measurement((a + c) / n, n, clean=(a + b) / n, successes=a + c, paired=(a, b, c, d))
            threshold = spec.threshold.resolve(measurement.clean)
            interval, _ = _interval(measurement, rules, threshold, spec)
            decided += chance * (decide(measurement.value, interval, threshold=threshold, kind="floor").label != "inconclusive")
        if decided >= 0.8:
            return n
    return None


@pytest.mark.parametrize(
    "cells, factor",
    [
        ((3, 6, 0, 1), 0.7),  # clean 0.9, corrupted 0.3 against 0.63: fails (the old n: 22, brute force 24)
        ((2, 6, 0, 2), 0.6),  # clean 0.8, corrupted 0.2 against 0.48: fails (25, brute force 28)
        ((5, 1, 1, 3), 0.5),  # clean 0.6, corrupted 0.6 against 0.3: passes (20, brute force 18)
        ((8, 1, 1, 0), 0.7),  # clean 0.9, corrupted 0.9 against 0.63: passes (15, brute force 25)
    ],
)
def test_required_n_of_a_relative_floor_is_the_smallest_n_whose_paired_verdict_decides_80_percent_of_the_time(cells, factor):
    """Before, the n of an inconclusive relative floor was scaled from its paired interval's width (a
    normal approximation); now it is the smallest n at which the check's paired verdict decides at
    least 80% of fresh runs drawn as the pairs fell, as an absolute floor's is."""
    expected = brute_force_relative_required_n(cells, factor, most=30)
    assert expected is not None
    spec = CheckSpec("corruption", "fog-3", "accuracy", Threshold(factor, "clean"))
    a, b, c, _ = cells  # a run of 10 samples, too few to decide
    measurement = Measurement((a + c) / 10, 10, clean=(a + b) / 10, successes=a + c, paired=cells)
    result = CheckResult.from_measurement(spec, "m", measurement, seed=0, duration_s=0.0, rules=VerdictRules(checks=1))
    assert result.label == "inconclusive" and result.required_n == expected


def test_required_n_is_none_where_no_sample_size_decides():
    assert required_n(0.8, 0.8) is None and required_n(0.8000001, 0.8) is None


# -- the ECE ceiling -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("accuracy", [0.6, 0.7, 0.8, 0.9, 0.99])
def test_a_calibrated_model_rarely_fails_an_ece_ceiling_of_005(accuracy):
    rng = np.random.default_rng(int(accuracy * 100))
    runs = 40
    failed = sum(not ece_check(*calibration_model(rng, 360, accuracy=accuracy), 0.05, VerdictRules(checks=1), resamples=300, rng=rng).passed for _ in range(runs))
    assert failed <= 0.05 * runs  # before: 85%, 73%, 53%, 10% of runs at 64%, 70%, 77%, 87% accuracy


def test_a_model_with_ece_010_fails_the_ceiling_of_005_as_often_as_n_360_allows():
    """At 85% accuracy, no test that keeps a wrong FAIL at ECE 0.05 to 2.5% can fail ECE 0.10 in more
    than about 84-86% of runs at n=360 (ece_power_bound, docs/calibration.md); this one does in about 81%."""
    rng = np.random.default_rng(1)
    runs = 60
    failed = sum(not ece_check(*calibration_model(rng, 360, accuracy=0.85, ece=0.1), 0.05, VerdictRules(checks=1), resamples=300, rng=rng).passed for _ in range(runs))
    assert failed >= 0.65 * runs


def test_no_ece_test_that_keeps_its_level_at_the_ceiling_fails_ece_010_in_90_percent_of_runs_at_n_360():
    """The issue's power target is out of reach at 70% accuracy: an oracle that knows the estimate's
    distribution at a model exactly at 0.05 (same confidences) and fails 2.5% of those fails ECE 0.10 in
    about 60% of runs (bench_verdicts.py: 0.587 debiased, 0.621 plug-in, on 2000). Not only tests of the
    ECE: the two models differ only in how often the top class is right, so by the Neyman-Pearson lemma
    their likelihood ratio is the most powerful statistic of all, and it fails ECE 0.10 in about 73%
    (0.726 on 2000)."""
    bound = ece_power_bound(np.random.default_rng(0), 400, 360, accuracy=0.7, ece=0.1, ceiling=0.05)
    assert 0.4 < bound["debiased"] < 0.75 and 0.4 < bound["plugin"] < 0.75
    assert bound["debiased"] <= bound["likelihood_ratio"] + 0.03 and 0.55 < bound["likelihood_ratio"] < 0.85, bound


def percentile_bootstrap_ece(proba, labels, rng, resamples=300, confidence=0.95, bins=15):
    """The pre-issue interval, the counter-example: a percentile bootstrap of the plug-in ECE (resampled
    samples, 15 equal-width bins), as ``verdicts.intervals.bootstrap_interval`` drew it before c3b33c6.

    Every resample's ECE at once, binned and summed in the order of ``expected_calibration_error``'s
    own steps: the same values to the last bit as a call of it per resample (the same covered and above
    counts in every cell below, checked), in a sixth of the CPU time."""
    n = len(labels)
    confidences, hits = proba.max(axis=1), (proba.argmax(axis=1) == labels).astype(np.float64)
    index = np.clip(np.searchsorted(np.linspace(0.0, 1.0, bins + 1), confidences, side="right") - 1, 0, bins - 1)
    drawn = np.stack([rng.integers(0, n, n) for _ in range(resamples)])
    cells = (index[drawn] + bins * np.arange(resamples)[:, None]).ravel()

    def per_bin(weights=None):
        return np.bincount(cells, weights=weights, minlength=bins * resamples).reshape(resamples, bins).astype(np.float64)

    count = per_bin()
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy, mean = (np.nan_to_num(per_bin(per_sample[drawn].ravel()) / count) for per_sample in (hits, confidences))
    values = np.round((np.abs(accuracy - mean) * count).sum(axis=1) / count.sum(axis=1), 12)
    return tuple(np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2]))


def debiased_ece_interval(proba, labels, rng):
    result = ece_check(proba, labels, 0.05, VerdictRules(checks=1), resamples=300, rng=rng)
    assert result.interval[0] <= result.value <= result.interval[1]
    return result.interval


def ece_coverage(interval_of, ece, n, runs=40):
    """Runs (fixed seeds) of a model of true ECE ``ece`` at accuracy 0.75: how many intervals cover it,
    and how many lie wholly above it (the side a biased estimate misses on)."""
    models, draws = np.random.default_rng(int(ece * 1000) + n), np.random.default_rng(int(ece * 1000) + n + 1)
    covered = above = 0
    for _ in range(runs):
        low, high = interval_of(*calibration_model(models, n, accuracy=0.75, ece=ece), draws)
        covered += low <= ece <= high
        above += ece < low
    return covered, above


ECE_CELLS = [(ece, n) for ece in (0.0, 0.02, 0.05, 0.1) for n in (360, 2000)]


def ece_margins_hold(covered, above, runs=40):
    """The margins on 40 runs: at least 85% covered (40 runs cannot pin 95% down: bench_verdicts.py table 2
    measures it on 1000), and at most 3 intervals wholly above the truth (nominal: 1 of 40)."""
    return covered >= 0.85 * runs and above <= 3


@pytest.mark.parametrize("ece, n", ECE_CELLS)
def test_the_ece_interval_covers_the_true_ece(ece, n):
    covered, above = ece_coverage(debiased_ece_interval, ece, n)
    assert ece_margins_hold(covered, above), (covered, above)


@pytest.mark.slow  # about 3 s of CPU (19 s with a call of expected_calibration_error per resample)
@pytest.mark.parametrize("ece, n", [cell for cell in ECE_CELLS if cell != (0.1, 2000)])
def test_the_pre_issue_percentile_bootstrap_fails_those_margins(ece, n):
    """The counter-example: on the same models, the old interval fails the margins in 7 of the 8 cells;
    at ECE 0.1 and n = 2000, where the plug-in's bias is small beside its spread, it nearly keeps its
    level (38 of 40 covered, 2 wholly above), and 40 runs cannot tell it from the new one."""
    covered, above = ece_coverage(percentile_bootstrap_ece, ece, n)
    assert not ece_margins_hold(covered, above), (covered, above)


def test_the_garbage_confidence_interval_keeps_its_level_where_the_confidences_crowd_near_1():
    """The mean top-class probability of 200 garbage inputs whose confidences crowd near 1 (mean 0.9, a
    left-skewed mean): against a ceiling at its true value, the check fails in about 2.5% of runs, and its
    interval covers the true mean in 95%. The percentile bootstrap, before, failed 3.9% of 1000 runs in
    bench_verdicts.py table 8 and covered 93.7% (on these 1000 runs: 3.5% and 94.6%), its interval leaning
    the wrong way; the bootstrap-t (studentized) interval of the mean here: 2.6% and 95.5%."""
    from pytest_mlguard._verdicts.simulation import calibration_metric_rates

    rates = calibration_metric_rates(np.random.default_rng(91), 1000, 200, "garbage", accuracy=0.9, resamples=1000)
    assert rates["wrong_fail"] <= 0.034 and rates["coverage"] >= 0.95, rates


def test_the_nll_interval_covers_the_true_nll_where_rare_losses_are_large():
    """A calibrated model at 90% accuracy that, on 0.5% of the samples, is sure of a wrong class (a log-loss
    of 25): a run of 360 samples sees none of those in 16% of runs, and an interval built from the sample
    alone then lies below the truth (a wrong PASS at a ceiling there). The percentile bootstrap that served
    before covered 0.92 of these 300 runs, 0.06 wholly below the truth; the betting interval of the bounded
    losses (calibration._run.nll_interval) covers at least 95% by construction, whatever the tail (here all
    300, at a mean width of 0.76 against the bootstrap's 0.42)."""
    from pytest_mlguard._verdicts.mean_simulation import mean_interval_rates

    found = mean_interval_rates(np.random.default_rng(14), 300, 360, "nll", accuracy=0.9, share=0.005, compare=False)
    (rates,) = (found[method] for method in found["check"])
    assert rates["coverage"] >= 0.95 and rates["below"] <= 0.025, rates


# -- a run of many checks ------------------------------------------------------------------------------------
def test_a_model_at_all_34_floors_rarely_gets_a_wrong_fail_and_one_003_above_passes():
    floors = np.linspace(0.4, 0.95, 34)
    at = suite_rates(np.random.default_rng(0), 30, floors, VerdictRules(checks=34))
    above = suite_rates(np.random.default_rng(1), 20, floors, VerdictRules(checks=34), above=0.03)
    assert at["any_failed"] <= 0.05  # before: 62% of runs (bench_verdicts.py)
    assert above["all_passed"] >= 0.9  # before: 5%


@pytest.mark.slow
def test_a_model_at_all_123_floors_rarely_gets_a_wrong_fail_and_one_003_above_passes():
    """The nightly suite's 123 checks (bench_verdicts.py --only 3 --suites 123: 0.025 and 1.000 on 200
    runs); at 95% each, before, nearly every run carried a wrong FAIL. About 40 s of CPU."""
    floors = np.linspace(0.4, 0.95, 123)
    at = suite_rates(np.random.default_rng(2), 20, floors, VerdictRules(checks=123))
    above = suite_rates(np.random.default_rng(3), 10, floors, VerdictRules(checks=123), above=0.03)
    assert at["any_failed"] <= 0.1 and above["all_passed"] >= 0.9


@pytest.mark.parametrize("offset", [-0.02, -0.01, 0.01, 0.02])
def test_flakes_near_the_floor_are_rare_under_the_default(offset):
    """0.01 and 0.02 from the floor, where the old default flaked in 23-44% of pairs of seeds
    (bench_verdicts.py --only 4: at most 0.026 under the default, at 0.02 below)."""
    rules = VerdictRules(checks=34)
    assert flake_rate(np.random.default_rng(5), 40, 5, 0.8, 0.8 + offset, rules, pool=3600) <= 0.06


def test_flakes_at_the_floor_are_rare_under_the_default():
    rules = VerdictRules(checks=34)
    assert flake_rate(np.random.default_rng(0), 40, 5, 0.8, 0.8, rules, pool=3600) <= 0.03  # before: about 0.5


def test_the_report_says_which_procedure_and_what_it_guarantees(tmp_path):
    rules = VerdictRules(checks=4)
    spec = CheckSpec("accuracy", None, "accuracy", Threshold(0.8))
    checks = [
        CheckResult.from_measurement(spec, "m", Measurement(value, 360, successes=round(value * 360)), seed=0, duration_s=0.0, rules=rules).to_dict()
        for value in (0.9, 0.6)
    ]
    report = build_report(checks, seed=0, samples=None, models={})
    control = report["error_control"]
    entry = control["models"]["m"]
    assert control["procedure"] == "bonferroni" and entry["checks"] == 4 and entry["measured"] == 2
    assert entry["check_confidence"] == pytest.approx(1 - 0.05 / 4) and entry["labels"] == {"passed": 1, "failed": 1, "inconclusive": 0}
    assert entry["wrong_fail_bound"] == pytest.approx(2 * 0.05 / 8) and entry["wrong_verdict_bound"] == pytest.approx(2 * 0.05 / 4)
    # and report.html says it above the checks, with the levels the run achieved
    from pytest_mlguard.reporting._html import render_html

    page = render_html(report, tmp_path)
    assert (
        "m: bonferroni error control over 4 checks, each interval at 98.75%: a wrong failed label in at most 1.2% of runs, "
        "any wrong decided label in at most 2.5%; 0 inconclusive." in page
    )


# -- an undecided check draws more samples ---------------------------------------------------------------------
def _accuracy_run(rate, samples="300", n=3600, limits=None, **cli):
    """The ``accuracy`` check (floor 0.8) of a model right on a ``rate`` share of ``n`` samples, run on
    ``samples`` of them through the plugin's evaluation."""
    from pytest_mlguard._accuracy import FAMILY
    from pytest_mlguard.checks._evaluation import Evaluation
    from pytest_mlguard.contract import CallableModel, EvalData

    rng = np.random.default_rng(0)
    right, y = rng.random(n) < rate, rng.integers(0, 10, n)
    calls = []

    def predict(x):
        calls.append(len(x))
        i = x[:, 0].astype(int)
        return np.eye(10)[np.where(right[i], y[i], (y[i] + 1) % 10)]

    settings = resolve(cli={"samples": samples, "accuracy.floor": "0.8", **cli}, environ={}, keys=all_keys())
    evaluation = Evaluation(CallableModel(predict, input_shape=(1,), n_classes=10), EvalData(np.arange(n, dtype=float)[:, None], y), settings)
    evaluation = evaluation.with_limits(limits)  # the check's share of a budget, as the runner gives it
    return evaluation.run(FAMILY, FAMILY.spec(None, settings)), sum(calls)


def test_an_accuracy_check_that_straddles_its_floor_draws_more_samples_until_it_decides():
    result, predicted = _accuracy_run(0.86)
    more = result.details["more_samples"]
    # before: inconclusive on its 300 samples ([0.773, 0.899] at the check's share of 95%), passed by policy
    assert result.label == "passed" and result.interval_method == "confidence-sequence" and result.interval[0] >= 0.8
    assert more["available"] == 3300 and 0 < more["drawn"] < 3300 and more["decided"] == "passed"
    assert result.n == 300 + more["drawn"] == predicted == result.evaluations


def test_a_model_below_its_floor_is_failed_with_more_samples_not_passed_as_inconclusive():
    result, _ = _accuracy_run(0.74)
    assert result.label == "failed" and not result.passed and result.n > 300  # before: inconclusive, passed


def test_more_samples_stop_where_the_data_end_and_off_keeps_the_fixed_n_interval():
    result, predicted = _accuracy_run(0.8, n=1000)
    assert result.label == "inconclusive" and result.n == predicted == 1000 and result.details["more_samples"]["decided"] == "undecided"
    assert result.interval_method == "confidence-sequence" and result.required_n is not None
    off, predicted = _accuracy_run(0.86, **{"verdict.more_samples": "off"})
    assert (off.label, off.n, off.interval_method, predicted) == ("inconclusive", 300, "clopper-pearson", 300)
    every, _ = _accuracy_run(0.86, samples="none")
    assert every.details["more_samples"]["available"] == 0 and every.interval_method == "clopper-pearson"


def test_a_check_that_may_draw_more_counts_its_confidence_sequence_in_the_error_bound():
    result, _ = _accuracy_run(0.95)  # decided on its 300: drew none, but could have
    assert result.label == "passed" and result.details["more_samples"]["drawn"] == 0
    entry = build_report([result.to_dict()], seed=0, samples=300, models={})["error_control"]["models"][result.model]
    # the fixed-n interval's lower side, and either side of the confidence sequence (before: 2 halves)
    assert entry["wrong_fail_bound"] == pytest.approx(3 * (1 - result.confidence) / 2, abs=1e-6)
    assert entry["wrong_verdict_bound"] == pytest.approx(2 * (1 - result.confidence), abs=1e-6)


def test_under_a_budget_a_check_draws_no_more_than_its_share_of_samples():
    from pytest_mlguard._budget import Limits

    capped, predicted = _accuracy_run(0.86, limits=Limits(samples=400))
    assert capped.details["more_samples"]["available"] == 100 and capped.n == predicted <= 400
    timed, predicted = _accuracy_run(0.86, limits=Limits(seconds=10.0))  # a budget without a sample count: none
    assert timed.details["more_samples"]["available"] == 0 and timed.n == predicted == 300 and timed.label == "inconclusive"
