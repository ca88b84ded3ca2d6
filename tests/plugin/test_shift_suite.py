"""The shift family as a user runs it: the digits example's logged production samples through
``mlguard_production``; the shifted one fails every check naming what drifted, the in-distribution one
passes; without the fixture the checks do not apply; a malformed sample is a contract error. The
tabular example's logged days: its sensor-fault day fails the estimated accuracy, as its true accuracy
does, and its unit-change day keeps the documented failure of ATC."""

from __future__ import annotations

from html.parser import HTMLParser

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FAST, run_pytest

USAGE_ERROR = 4
SHIFT = """
[tool.mlguard.shift]
checks = ["classes", "confidence", "inputs", "embedding", "ood", "accuracy"]
"""
PRODUCTION = """
from digits_production import logged_days, logged_sample
from pytest_mlguard import ProductionLog


@pytest.fixture(scope="session")
def mlguard_production():
    return {value}
"""


def _write(project, value: str | None) -> None:
    project.write(pipeline=None, pyproject=FAST + SHIFT)
    if value is not None:
        conftest = project.pytester.path / "conftest.py"
        conftest.write_text(conftest.read_text() + PRODUCTION.format(value=value))


def _checks(project):
    return {check["id"]: check for check in project.report()["checks"] if check["family"] == "shift"}


def test_the_shifted_sample_fails_every_check_naming_what_drifted(project):
    _write(project, 'logged_sample("shifted")[0]')
    result = project.run("--mlguard", "-k", "shift")
    result.assert_outcomes(failed=6)
    result.stdout.fnmatch_lines(
        [
            "*shift[[]inputs[]] on model 'digits': p_value 0.0000 < floor 0.0100",
            "*production drifts from the evaluation data in 2 of 2 inputs tests*brightness (ks distance 1.000, median 0.3018 -> 0.5521*",
            "*shift[[]accuracy[]] on model 'digits': estimated_accuracy 0.6600 < floor 0.8775 (0.9*clean)",
        ]
    )
    checks = _checks(project)
    assert checks["shift[classes]"]["details"]["tests"][0]["what"] == "'2': 10.8% -> 0.7%"
    assert checks["shift[accuracy]"]["interval"]["method"] == "bootstrap"
    assert checks["shift[accuracy]"]["interval"]["high"] < 0.8775
    assert checks["shift[ood]"]["details"]["score"] == "energy" and checks["shift[ood]"]["interval"]["low"] > 0.15
    embedding = checks["shift[embedding]"]["details"]["tests"][0]
    assert embedding["test"] == "mmd" and embedding["p_value"] < 0.01 and checks["shift[embedding]"]["details"]["holm_tests"] == 5


def test_the_in_distribution_sample_passes(project):
    _write(project, 'logged_sample("in-distribution")[0]')
    result = project.run("--mlguard", "-k", "shift")
    result.assert_outcomes(passed=6)
    checks = _checks(project)
    assert all(check["value"] > 0.01 for name, check in checks.items() if name != "shift[accuracy]")
    assert checks["shift[accuracy]"]["value"] > 0.95
    assert checks["shift[ood]"]["value"] < 0.1


def test_without_mlguard_production_the_checks_do_not_apply(project):
    _write(project, None)
    result = project.run("--mlguard", "-k", "shift", "-rs")
    result.assert_outcomes(skipped=6)
    result.stdout.fnmatch_lines(["*shift[[]classes[]]: no production sample: define a fixture mlguard_production in conftest.py*"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("logged_sample('shifted')[0][:, :, :4, :4]", "*mlguard_production: Expected an array of model inputs*but got ndarray of shape (300, 1, 4, 4)*"),
        ("['today.jsonl']", "*mlguard_production: Expected*but got 1 files*"),
    ],
)
def test_a_malformed_sample_is_a_contract_error(project, value, message):
    _write(project, value)
    result = project.run("--mlguard", "-k", "shift")
    assert result.ret == USAGE_ERROR, result.stdout.str()
    result.stdout.fnmatch_lines([message])


