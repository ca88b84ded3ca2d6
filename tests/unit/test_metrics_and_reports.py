"""Calibration metrics against an independent implementation; score, report, badge, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pytest_mlguard.calibration.metrics import expected_calibration_error, reliability_bins
from pytest_mlguard.checks._base import CheckResult, CheckSpec, Measurement
from pytest_mlguard.config import Threshold
from pytest_mlguard.reporting import SCHEMA, build_report, robustness_score, write_outputs
from pytest_mlguard.reporting._atomic import write_files
from pytest_mlguard.reporting._badge import badge_svg, score_color


def random_proba(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * rng.uniform(0.5, 4)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.where(rng.random(n) < 0.7, proba.argmax(axis=1), rng.integers(0, k, n))
    return proba, labels


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bins", [5, 15])
def test_ece_matches_torchmetrics(seed, bins):
    from torchmetrics.functional.classification import multiclass_calibration_error

    proba, labels = random_proba(500, 10, seed)
    ours = expected_calibration_error(proba, labels, bins)
    theirs = multiclass_calibration_error(
        torch.from_numpy(proba), torch.from_numpy(labels), num_classes=10, n_bins=bins, norm="l1"
    ).item()
    assert ours == pytest.approx(theirs, abs=1e-6)


def test_confidence_of_one_falls_in_last_bin_and_empty_bins_are_zero():
    proba = np.array([[1.0, 0.0], [1.0, 0.0], [0.55, 0.45]])
    bins = reliability_bins(proba, np.array([0, 1, 0]), n_bins=10)
    assert bins["count"][-1] == 2 and bins["count"][5] == 1 and sum(bins["count"]) == 3
    assert bins["accuracy"][3] == 0.0 and bins["confidence"][3] == 0.0
    # ECE: last bin |0.5 - 1.0| * 2/3 + bin 5 |1 - 0.55| * 1/3
    assert expected_calibration_error(proba, np.array([0, 1, 0]), 10) == pytest.approx(0.5 * 2 / 3 + 0.45 / 3)


def result(value, *, family="accuracy", kind="floor", threshold=None, clean=None, model="m", name=None):
    spec = CheckSpec(family, name, "metric", Threshold(0.5) if threshold is None else threshold, kind)
    details = {"clean_accuracy": clean} if clean is not None else {}
    return CheckResult.from_measurement(spec, model, Measurement(value, 10, clean=clean, details=details), seed=0, duration_s=0.1)


def test_verdicts_floor_ceiling_relative_and_nan():
    assert result(0.5).passed and not result(0.49).passed
    assert result(0.1, kind="ceiling", threshold=Threshold(0.1)).passed
    assert not result(0.11, kind="ceiling", threshold=Threshold(0.1)).passed
    relative = result(0.7, family="corruption", threshold=Threshold(0.8, "clean"), clean=0.9)
    assert relative.threshold == pytest.approx(0.72) and not relative.passed
    nan = result(float("nan"))
    assert not nan.passed and nan.to_dict()["value"] is None


def test_result_round_trips_through_json():
    original = result(0.75, family="corruption", threshold=Threshold(0.8, "clean"), clean=0.9, name="x-1")
    data = json.loads(json.dumps(original.to_dict()))
    assert data["floor"] == pytest.approx(0.72) and data["threshold"] == "0.8*clean"
    assert CheckResult.from_dict(data).to_dict() == original.to_dict()


def test_score_components():
    checks = [
        result(0.9).to_dict(),
        result(0.45, family="corruption", clean=0.9, name="a").to_dict(),
        result(0.9, family="corruption", clean=0.9, name="b").to_dict(),
        result(0.1, family="calibration", kind="ceiling", threshold=Threshold(0.2)).to_dict(),
    ]
    score = robustness_score(checks)
    components = score["models"]["m"]["components"]
    assert components == {"accuracy": 0.9, "calibration": 0.9, "corruption": 0.75}
    assert score["score"] == pytest.approx(100 * (0.9 + 0.9 + 0.75) / 3, abs=0.05)
    weighted = robustness_score(checks, {"corruption": 2.0})
    assert weighted["score"] == pytest.approx(100 * (0.9 + 0.9 + 2 * 0.75) / 4, abs=0.05)


def test_report_is_ordered_and_schema_versioned(tmp_path):
    checks = [result(0.9, model="b").to_dict(), result(0.8, family="calibration", kind="ceiling").to_dict(), result(0.6).to_dict()]
    report = build_report(checks, seed=3, samples=None, models={"m": {}, "b": {}})
    assert report["schema"] == SCHEMA and report["seed"] == 3 and 0 <= report["score"] <= 100
    assert [(c["model"], c["family"]) for c in report["checks"]] == [("b", "accuracy"), ("m", "accuracy"), ("m", "calibration")]
    assert report["summary"] == {"total": 3, "passed": 2, "failed": 1, "inconclusive": 0, "errors": 0, "skipped": 0, "cut": 0}
    paths = write_outputs(report, tmp_path / "out")
    assert json.loads(paths["report"].read_text())["checks"] == report["checks"]
    assert paths["badge"].read_text().startswith("<?xml")


def test_badge_colour_follows_score():
    assert score_color(30) == "red" and score_color(99) == "green"
    svg = badge_svg(42.0)
    assert ">42.0<" in svg and "robustness" in svg


def test_write_files_is_all_or_nothing(tmp_path, monkeypatch):
    (tmp_path / "report.json").write_text("old")
    real_fdopen = __import__("os").fdopen
    calls = {"n": 0}

    def failing_fdopen(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real_fdopen(*args, **kwargs)

    monkeypatch.setattr("pytest_mlguard.reporting._atomic.os.fdopen", failing_fdopen)
    with pytest.raises(OSError, match="disk full"):
        write_files({tmp_path / "report.json": b"new", tmp_path / "badge.svg": b"<svg/>"})
    assert (tmp_path / "report.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
