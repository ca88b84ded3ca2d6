"""The shift family as a user runs it: the digits example's logged production samples through
``mlguard_production``; the shifted one fails every check naming what drifted, the in-distribution one
passes; without the fixture the checks do not apply; a malformed sample is a contract error."""

from __future__ import annotations

import pytest
from conftest import FAST

USAGE_ERROR = 4
SHIFT = """
[tool.mlguard.shift]
checks = ["classes", "confidence", "inputs", "embedding", "ood", "accuracy"]
"""
PRODUCTION = """
from digits_production import logged_sample


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