def test_the_result_cache_never_reuses_a_result_of_another_days_sample(project):
    _write(project, 'logged_sample("in-distribution")[0]')
    project.run("--mlguard", "--mlguard-cache", "-o", "addopts=", "-k", "shift and classes").assert_outcomes(passed=1)
    conftest = project.pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text().replace('logged_sample("in-distribution")', 'logged_sample("shifted")'))
    result = project.run("--mlguard", "--mlguard-cache", "-o", "addopts=", "-k", "shift and classes")
    result.assert_outcomes(failed=1)
    assert not _checks(project)["shift[classes]"]["details"].get("cached")


class _Tables(HTMLParser):
    """The cells of report.html's tables, by their ``data-table``, and its figures' ``data-plot``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.plots: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "table" and named.get("data-table"):
            self._table = str(named["data-table"])
            self.tables.setdefault(self._table, [])
        elif tag == "figure" and named.get("data-plot"):
            self.plots.append(str(named["data-plot"]))
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_the_report_shows_the_drift_table_the_embedding_null_and_the_estimated_accuracy(project):
    _write(project, 'logged_sample("shifted")[0]')
    project.run("--mlguard", "-k", "shift").assert_outcomes(failed=6)
    table = project.report()["shift"]["digits"]
    names = [row["name"] for row in table["tests"]]
    assert sorted(names) == ["brightness", "classes", "confidence", "contrast", "embedding"]
    adjusted = [row["p_adjusted"] for row in table["tests"]]
    assert adjusted == sorted(adjusted) and all(row["drifts"] for row in table["tests"])
    brightness = next(row for row in table["tests"] if row["name"] == "brightness")
    assert brightness["reference"]["median"] < 0.35 < 0.5 < brightness["production"]["median"] and brightness["production"]["n"] == 300
    assert table["embedding"]["null"]["permutations"] >= 1000 and table["embedding"]["null"]["observed"] > table["embedding"]["null"]["q99"]
    assert table["accuracy"]["estimated_accuracy"] == pytest.approx(0.66) and table["accuracy"]["interval"]["method"] == "bootstrap"
    page = _Tables()
    page.feed((project.pytester.path / "mlguard-report" / "report.html").read_text())
    header, *rows = page.tables["shift-drift"]
    assert header[:7] == ["check", "tested", "test", "statistic", "p-value", "Holm p-value", "effect size"]
    assert [row[1] for row in rows] == names and rows[0][7].startswith("median ") and rows[0][8].endswith("n=300")
    header, row = page.tables["shift-accuracy"]
    assert row[:2] == ["ATC (max-probability)", "0.66"] and row[2].startswith("[0.") and row[-1] == "failed"
    assert "shift-null" in page.plots and "shift" in page.plots


def test_a_window_of_a_timestamped_log_compares_its_last_day(project):
    _write(project, 'ProductionLog(*logged_days("shifted")[:2])')
    result = project.run("--mlguard", "-k", "shift", "--mlguard-set", "shift.window=1d", "--mlguard-set", "shift.reference=previous-window")
    result.assert_outcomes(failed=6)
    result.stdout.fnmatch_lines(
        [
            "*production drifts from the previous window in 2 of 2 inputs tests (production n=300, previous window n=300): brightness*",
            "*production: the last 1d of the log, 2026-12-02T00:00:00Z to 2026-12-03T00:00:00Z: 300 of its 900 inputs",
        ]
    )
    window = _checks(project)["shift[inputs]"]["details"]["window"]
    assert window["reference"] == {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z", "n": 300}
    result = project.run("--mlguard", "-k", "shift", "--mlguard-set", "shift.window=10m")  # an upload every 288 s: 3 in the last 10 minutes
    assert result.ret == USAGE_ERROR, result.stdout.str()
    result.stdout.fnmatch_lines(["*mlguard_production: Expected at least 10 inputs in the window shift.window selects, but the last 10m of the log, 2026-12-02T23:50:00Z to 2026-12-03T00:00:00Z: 3 of its 900 inputs"])


CUSTOM = """
import pytest
from digits_production import logged_sample, shift_images


