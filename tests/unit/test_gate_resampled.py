"""gate[robustness] over a metric of a whole set of images (mIoU, mAP): the paired bootstrap of its change.

Two models measured on the same images share each image's difficulty; the change of their metric gets the
percentile interval of resamples drawn once for both (:mod:`pytest_mlguard._verdicts.resampled`), which
decides a regression that two separate intervals, one a model, leave overlapping."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlguard._verdicts.intervals import bootstrap_interval
from pytest_mlguard._verdicts.resampled import Resampled, paired_bootstrap_regression
from pytest_mlguard.checks._base import CheckResult
from pytest_mlguard.production.gate.compare import compare_results

N = 120


def _result(value: float) -> CheckResult:
    return CheckResult("corruption[fog-3]", "m", "corruption", "miou", value, 0.5, "0.5", "floor", N, True, 0, 0.0, {})


def _scores() -> tuple[np.ndarray, np.ndarray]:
    """Per-image scores of a baseline (images of very different difficulty) and a candidate 0.05 below on each."""
    rng = np.random.default_rng(3)
    baseline = rng.uniform(0.2, 1.0, N)
    return baseline, baseline - 0.05 + rng.normal(0, 0.005, N)


def test_the_paired_interval_decides_a_regression_that_two_separate_intervals_leave_overlapping():
    baseline, candidate = _scores()
    ours, theirs = Resampled(lambda rows: candidate[rows].mean(), N), Resampled(lambda rows: baseline[rows].mean(), N)
    out = compare_results([_result(candidate.mean())], [_result(baseline.mean())], tolerance=0.02, resampled={"corruption[fog-3]": (ours, theirs)}, rng=np.random.default_rng(0))
    row = out["metrics"][0]
    assert row["decision"] == "regressed" and row["paired_n"] == N and out["decided"][0] == "corruption[fog-3]"
    assert row["interval_method"] == "paired-bootstrap-images" and row["interval"][0] <= row["change"] <= row["interval"][1] < -0.02
    separate = [bootstrap_interval(lambda rows, s=s: s[rows].mean(), N, 0.95, rng=np.random.default_rng(1)) for s in (baseline, candidate)]
    assert separate[1][1] > separate[0][0]  # one model's interval reaches into the other's


def test_without_resamples_or_on_other_images_a_metric_is_judged_by_its_estimate():
    baseline, candidate = _scores()
    pair = (Resampled(lambda rows: candidate[rows].mean(), N), Resampled(lambda rows: baseline[rows].mean(), N))
    for resampled, resamples in (({"corruption[fog-3]": pair}, 0), ({"corruption[fog-3]": (pair[0], Resampled(pair[1].statistic, N - 1))}, 1000)):
        out = compare_results([_result(candidate.mean())], [_result(baseline.mean())], tolerance=0.02, resampled=resampled, resamples=resamples)
        assert out["metrics"][0]["interval"] is None and out["metrics"][0]["decision"] == "regressed" and out["confidence"] is None


def test_a_batched_statistic_gives_the_same_interval_as_one_row_at_a_time():
    baseline, candidate = _scores()
    one = paired_bootstrap_regression(Resampled(lambda r: baseline[r].mean(), N), Resampled(lambda r: candidate[r].mean(), N), tolerance=0.02, rng=np.random.default_rng(5))
    batched = paired_bootstrap_regression(Resampled(lambda r: baseline[r].mean(axis=1), N, True), Resampled(lambda r: candidate[r].mean(axis=1), N, True), tolerance=0.02, rng=np.random.default_rng(5))
    assert one["interval"] == pytest.approx(batched["interval"]) and one["decision"] == batched["decision"] == "regressed"
    with pytest.raises(ValueError, match=r"same n >= 2 images, got n=120 \(baseline\) and n=119"):
        paired_bootstrap_regression(Resampled(len, N), Resampled(len, N - 1), tolerance=0.02, rng=np.random.default_rng(0))
