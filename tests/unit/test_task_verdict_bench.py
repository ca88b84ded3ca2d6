"""benchmarks/bench_task_verdicts.py's simulation gives what it claims: the simulated detector's and
segmenter's metrics settle on one value (the population's), which the plugin's own metric gives, and the
counting of coverage and wrong FAIL labels counts right on trivial cases."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_task_verdicts.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_task_verdicts", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_simulated_detectors_map_is_torchmetrics_and_settles_on_one_value(bench):
    from pytest_mlguard.detection._metrics import mean_average_precision

    targets, clean, _ = bench.detection_population(100, seed=3)
    found = mean_average_precision([{k: d[k] for k in ("boxes", "labels", "scores")} for d in clean], targets)["map"]
    assert bench.Matches.of(clean, targets).average_precision(np.arange(100))["map"] == pytest.approx(found, abs=1e-6)
    first, second = bench.detection_truth(2000, seed=1), bench.detection_truth(2000, seed=2)
    assert abs(first[0] - second[0]) < 0.02 and abs(first[1] - second[1]) < 0.02, (first, second)
    assert 0.3 < second[1] < second[0] < 0.6  # the corrupted twin is worse, the clean one moderate


def test_a_perfect_simulated_detector_scores_1_and_misses_lower_it(bench):
    rng = np.random.default_rng(0)
    targets = [bench.scene(rng) for _ in range(60)]
    perfect = [bench.detect(t, rng, miss=0.0, loc=0.0, fp=0.0) for t in targets]
    missing = [bench.detect(t, rng, miss=0.5, loc=0.0, fp=0.0) for t in targets]
    rows = np.arange(60)
    assert bench.Matches.of(perfect, targets).average_precision(rows)["map"] == 1.0
    assert bench.Matches.of(missing, targets).average_precision(rows)["map"] < 0.9


def test_the_simulated_segmentation_confusions_count_every_pixel_and_settle(bench):
    clean, corrupted = bench.segmentation_population(200, seed=0)
    assert (clean.sum(axis=(1, 2)) == 1024).all() and (corrupted.sum(axis=(1, 2)) == 1024).all()
    assert (clean.sum(axis=2) == corrupted.sum(axis=2)).all()  # the same true masks
    assert (np.diagonal(corrupted, axis1=1, axis2=2) <= np.diagonal(clean, axis1=1, axis2=2)).all()
    first, second = bench.segmentation_truth(3000, seed=1), bench.segmentation_truth(3000, seed=2)
    assert abs(first[0] - second[0]) < 0.01 and abs(first[1] - second[1]) < 0.01, (first, second)
    assert second[1] < second[0]


def test_coverage_and_wrong_fails_count_trivial_cases(bench):
    found = [(0.0, 1.0), (2.0, 3.0), (-2.0, -1.0), (0.4, 0.6)]
    assert bench.coverage(0.5, found) == {"cover": 0.5, "below": 0.25, "above": 0.25}
    # below the floor: failed; straddling it: inconclusive (passes, lenient); above it: passed
    assert bench.wrong_fails([0.4, 0.5, 0.7], [(0.3, 0.45), (0.45, 0.55), (0.6, 0.8)], [0.5, 0.5, 0.5]) == pytest.approx(1 / 3)


def test_the_intervals_are_the_plugins_bootstrap_at_the_share_and_95_from_the_same_draws(bench):
    from pytest_mlguard._verdicts.intervals import bootstrap_interval, debiased_bootstrap_interval

    values = np.random.default_rng(0).normal(size=80)

    def statistic(rows):
        return values[rows].mean(axis=1)

    estimate, found = bench.intervals(statistic, 80, seed=5)
    assert estimate == pytest.approx(values.mean()) and set(found) == set(bench.RULES)
    share = found["percentile"][1]
    assert share == bootstrap_interval(statistic, 80, bench.SHARE, resamples=bench.RESAMPLES, rng=np.random.default_rng(5), batched=True)
    assert found["studentized"][1] == debiased_bootstrap_interval(statistic, 80, bench.SHARE, resamples=bench.RESAMPLES, rng=np.random.default_rng(5), batched=True)
    for rule in bench.RULES:  # every rule's interval at the share holds its interval at 95%, which holds the mean
        (low, high), (low_share, high_share) = found[rule]
        assert low_share < low < estimate < high < high_share, rule


def test_the_bias_corrected_interval_is_the_percentile_one_without_bias_and_moves_against_it(bench):
    values = np.random.default_rng(1).normal(size=4001)
    assert bench.bias_corrected(values, float(np.median(values)), 0.9) == pytest.approx(tuple(np.quantile(values, [0.05, 0.95])))
    low, high = bench.bias_corrected(values + 0.5, float(np.median(values)), 0.9)  # resamples biased up by 0.5
    assert (low + high) / 2 == pytest.approx(float(np.median(values)) - 0.5, abs=0.05)


def test_the_basic_and_debiased_intervals_move_against_the_resamples_bias(bench):
    values = np.random.default_rng(2).normal(size=4001) + 0.5  # resamples biased up by 0.5 around an estimate of 0
    for rule in (bench.basic, bench.percentile_debiased):
        low, high = rule(values, 0.0, 0.9)
        assert (low + high) / 2 == pytest.approx(-0.5, abs=0.05), rule


def test_bcas_acceleration_is_0_for_symmetric_jackknife_values_and_signed_by_their_skew(bench):
    assert bench.acceleration(np.array([1.0, 2.0, 3.0])) == 0.0
    assert bench.acceleration(np.array([0.0, 0.0, 0.0, 1.0])) < 0 < bench.acceleration(np.array([1.0, 1.0, 1.0, 0.0]))