@pytest.mark.mlguard
def test_a_brighter_scanner_is_seen(mlguard):
    x, _ = logged_sample("in-distribution")
    mlguard.check("shift[inputs]", production=shift_images(x, 0.3, 0.0))


@pytest.mark.mlguard
def test_yesterdays_log_does_not_drift(mlguard):
    mlguard.check("shift[classes]")


@pytest.mark.mlguard
def test_the_estimated_accuracy_of_a_sample_it_builds(mlguard):
    shifted, _ = logged_sample("shifted")
    assert mlguard.measure("shift[accuracy]", production=shifted).value < 0.8
    assert mlguard.measure("shift[accuracy]").value > 0.95
"""


def test_custom_tests_run_shift_checks_on_the_projects_sample_or_one_they_build(project):
    _write(project, 'logged_sample("in-distribution")[0]')
    project.pytester.makepyfile(test_nightly_shift=CUSTOM)  # not a module name of this test suite: the run is in-process
    result = project.run("--mlguard", "test_nightly_shift.py")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*shift[[]inputs[]] on model 'digits': p_value 0.0000 < floor 0.0100*", "*production drifts from the evaluation data in 2 of 2 inputs tests*brightness*"]
    )
    checks = [check for check in project.report()["checks"] if check["family"] == "shift"]
    assert sorted(check["id"] for check in checks) == ["shift[classes]", "shift[inputs]"]
    assert all(check["nodeid"].startswith("test_nightly_shift.py::") for check in checks)


def test_shift_checks_carry_the_junit_properties_and_the_badge_of_the_other_families(project):
    import xml.etree.ElementTree as ET

    _write(project, 'logged_sample("shifted")[0]')
    project.run("--mlguard", "-k", "shift[ or gaussian_noise", "--junitxml=junit.xml").assert_outcomes(failed=6, passed=1)
    cases = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")} for case in ET.parse(project.pytester.path / "junit.xml").getroot().iter("testcase")}
    corruption = set(cases.pop("corruption[gaussian_noise-3]"))
    assert sorted(cases) == sorted(f"shift[{name}]" for name in ("classes", "confidence", "inputs", "embedding", "ood", "accuracy"))
    report = json.loads((project.pytester.path / "mlguard-report" / "report.json").read_text())
    intervals = {check["id"]: check.get("interval") is not None for check in report["checks"]}
    assert "mlguard_interval" in corruption and not intervals["shift[classes]"]  # a chi-squared test has no interval
    for name, properties in cases.items():
        kind = "ceiling" if name == "shift[ood]" else "floor"
        expected = {p.replace("mlguard_floor", f"mlguard_{kind}") for p in corruption}
        if not intervals[name]:
            expected.discard("mlguard_interval")
        assert set(properties) == expected, name
        assert properties["mlguard_verdict"] == "failed" and properties["mlguard_n"] == "300"
    badge = project.pytester.path / "mlguard-report" / "badge-shift.svg"
    assert badge.is_file() and ": shift<" in badge.read_text()  # "robustness (partial): shift", as badge-corruption.svg


SCANNED = '''
import io

import numpy as np
from PIL import Image, ImageOps
from pytest_mlguard import Pipeline


class Unreadable(ValueError):
    pass


def decode(data):
    """The service's decode: its scanner's uploads are 16x16 and dark on light; it inverts and halves them."""
    with Image.open(io.BytesIO(data)) as image:
        grey = ImageOps.invert(image.convert("L")).resize((8, 8), Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32)[None] / 255.0


@pytest.fixture(scope="session")
def mlguard_pipeline(mlguard_model):
    return Pipeline(lambda data: mlguard_model.predict_proba(decode(data)[None])[0], rejects=Unreadable, decode=decode, name="scanner-service")
'''


def test_the_suite_reads_image_files_through_the_pipelines_decode(project):
    from PIL import Image
    from digits_production import logged_sample

    uploads = project.pytester.path / "uploads"
    uploads.mkdir()
    for i, image in enumerate(logged_sample("in-distribution")[0][:, 0]):  # as the scanner stores them
        inverted = np.round(255 - image * 255).astype(np.uint8).repeat(2, axis=0).repeat(2, axis=1)
        Image.fromarray(inverted).save(uploads / f"{i:03d}.png")
    _write(project, repr(str(uploads)))
    conftest = project.pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + SCANNED)
    result = project.run("--mlguard", "-k", "shift and inputs", "--mlguard-set", "shift.checks=inputs")
    result.assert_outcomes(passed=1)
    check = _checks(project)["shift[inputs]"]
    assert check["details"]["files"]["decoded_by"] == "scanner-service" and check["details"]["production_samples"] == 300
    assert check["value"] > 0.01, check["message"]


TABULAR = Path(__file__).resolve().parents[2] / "examples" / "tabular"


def _tabular_day(pytester, monkeypatch, day: str):
    """``examples/tabular`` with ``WINE_PRODUCTION=day`` as docs/drift.md runs it, the service suite's
    shift checks by id, and the day's true accuracy (its labels are known to wine_production.py)."""
    monkeypatch.setenv("WINE_PRODUCTION", day)
    output = pytester.path / "report"
    result = run_pytest(pytester, "--mlguard", "--mlguard-profile", "production", str(TABULAR), "-k", "shift", f"--mlguard-output={output}")
    checks = {c["id"]: c for c in json.loads((output / "report.json").read_text())["checks"] if c["model"] == "wine" and c["family"] == "shift"}
    monkeypatch.syspath_prepend(str(TABULAR))
    from wine_production import estimates

    return result, checks, estimates(day)["true accuracy"]


