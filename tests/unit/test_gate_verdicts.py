"""The gate's paired verdicts: the sample size that would decide them, computed for the paired statistic
(issue 14), and the rollback the gate indicates, taken from the same intervals as its verdicts.

Before, an inconclusive ``gate[robustness]`` said "no sample size would decide" (the one-sample
``required_n`` scaled from an interval of counts, which has no distance to its threshold), and
``gate[accuracy]`` named an n from a normal approximation of the width of its interval.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlguard._verdicts.intervals import paired_interval_counts
from pytest_mlguard._verdicts.paired import paired_bounds, paired_required_n


def test_the_paired_bounds_of_many_tables_are_those_of_one():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 80))
        table = rng.multinomial(n, rng.dirichlet([1, 1, 1, 1]))
        for method in ("clopper-pearson", "wilson"):
            low, high = paired_bounds(*([x] for x in table), confidence=0.99, method=method)
            assert (low[0], high[0]) == pytest.approx(paired_interval_counts(*table, confidence=0.99, method=method), abs=1e-12)


def brute_force(cells, tolerance, kind, method, confidence, most=40):
    """The smallest n whose every table of pairs, its interval drawn one by one, decides (as
    :func:`paired_regression` judges) with probability at least 0.8; ``None`` up to ``most``."""
    from pair_tables import pair_tables

    for n in range(1, most + 1):
        decided = 0.0
        for a, b, c, d, chance in pair_tables(cells, n):
            low, high = paired_interval_counts(a, b, c, d, confidence=confidence, method=method)
            worst, best = (-low, -high) if kind == "floor" else (high, low)  # the regression's ends
            decided += chance * (best > tolerance or worst <= tolerance)
        if decided >= 0.8:
            return n
    return None


@pytest.mark.parametrize(
    "cells, tolerance, kind, method",
    [
        ((4, 5, 0, 1), 0.05, "floor", "clopper-pearson"),  # a drop of 0.5: regressed
        ((3, 0, 5, 2), 0.05, "floor", "clopper-pearson"),  # a rise of 0.5: within
        ((3, 0, 5, 2), 0.05, "ceiling", "wilson"),  # the same rise of a ceiling metric: regressed
        ((2, 6, 1, 1), 0.0, "floor", "wilson"),  # a drop of 0.5, no tolerance
    ],
)
def test_paired_required_n_is_the_smallest_n_that_decides_80_percent_of_the_time(cells, tolerance, kind, method):
    expected = brute_force(cells, tolerance, kind, method, 0.95)
    assert expected is not None
    assert paired_required_n(cells, tolerance=tolerance, kind=kind, method=method, limit=40) == expected


# -- the gate's checks ---------------------------------------------------------------------------------
def settings(**cli):
    from pytest_mlguard.checks._registry import all_keys
    from pytest_mlguard.config import resolve

    return resolve(cli={k.replace("__", "."): v for k, v in cli.items()}, environ={}, keys=all_keys())


def gate(check, candidate, baseline, y, checks=None, **cli):
    """``gate[check]`` of a candidate right where ``candidate`` says against a baseline right where
    ``baseline`` says, on inputs that are the samples' indices; ``checks``: the gate checks planned
    (default: ``check`` alone)."""
    from pytest_mlguard import CallableModel
    from pytest_mlguard.checks._evaluation import Evaluation
    from pytest_mlguard.checks._registry import family
    from pytest_mlguard.contract import EvalData

    def model(right, name):
        def predict(x):
            i = x[:, 0].astype(int)
            return np.eye(2)[np.where(right[i], y[i], 1 - y[i])]

        return CallableModel(predict, input_shape=(1,), n_classes=2, name=name)

    s = settings(**{"samples": "none", "gate__checks": checks or check, **cli})
    data = EvalData(np.arange(len(y), dtype=float)[:, None], y)
    evaluation = Evaluation(model(candidate, "candidate"), data, s).with_extras({"baseline_model": model(baseline, "baseline")})
    return evaluation.run(family("gate"), family("gate").spec(check, s))


def test_an_undecided_gate_of_robustness_names_the_n_that_decides_its_paired_comparison(tmp_path):
    """A candidate 0.025 worse than production on 360 samples, against a tolerance of 0.05: the paired
    interval straddles it. Before, the check named no n ("no sample size would decide"), which is false:
    the n named now is the smallest at which the paired comparison decides 80% of fresh runs."""
    from pytest_mlguard.reporting._terminal import _inconclusive_lines

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 360)
    baseline = rng.random(360) < 0.9
    candidate = baseline.copy()
    candidate[np.flatnonzero(baseline)[:9]] = False
    result = gate("robustness", candidate, baseline, y, output=str(tmp_path), gate__compare="accuracy", gate__score_drop="100", gate__tolerance="0.05")
    row = result.details["metrics"][0]
    assert result.label == "inconclusive" and row["decision"] == "inconclusive" and row["pairs"] == [int(baseline.sum()) - 9, 9, 0, 360 - int(baseline.sum())]
    expected = paired_required_n(row["pairs"], tolerance=0.05, confidence=result.details["confidence"])
    assert expected is not None and expected > 360 and result.required_n == expected
    lines = [line for line, _ in _inconclusive_lines([result.to_dict()])]
    assert lines[-1].endswith(f"n=360, n={expected} would decide")


def test_a_paired_check_without_a_known_n_names_none():
    from pytest_mlguard.reporting._terminal import _inconclusive_lines

    check = {"model": "m", "id": "gate[robustness]", "n": 360, "verdict": "inconclusive", "passed": True, "policy": "lenient", "required_n": None}
    paired = {**check, "interval": {"low": 0.0, "high": 1.0, "method": "paired-clopper-pearson", "confidence": 0.99}}
    single = {**check, "interval": {"low": 0.7, "high": 0.9, "method": "clopper-pearson", "confidence": 0.99}}
    assert [line for line, _ in _inconclusive_lines([paired])][-1].endswith("n=360")
    assert [line for line, _ in _inconclusive_lines([single])][-1].endswith("n=360, no sample size would decide")


# -- rollback ----------------------------------------------------------------------------------------------
def test_the_rollback_follows_the_agreement_interval_not_its_estimate(tmp_path):
    """Agreement 0.88 on 200 samples against a floor of 0.9: the estimate is below the floor, but its
    interval straddles it, and the check is inconclusive. Before, the rollback followed the estimate
    and was indicated; now it is undecided, as the verdict says. At agreement 0.6 it is decided."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    baseline = np.ones(200, dtype=bool)
    for differ, label, indicated in ((24, "inconclusive", False), (80, "failed", True)):
        candidate = baseline.copy()
        candidate[:differ] = False
        result = gate("agreement", candidate, baseline, y, "agreement,accuracy", output=str(tmp_path), gate__agreement="0.9", gate__class_drop="1")
        rollback = result.details["rollback"]
        assert (result.label, rollback["indicated"]) == (label, indicated)
        assert bool(rollback["undecided"]) is not indicated
        assert rollback["verdict"].startswith("ROLLBACK INDICATED" if indicated else "no rollback decided: the samples cannot tell")


