"""The interval of a metric of a whole set of images (mAP, mIoU) corrects for the bias its resamples carry.

Before (issue 19), it was the percentile interval of the resamples: centred on them, so on the estimate plus
the bootstrap's bias, where the estimate itself is biased the same way (the mAP of 50 images by +0.011), and
at a check's share of 95% (99.72%) its ends were the two or three most extreme of 1000 resamples; it covered
the population's mAP 92.5% at 95% and 98.0% at 99.72% (docs/detection.md, "Verdict error rates"). Now: a
normal interval around the estimate less the resamples' bias, the resamples' standard deviation its error.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlguard._verdicts.intervals import debiased_normal_interval, z_value


def biased_statistic(seen: list[np.ndarray]):
    """A batched statistic whose resamples lie above the estimate: the mean of ``x`` plus 0.1 x the share of
    repeated images in the resample (0 for the images themselves, about 0.037 for a resample); every value
    it returns for a batch of more than one row is kept in ``seen``."""
    x = np.random.default_rng(3).normal(0.5, 0.1, size=60)

    def statistic(rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(rows)
        repeated = np.array([1 - len(np.unique(row)) / len(row) for row in rows])
        values = x[rows].mean(axis=1) + 0.1 * repeated
        if len(rows) > 1:
            seen.append(values)
        return values

    return statistic, float(x.mean())


def expected(values: np.ndarray, estimate: float, confidence: float) -> tuple[float, float]:
    centre, half = 2 * estimate - values.mean(), z_value(confidence) * values.std(ddof=1)
    return centre - half, centre + half


def test_the_debiased_interval_is_normal_around_the_estimate_less_the_resamples_bias():
    values = np.random.default_rng(0).normal(0.6, 0.02, 1000)
    low, high = debiased_normal_interval(values, 0.58, 0.9972)
    assert (low + high) / 2 == pytest.approx(2 * 0.58 - values.mean())  # 0.02 of bias taken off the estimate
    assert (high - low) / 2 == pytest.approx(2.99 * values.std(ddof=1), rel=1e-3)  # the normal quantile at 99.72%
    assert debiased_normal_interval(values + 0.38, 0.97, 0.9972, bounds=(0.0, 1.0))[1] == 1.0  # an mAP stays at most 1
    assert debiased_normal_interval(values - 0.58, 0.01, 0.9972, bounds=(0.0, 1.0))[0] == 0.0
    with pytest.raises(ValueError, match="at least 2 bootstrap values"):
        debiased_normal_interval([0.5], 0.5)


def _evaluation():
    from pytest_mlguard._accuracy import FAMILY
    from pytest_mlguard.checks._evaluation import Evaluation
    from pytest_mlguard.checks._registry import all_keys
    from pytest_mlguard.config._settings import resolve
    from pytest_mlguard.contract import CallableModel, EvalData

    settings = resolve(cli={"verdict.bootstrap": "500"}, environ={}, keys=all_keys())
    model = CallableModel(lambda x: np.eye(2)[np.zeros(len(x), int)], input_shape=(1,), n_classes=2)
    evaluation = Evaluation(model, EvalData(np.zeros((60, 1)), np.zeros(60, int)), settings)
    return evaluation, FAMILY.spec(None, settings)


def test_a_whole_set_metrics_interval_in_a_check_is_moved_against_the_resamples_bias():
    """``Evaluation.bootstrap`` with a batched statistic (detection's mAP, segmentation's mIoU): before, the
    percentile interval of the resamples, centred on them, above the estimate."""
    seen: list[np.ndarray] = []
    statistic, estimate = biased_statistic(seen)
    evaluation, spec = _evaluation()
    confidence = evaluation.rules.check_confidence
    low, high = evaluation.bootstrap(spec, statistic, 60, batched=True, whole_set=True)
    values = np.concatenate(seen)
    assert len(values) == 500 and values.mean() > estimate + 0.03  # the resamples carry the bias
    assert (low, high) == pytest.approx(expected(values, estimate, confidence))
    assert (low + high) / 2 < estimate - 0.03


def test_other_metrics_keep_the_percentile_interval():
    """A per-sample statistic (a sweep's mean robust accuracy, ...): the percentile interval, unchanged."""
    seen: list[float] = []
    x = np.random.default_rng(4).normal(0.5, 0.1, size=60)

    def statistic(rows: np.ndarray) -> float:
        seen.append(float(x[rows].mean()))
        return seen[-1]

    evaluation, spec = _evaluation()
    alpha = 1 - evaluation.rules.check_confidence
    found = evaluation.bootstrap(spec, statistic, 60)
    assert found == pytest.approx(tuple(np.quantile(seen, [alpha / 2, 1 - alpha / 2])))


def test_the_detection_bootstrap_of_map_interval_is_the_debiased_one():
    from pytest_mlguard.detection._metrics import bootstrap

    seen: list[np.ndarray] = []
    statistic, estimate = biased_statistic(seen)
    low, high = bootstrap(statistic, 60, resamples=300, seed=1, confidence=0.95, batched=True)
    values = np.concatenate(seen)
    assert len(values) == 300
    assert (low, high) == pytest.approx(expected(values, estimate, 0.95), abs=1e-6)  # rounded to 6 places
