"""Verdicts end to end: inconclusive checks under each policy, profiles, and the time budget's report."""

from __future__ import annotations

import pytest
from conftest import FAST

INCONCLUSIVE = ("--mlguard", "-k", "accuracy", "--mlguard-samples", "50", "--mlguard-set", "accuracy.floor=0.9")


@pytest.mark.parametrize("policy, outcome", [("lenient", "passed"), ("strict", "failed")])
def test_an_inconclusive_floor_says_so_and_the_policy_decides(project, policy, outcome):
    # on its 50 samples alone: by default it would draw more of the data (below)
    result = project.write(pipeline=None).run(*INCONCLUSIVE, "--mlguard-set", "verdict.more_samples=off", "--mlguard-set", f"verdict.policy={policy}")
    result.assert_outcomes(**{outcome: 1})
    result.stdout.fnmatch_lines(
        [f"digits::accuracy *accuracy 0.9* >= floor 0.9000  n=50 * [[]0.*, *[]] INCONCLUSIVE ({outcome} by policy {policy}; n=* would decide)"]
    )
    check = project.report()["checks"][0]
    assert check["verdict"] == "inconclusive" and check["passed"] is (outcome == "passed") and check["policy"] == policy
    assert check["interval"]["method"] == "clopper-pearson" and check["interval"]["low"] < 0.9 and check["required_n"] > 50
    assert project.report()["error_control"]["models"]["digits"]["procedure"] == "bonferroni"
    if policy == "strict":
        result.stdout.fnmatch_lines([f"accuracy on model 'digits': accuracy 0.9* >= floor 0.9000: inconclusive (fails under policy 'strict'); about n={check['required_n']} samples would decide it"])
        decided = project.run(*INCONCLUSIVE[:-4], "--mlguard-samples", str(check["required_n"]), "--mlguard-set", "accuracy.floor=0.9", "--mlguard-set", "verdict.policy=strict")
        decided.assert_outcomes(passed=1)
        assert project.report()["checks"][0]["verdict"] == "passed"


def test_an_undecided_accuracy_draws_more_of_the_data_by_default_and_decides(project):
    result = project.write(pipeline=None).run(*INCONCLUSIVE)
    result.assert_outcomes(passed=1)
    check = project.report()["checks"][0]
    more = check["details"]["more_samples"]
    assert check["verdict"] == "passed" and check["interval"]["method"] == "confidence-sequence" and check["interval"]["low"] >= 0.9
    assert more["available"] == 310 and check["n"] == 50 + more["drawn"] and more["decided"] == "passed"
    result.stdout.fnmatch_lines([f"digits::accuracy *accuracy 0.9* >= floor 0.9000  n={check['n']} * PASSED"])
    assert "inconclusive (" not in result.stdout.str() and project.report()["summary"]["inconclusive"] == 0


def test_a_profile_overrides_the_project_and_the_command_line_overrides_the_profile(project):
    project.write(pipeline=None)
    project.run("--mlguard", "-k", "accuracy", "--mlguard-profile", "smoke").assert_outcomes(passed=1)
    assert project.report()["samples"] == 200  # the project says 120
    project.run("--mlguard", "-k", "accuracy", "--mlguard-profile", "smoke", "--mlguard-samples", "60").assert_outcomes(passed=1)
    assert project.report()["samples"] == 60


def test_a_budget_runs_the_informative_checks_first_and_reports_what_it_shortened_or_cut(project):
    grid = FAST + '\n[tool.mlguard.corruption]\ncorruptions = "all"\nseverities = "all"\n'
    grid = grid.replace('[tool.mlguard.corruption]\nfloor = "0.7*clean"\n', "")
    project.write(pipeline=None, pyproject=grid)
    # far more than 2 s of work on any machine: 95 corruption checks and 50-step attacks on every sample (the
    # budget counts from this run's start: in-process, no import time; at 6 s the shortened checks all fitted)
    heavy = ("--mlguard-samples", "360", "--mlguard-set", "verdict.early_stop=off", "--mlguard-set", "attack.steps=50")
    heavy += ("--mlguard-set", "attack.checks=pgd-linf-0.1,pgd-linf-sweep")
    result = project.run("--mlguard", "--mlguard-budget", "2s", *heavy, "-v", "-rs")
    report = project.report()
    budget = report["budget"]
    ran = [line.split("::")[-1].split(" ")[0] for line in result.stdout.lines if line.startswith("conftest.py::mlguard::")]
    assert ran[0] == "accuracy" and ran.index("calibration[ece]") < ran.index("corruption[gaussian_noise-1]") < ran.index("attack[pgd-linf-0.1]") < ran.index("attack[pgd-linf-sweep]")
    assert budget["seconds"] == 2 and budget["cut"] and budget["shortened"] is not None
    # the throughput is measured at the first check, unless start-up took the whole budget (a loaded machine)
    assert budget["throughput"] > 0 if report["checks"] else budget["throughput"] is None or budget["throughput"] > 0
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # cut checks count as not passed
    cut = {entry["check"] for entry in budget["cut"]}
    measured = {check["id"] for check in report["checks"]}
    gray = [line for line in result.stdout.lines if line.startswith("SKIPPED") and "changes colour only" in line]
    assert not cut & measured and len(cut) + len(measured) + len(gray) == len(ran)
    result.stdout.fnmatch_lines(["*budget 2 s: * s spent before the reports; * check* shortened, * cut", "  cut *: *", "SKIPPED * cut by --mlguard-budget: *"])
    for entry in budget["shortened"]:
        assert entry["n"] < entry["planned_n"]
