"""The tabular family as a user runs it: record models of the zoo over the tabular example's table. The
example's model passes every check; the model that crashes on a missing column fails tabular[missing]
alone, naming the column and where it raised; the unit-dependent one fails tabular[scale_up-3] alone; an
image project plans no tabular check."""

from __future__ import annotations

import json
import textwrap

import pytest
from conftest import FAST, TESTS, run_pytest

EXAMPLES = TESTS.parent / "examples"

TABULAR = """
[tool.mlguard.tabular]
checks = ["missing", "perturbation", "shift"]
severities = [3]
"""
CONFTEST = """
import sys
sys.path.insert(0, {tests!r})
import pytest
import zoo
from pytest_mlguard import TableData


@pytest.fixture(scope="session")
def mlguard_model():
    return zoo.{model}()


@pytest.fixture(scope="session")
def mlguard_data() -> TableData:
    return zoo.wine_table()
"""
#: every check of the plan above
PLANNED = {
    "tabular[missing]",
    *(f"tabular[{p}-3]" for p in ("numeric_noise", "rounding", "scale_up", "scale_down", "out_of_range", "category_swap", "unseen_category")),
    "tabular[covariate_shift-3]",
}


def _run(project, model: str):
    project.pytester.makeconftest(textwrap.dedent(CONFTEST.format(tests=str(TESTS), model=model)))
    project.pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n" + FAST + TABULAR)
    result = project.run("--mlguard", "-k", "tabular")
    checks = {check["id"]: check for check in project.report()["checks"] if check["family"] == "tabular"}
    assert set(checks) == PLANNED
    return result, checks


def test_the_example_record_model_passes_every_tabular_check(project):
    result, checks = _run(project, "wine_record_model")
    result.assert_outcomes(passed=len(PLANNED))
    ranked = checks["tabular[missing]"]["details"]["columns"]
    assert len(ranked) == 14 and ranked[0]["column"] == "proline" and ranked[0]["drop"] == max(row["drop"] for row in ranked)
    page = (project.pytester.path / "mlguard-report" / "report.html").read_text()
    assert 'data-plot="tabular-curves"' in page and 'data-plot="tabular-missing"' in page  # the curves, the ranked columns


@pytest.mark.parametrize(
    ("model", "failing", "line"),
    [
        (
            "crashes_on_missing_model",
            "tabular[missing]",
            "*magnesium missing: model 'crashes-on-missing' raised ValueError at zoo.py:*: cannot convert float NaN to integer*",
        ),
        ("unit_dependent_model", "tabular[scale_up-3]", "*tabular[[]scale_up-3[]] on model 'unit-dependent': accuracy 0.3333 < floor*"),
    ],
)
def test_a_broken_record_model_fails_exactly_its_check(project, model, failing, line):
    result, checks = _run(project, model)
    result.assert_outcomes(passed=len(PLANNED) - 1, failed=1)
    assert [name for name, check in checks.items() if not check["passed"]] == [failing]
    result.stdout.fnmatch_lines([line])


@pytest.mark.parametrize("pyproject", [FAST, FAST + TABULAR], ids=["default", "tabular-checks-on"])
def test_an_image_project_plans_no_tabular_check(project, pyproject):
    project.write(pipeline=None, pyproject=pyproject)
    result = project.run("--mlguard", "--collect-only", "-q")
    assert "tabular" not in result.stdout.str() and "accuracy" in result.stdout.str()


@pytest.mark.slow
def test_the_crashing_example_fails_the_missing_checks_only(pytester):
    """examples/tabular/crashing: its per-request code reads magnesium with int(); tabular[missing] and, with
    the absent checks planned, tabular[absent] fail on magnesium, and every other check of the example passes."""
    output = pytester.path / "report"
    checks = "tabular.checks=missing,absent,perturbation,shift"
    result = run_pytest(pytester, "--mlguard", str(EXAMPLES / "tabular" / "crashing"), f"--mlguard-output={output}", "--mlguard-set", checks)
    result.assert_outcomes(passed=27, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*tabular[[]missing[]] on model 'wine-crashing': accuracy 0.0000, floor 0.8000 (0.8*clean): fails, magnesium missing: model 'wine-crashing' raised TypeError at conftest.py:*: int() argument must be *, not 'NoneType'",
            "*tabular[[]absent[]] on model 'wine-crashing': accuracy 0.0000*magnesium absent: model 'wine-crashing' raised KeyError*",
        ]
    )
    report = {check["id"]: check for check in json.loads((output / "report.json").read_text())["checks"]}
    assert {name for name, check in report.items() if not check["passed"]} == {"tabular[missing]", "tabular[absent]"}
    assert {"accuracy", "calibration[ece]", "tabular[scale_up-3]", "tabular[covariate_shift-3]", "skew[predictions]"} <= set(report)
    assert report["tabular[missing]"]["details"]["columns"][0]["column"] == "magnesium"


def test_pgd_runs_through_a_torch_record_model_in_a_project(project):
    """tabular[pgd-<eps>] as a user plans it: the zoo's wine MLP holds 0.25 spreads and fails 3."""
    project.pytester.makeconftest(textwrap.dedent(CONFTEST.format(tests=str(TESTS), model="wine_torch_record_model")))
    pgd = '\n[tool.mlguard.tabular]\nchecks = ["pgd"]\nperturbable = ["proline", "color_intensity", "flavanoids", "alcohol"]\nattack_eps = [0.25, 3]\n'
    project.pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n" + FAST + pgd)
    result = project.run("--mlguard", "-k", "tabular")
    result.assert_outcomes(passed=1, failed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(["*tabular[[]pgd-3[]] on model 'wine-torch': robust_accuracy 0.0556 < floor 0.5000 (0.5*clean)*", "*PGD on proline, *: 51 of 54 rows*"])
    checks = {check["id"]: check for check in project.report()["checks"] if check["family"] == "tabular"}
    assert checks["tabular[pgd-0.25]"]["passed"] and checks["tabular[pgd-3]"]["details"]["broken"] == 51
