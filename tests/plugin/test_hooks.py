"""The project's hooks, implemented in a conftest.py as a user would: ``pytest_mlguard_plan``,
``pytest_mlguard_result`` and ``pytest_mlguard_report`` (docs/fixtures.md#hooks)."""

from __future__ import annotations

from conftest import FAST, Project

PLAN_HOOK = """

def pytest_mlguard_plan(config, family, checks):
    with open("plan.log", "a") as log:
        log.write(f"{family} {[c.id for c in checks]}\\n")
    if family == "attack":  # drop FGSM, and add a check the settings did not plan
        from pytest_mlguard.checks._registry import family as family_named
        from pytest_mlguard._stash import session_of

        extra = family_named("attack").spec("pgd-linf-0.05", session_of(config).settings)
        checks[:] = [c for c in checks if "fgsm" not in c.id] + [extra]
    if family == "calibration":
        checks.clear()
"""

RESULT_AND_REPORT_HOOKS = """

def pytest_mlguard_result(config, result):
    with open("results.log", "a") as log:
        log.write(f"{result.id} {result.label} {result.n}\\n")


def pytest_mlguard_report(config, report):
    report["commit"] = "abc123"
    report["checks"] = [c for c in report["checks"] if c["id"] != "calibration[ece]"]
"""

#: accuracy and calibration only: two quick checks
TWO_CHECKS = "[tool.mlguard]\nsamples = 120\n" + "".join(
    f"[tool.mlguard.{name}]\nenabled = false\n" for name in ("contract", "corruption", "attack", "inputs")
)


def with_hooks(project: Project, hooks: str, pyproject: str) -> Project:
    project.write(pipeline=None, pyproject=pyproject)
    conftest = project.pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + hooks)
    return project


def test_plan_hook_sees_each_familys_checks_and_changes_them_in_place(project):
    with_hooks(project, PLAN_HOOK, FAST)
    result = project.run("--mlguard", "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str()
    planned = dict(line.split(" ", 1) for line in (project.pytester.path / "plan.log").read_text().splitlines())
    assert planned["attack"] == "['attack[fgsm-linf-0.1]', 'attack[pgd-linf-0.1]']"  # what the settings planned
    assert planned["calibration"] == "['calibration[ece]']" and planned["accuracy"] == "['accuracy']"
    collected = [line.split("::mlguard::")[1] for line in result.stdout.lines if "::mlguard::" in line]
    assert "attack[pgd-linf-0.1]" in collected and "attack[pgd-linf-0.05]" in collected
    assert not any("fgsm" in item or item.startswith("calibration") for item in collected)


def test_result_hook_gets_every_result_and_report_hook_changes_the_written_report(project):
    with_hooks(project, RESULT_AND_REPORT_HOOKS, TWO_CHECKS)
    result = project.run("--mlguard")
    assert result.ret == 0, result.stdout.str()
    logged = (project.pytester.path / "results.log").read_text().splitlines()
    assert logged == ["accuracy passed 120", "calibration[ece] passed 120"]
    report = project.report()
    assert report["commit"] == "abc123"
    assert [c["id"] for c in report["checks"]] == ["accuracy"]  # the hook's change is what was written