@pytest.mark.slow
def test_the_tabular_sensor_fault_day_fails_the_estimated_accuracy_as_its_truth_does(pytester, monkeypatch):
    result, checks, truth = _tabular_day(pytester, monkeypatch, "sensor-fault")
    result.stdout.fnmatch_lines(
        [
            "*shift[[]inputs[]] on model 'wine': p_value 0.0000 < floor 0.0100",
            "*production drifts from the evaluation data in 4 of 13 inputs tests*total_phenols (ks distance *); od280/od315_of_diluted_wines (*); flavanoids (*), and 1 more",
            "*shift[[]accuracy[]] on model 'wine': estimated_accuracy 0.7900 < floor 0.9000 (0.9*clean)",
        ]
    )
    accuracy = checks["shift[accuracy]"]
    assert accuracy["verdict"] == "failed" and accuracy["interval"]["high"] < 0.9  # decided below the floor, not inconclusive
    assert truth < 0.9 and accuracy["interval"]["low"] <= truth <= accuracy["interval"]["high"]
    assert not any(check["passed"] for check in checks.values())


@pytest.mark.slow
def test_the_tabular_unit_change_day_is_the_documented_failure_of_atc(pytester, monkeypatch):
    result, checks, truth = _tabular_day(pytester, monkeypatch, "shifted")
    result.stdout.fnmatch_lines(["*production drifts from the evaluation data in 1 of 13 inputs tests*: proline (ks distance 1.000, median 670 -> 0.68*"])
    assert {name for name, check in checks.items() if not check["passed"]} == {"shift[inputs]", "shift[classes]"}
    assert checks["shift[accuracy]"]["value"] > 0.9 > truth  # confident mistakes: ATC cannot see them (docs/drift.md)


@pytest.mark.slow
def test_the_tabular_in_distribution_day_passes(pytester, monkeypatch):
    result, checks, truth = _tabular_day(pytester, monkeypatch, "in-distribution")
    result.assert_outcomes(passed=11, deselected=result.parseoutcomes()["deselected"])
    assert truth == 1.0 and checks["shift[accuracy]"]["value"] == 1.0