def test_the_rollback_follows_the_class_drop_interval_not_its_estimate(tmp_path):
    """A largest class drop of 0.04 on 100 samples a class, against a tolerated drop of 0.05: the
    estimate is within it, but the paired interval reaches beyond, and the check is inconclusive. Before,
    the rollback said the candidate 'is within every tolerance'; now it says the samples cannot tell. A
    drop of 0.3 is a decided regression, and indicates the rollback."""
    y = np.repeat([0, 1], 100)
    baseline = np.ones(200, dtype=bool)
    for lost, label, indicated in ((4, "inconclusive", False), (30, "failed", True)):
        candidate = baseline.copy()
        candidate[:lost] = False
        result = gate("accuracy", candidate, baseline, y, output=str(tmp_path), gate__class_drop="0.05")
        rollback = result.details["rollback"]
        assert (result.label, rollback["indicated"]) == (label, indicated)
        assert not rollback["verdict"].startswith("no rollback indicated")
        text = (rollback["reasons"] if indicated else rollback["undecided"])[0]
        assert text.startswith("class '0' accuracy fell from 1.000 to") and f"[{result.interval[0]:.3f}, {result.interval[1]:.3f}]" in text


def test_the_rollback_of_an_agreement_that_drew_more_samples_follows_the_interval_it_decided_on(tmp_path):
    """Agreement about 0.95 (then 0.86) against a floor of 0.9: 100 samples leave it undecided, and the
    check draws more of the data until its confidence sequence decides. Before, the rollback kept the
    binomial interval of the first 100 samples: 'no rollback decided' beside a passed check (and beside a
    failed one). Now it names the interval of all the samples the check decided on."""
    rng = np.random.default_rng(5)
    n = 3000
    y = rng.integers(0, 2, n)
    baseline = rng.random(n) < 0.95
    for differ, label, indicated in ((0.05, "passed", False), (0.14, "failed", True)):
        candidate = np.where(rng.random(n) < differ, ~baseline, baseline)
        result = gate("agreement", candidate, baseline, y, "agreement,accuracy", samples="100", output=str(tmp_path), gate__agreement="0.9", gate__class_drop="1")
        assert result.label == label and result.n > 100 and result.interval_method == "confidence-sequence"
        rollback = result.details["rollback"]
        assert (rollback["indicated"], rollback["undecided"]) == (indicated, [])
        if indicated:
            assert f"[{result.interval[0]:.1%}, {result.interval[1]:.1%}]" in rollback["reasons"][0]
        assert rollback["verdict"] in result.message


def test_the_rollback_of_an_agreement_that_stopped_early_names_the_interval_it_reports(tmp_path):
    """Agreement about 0.5 against a floor of 0.9, the agreement gated alone: the check stops at its first
    look with the confidence sequence as its interval. Before, the rollback named the binomial interval
    of the same samples, which is not the interval the check reports."""
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 360)
    baseline = np.ones(360, dtype=bool)
    candidate = rng.random(360) < 0.5
    result = gate("agreement", candidate, baseline, y, output=str(tmp_path), gate__agreement="0.9")
    assert result.label == "failed" and result.interval_method == "confidence-sequence" and result.n < 360
    reason = result.details["rollback"]["reasons"][0]
    assert f"of {result.n} samples, interval [{result.interval[0]:.1%}, {result.interval[1]:.1%}]" in reason
