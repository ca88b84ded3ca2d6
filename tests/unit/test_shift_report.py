"""The shift family's report: each test's summaries of both samples and the embedding's null
distribution, report.json's ``shift`` table (most drifting first) and report.html's section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_mlguard.checks.api import check_model
from pytest_mlguard.contract import CallableModel, EvalData
from pytest_mlguard.production._shift.embedding import mmd_test
from pytest_mlguard.production._shift.statistics import frequency_test, missing_test, numeric_test
from pytest_mlguard.production._shift.tables import sections, shift_tables
from pytest_mlguard.reporting import build_report
from pytest_mlguard.reporting._html import render_html

EVIL = "<script>alert(1)</script>"


def test_each_test_summarises_both_samples():
    rng = np.random.default_rng(3)
    numeric = numeric_test("x", rng.normal(0, 1, 400), rng.normal(2, 1, 300))
    assert numeric.reference["n"] == 400 and numeric.production["n"] == 300
    assert abs(numeric.reference["median"]) < 0.2 and abs(numeric.production["median"] - 2) < 0.2
    assert numeric.reference["p05"] < numeric.reference["median"] < numeric.reference["p95"]
    frequency = frequency_test("classes", [0] * 50 + [1] * 50 + [2] * 100, [0] * 90 + [1] * 10 + [2] * 100, labels=["cat", "dog", "eel"])
    assert frequency.reference["shares"] == {"cat": 0.25, "dog": 0.25, "eel": 0.5} and frequency.production["shares"]["cat"] == 0.45
    missing = missing_test("x (missing)", np.r_[np.ones(10), np.zeros(90)].astype(bool), np.r_[np.ones(40), np.zeros(60)].astype(bool))
    assert (missing.reference["missing_rate"], missing.production["missing_rate"]) == (0.1, 0.4)
    assert set(numeric.to_dict()) >= {"reference", "production"} and "null" not in numeric.to_dict()


def test_the_mmd_keeps_its_null_distribution():
    rng = np.random.default_rng(5)
    same = mmd_test(rng.normal(size=(80, 3)), rng.normal(size=(80, 3)), permutations=300, rng=rng)
    moved = mmd_test(rng.normal(size=(80, 3)), rng.normal(1.0, 1, size=(80, 3)), permutations=300, rng=rng)
    for test in (same, moved):
        assert test.null is not None and test.null["permutations"] == 300 and sum(test.null["counts"]) == pytest.approx(1.0, abs=1e-4)
        assert test.null["observed"] == pytest.approx(test.statistic) and test.null["median"] <= test.null["q95"] <= test.null["q99"]
    assert moved.null["observed"] > moved.null["q99"] and same.null["observed"] < same.null["q99"]


def _wine(column: str):
    """check_model's shift results for a table whose second column changed unit, named ``column``."""
    rng = np.random.default_rng(8)
    x = rng.normal([13, 700, 2.4], [1, 300, 0.3], size=(300, 3))
    y = (x[:, 1] > 700).astype(int)

    def predict(b):
        p = 1 / (1 + np.exp(-(b[:, 1] - 700) / 60))
        return np.stack([1 - p, p], axis=1)

    model = CallableModel(predict, input_shape=(3,), n_classes=2, value_range=(0.0, 2000.0), name="wine")
    production = dict(zip(("alcohol", column, "ash"), rng.normal([13, 700, 2.4], [1, 300, 0.3], size=(200, 3)).T))
    production[column] = production[column] / 1000.0
    checks = ["shift[classes]", "shift[inputs]", "shift[accuracy]"]
    settings = {"shift.checks": ["classes", "inputs", "accuracy"], "verdict.bootstrap": 200}
    return check_model(model, EvalData(x, y), checks, settings=settings, extras={"production": production})


def test_report_json_holds_every_test_the_most_drifting_first_and_the_estimated_accuracy():
    results = _wine("proline")
    table = shift_tables([result.to_dict() for result in results])["wine"]
    assert [row["name"] for row in table["tests"]][:2] == ["proline", "classes"] and len(table["tests"]) == 4
    assert [row["drifts"] for row in table["tests"]] == [True, True, False, False] and table["alpha"] == 0.01
    assert table["tests"][0]["reference"]["median"] > 500 > 1 > table["tests"][0]["production"]["median"]
    accuracy = next(result for result in results if result.id == "shift[accuracy]")
    assert table["accuracy"]["estimated_accuracy"] == accuracy.value and table["accuracy"]["interval"]["low"] == accuracy.interval[0]
    assert table["accuracy"]["evaluation_accuracy"] == 1.0 and "embedding" not in table


def test_report_html_shows_the_tables_and_escapes_the_names(tmp_path: Path):
    results = _wine(EVIL)
    report = build_report([result.to_dict() for result in results], seed=0, samples=None, models={})
    shown = sections(report)
    assert [table["kind"] for table in shown[0]["tables"]] == ["shift-drift", "shift-accuracy"]
    assert shown[0]["tables"][0]["rows"][0]["cells"][1] == EVIL and shown[0]["tables"][0]["rows"][0]["bad"]
    page = render_html(report, tmp_path)
    assert 'id="shift"' in page and 'data-table="shift-drift"' in page and 'href="#shift"' in page
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert sections(build_report([], seed=0, samples=None, models={})) == []
