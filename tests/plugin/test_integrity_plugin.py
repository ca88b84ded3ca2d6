"""Run integrity end to end: a run always ends, always ends with a whole report, and never passes silently."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
from conftest import TESTS

ONLY = """
[tool.mlguard]
samples = 60
[tool.mlguard.contract]
enabled = false
[tool.mlguard.accuracy]
floor = 0.85
[tool.mlguard.corruption]
floor = "0.7*clean"
[tool.mlguard.attack]
checks = ["fgsm-linf-0.1"]
floor = 0.3
[tool.mlguard.calibration]
checks = ["ece"]
ece_ceiling = 0.2
"""  # four checks: accuracy, corruption[gaussian_noise-3], attack[fgsm-linf-0.1], calibration[ece]
ACCURACY_ONLY = """
[tool.mlguard]
samples = 60
[tool.mlguard.contract]
enabled = false
[tool.mlguard.accuracy]
floor = 0.85
[tool.mlguard.corruption]
enabled = false
[tool.mlguard.attack]
enabled = false
[tool.mlguard.calibration]
enabled = false
"""


def strict_loads(text):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def write_model(project, body, pyproject=ONLY):
    """A project whose model is ``body`` (the source of an ``nn.Module`` named ``Net``)."""
    conftest = f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import pytest, torch, zoo
        from torch import nn
        from pytest_mlguard import TorchModel
        {textwrap.indent(textwrap.dedent(body), " " * 8).strip()}
        @pytest.fixture(scope="session")
        def mlguard_model():
            return TorchModel(Net(), input_shape=(1, 8, 8), n_classes=10, name="broken")
        @pytest.fixture(scope="session")
        def mlguard_data():
            return zoo.digits()
        """
    project.pytester.makeconftest(textwrap.dedent(conftest))
    project.pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n" + pyproject)


def stale_report(project, *names):
    """What an earlier run left in mlguard-report/."""
    output = project.pytester.path / "mlguard-report"
    output.mkdir()
    for name in ("report.json", *names):
        (output / name).write_text('{"stale": true}')
    return output


# -- a report, whatever the model does ------------------------------------------------------------------
def test_a_model_returning_nan_still_gets_a_whole_strict_json_report(project):
    write_model(
        project,
        """
        class Net(nn.Module):
            def forward(self, x):
                return torch.full((len(x), 10), float("nan"))
        """,
    )
    result = project.run("--mlguard")
    assert "Out of range float values are not JSON compliant" not in result.stdout.str() + result.stderr.str()
    output = project.pytester.path / "mlguard-report"
    report = strict_loads((output / "report.json").read_text())
    assert report["interrupted"] is False and report["partial"] is False
    # NaN outputs fail the checks that meet them (docs/model-contract.md); any NaN left is written as null
    assert all(value in ("nan", "inf", "-inf") for value in report.get("non_finite", {}).values())
    assert all(not check["passed"] for check in report["checks"])
    assert {"report.html", "badge.svg", "badge.json"} <= {p.name for p in output.iterdir()}
    measured = {check["id"] for check in report["checks"]} | {entry["id"] for entry in report["errors"]}
    assert measured == {"accuracy", "corruption[gaussian_noise-3]", "attack[fgsm-linf-0.1]", "calibration[ece]"}
    # under a budget too (whose first step times the model): the checks measure and fail, none "could not run"
    budgeted = project.run("--mlguard", "--mlguard-budget", "10m")
    assert "could not run" not in budgeted.stdout.str()
    again = strict_loads((output / "report.json").read_text())
    assert {check["id"] for check in again["checks"]} == {check["id"] for check in report["checks"]} and not again["errors"]


def test_a_run_whose_checks_all_errored_writes_its_report_and_leaves_nothing_of_the_old_one(project):
    write_model(
        project,
        """
        class Net(nn.Module):  # answers the declaration's probe, then fails on every call of the checks
            calls = 0
            def forward(self, x):
                Net.calls += 1
                if Net.calls > 1:
                    raise RuntimeError("CUDA error: device-side assert triggered")
                return torch.zeros(len(x), 10)
        """,
    )
    output = stale_report(project, "badge-calibration.svg", "badge-attack.json")
    result = project.run("--mlguard")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = strict_loads((output / "report.json").read_text())
    assert report["checks"] == [] and report["summary"]["errors"] == 4
    assert {e["id"] for e in report["errors"]} == {"accuracy", "corruption[gaussian_noise-3]", "attack[fgsm-linf-0.1]", "calibration[ece]"}
    assert all("device-side assert" in e["reason"] and e["kind"] == "error" and e["nodeid"].startswith("conftest.py::mlguard::") for e in report["errors"])
    assert not (output / "badge-calibration.svg").exists() and not (output / "badge-attack.json").exists()
    assert 'id="not-measured"' in (output / "report.html").read_text()
    result.stdout.fnmatch_lines(["*accuracy ERROR (error): *device-side assert*", "written: report mlguard-report/report.json*"])


# -- the output directory ---------------------------------------------------------------------------------
@pytest.mark.parametrize("where, args, named", [
    ("command line", ("--mlguard-output", "a-file/report"), "command line (--mlguard-output)"),
    ("pyproject", (), "pyproject.toml"),
])
def test_an_output_directory_that_cannot_be_written_stops_the_run_at_start_up(project, where, args, named):
    project.write(pipeline=None, pyproject=ONLY.replace("samples = 60", 'samples = 60\noutput = "a-file"'))
    (project.pytester.path / "a-file").write_text("in the way")
    result = project.run("--mlguard", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    path = project.pytester.path / ("a-file/report" if args else "a-file")
    result.stderr.fnmatch_lines([f"ERROR: cannot write the mlguard report to {path} (output, from {named}*): *: expected a directory *--mlguard-output DIR"])
    assert "accuracy" not in result.stdout.str()  # nothing was measured


def test_a_report_that_cannot_be_written_at_the_end_fails_the_run(project):
    project.write(pipeline=None, pyproject=ACCURACY_ONLY.replace("samples = 60", 'samples = 60\noutput = "out/report"'))
    project.pytester.makepyfile(
        test_later="""
        import pathlib, shutil
        def test_something_takes_the_output_directory_away():
            shutil.rmtree("out", ignore_errors=True)
            pathlib.Path("out").write_text("a file now")
        """
    )
    result = project.run("--mlguard")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["could not write the mlguard report to *out/report: *"])


def test_an_output_directory_given_apart_that_would_move_the_rootdir_is_a_usage_error(project, tmp_path_factory):
    """pytest looks for the rootdir before it knows --mlguard-output, and takes a separate DIR that exists for a
    test path: outside the project, the project's pyproject.toml (accuracy floor 0.999 here) would be missed."""
    project.write(pipeline=None, pyproject=ACCURACY_ONLY.replace("floor = 0.85", "floor = 0.999"))
    outside = tmp_path_factory.mktemp("elsewhere")
    result = project.run("--mlguard", "--mlguard-output", str(outside))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --mlguard-output {outside} (two arguments) names an existing directory outside *expected --mlguard-output={outside} (with '=')"])
    # with "=" pytest reads it as meant: the project's floor holds, and fails the clean accuracy
    result = project.run("--mlguard", f"--mlguard-output={outside}")
    result.assert_outcomes(failed=1)
    assert (outside / "report.json").is_file()
    # a directory inside the project moves nothing
    (project.pytester.path / "reports").mkdir()
    project.run("--mlguard", "--mlguard-output", "reports").assert_outcomes(failed=1)


# -- no silent pass ---------------------------------------------------------------------------------------------
def test_a_budget_that_fits_nothing_fails_the_run_and_reports_the_cut_checks(project):
    project.write(pipeline=None, pyproject=ONLY)
    result = project.run("--mlguard", "--mlguard-budget", "0.1s")
    result.assert_outcomes(skipped=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = strict_loads((project.pytester.path / "mlguard-report" / "report.json").read_text())
    assert report["checks"] == [] and report["summary"]["cut"] == 4
    assert {(e["id"], e["model"], e["kind"]) for e in report["skipped"]} == {
        (check, "digits", "cut") for check in ("accuracy", "corruption[gaussian_noise-3]", "attack[fgsm-linf-0.1]", "calibration[ece]")
    }
    assert all(e["reason"] and e["nodeid"].startswith("conftest.py::mlguard::") for e in report["skipped"])
    result.stdout.fnmatch_lines(["4 of 4 checks cut by the budget of 0.1 s, more than budget_max_cut = 0 allows (from default): the run fails*"])
    allowed = project.run("--mlguard", "--mlguard-budget", "0.1s", "--mlguard-set", "budget_max_cut=1")
    assert allowed.ret == pytest.ExitCode.TESTS_FAILED  # cuts allowed, but a run that measured nothing still fails
    allowed.stdout.fnmatch_lines(["no check was measured: the run fails*"])


def test_a_later_run_in_the_same_process_counts_its_budget_from_its_own_start(project, monkeypatch):
    """The budget's clock starts with the run, not with the process: a process that has run for long
    (an IDE, a notebook, pytester in-process, pytest.main() called twice) must not find a later run's
    budget already spent (under load in CI, a 10 min budget was 'spent' 0.5 s into such a run)."""
    from pytest_mlguard import _clock

    monkeypatch.setattr(_clock, "LOADED", _clock.LOADED - 3600.0)  # the process started an hour ago
    project.write(pipeline=None, pyproject=ONLY)
    result = project.run("--mlguard", "--mlguard-budget", "10m")
    report = strict_loads((project.pytester.path / "mlguard-report" / "report.json").read_text())
    assert report["summary"]["cut"] == 0 and len(report["checks"]) == 4, result.stdout.str()


@pytest.mark.parametrize("select", [("-k", "accuracy"), ("conftest.py::mlguard::accuracy",)])
def test_a_partial_run_says_so_and_labels_its_badges(project, select):
    project.write(pipeline=None, pyproject=ONLY)
    previous = os.umask(0o027)
    try:
        result = project.run("--mlguard", *select)
    finally:
        os.umask(previous)
    result.assert_outcomes(passed=1)
    output = project.pytester.path / "mlguard-report"
    report = strict_loads((output / "report.json").read_text())
    selection = report["selection"]
    assert report["partial"] is True and selection["selected"] == 1 and selection["planned"] == 4
    if select[0] == "-k":
        assert selection["keyword"] == "accuracy" and not selection["node_ids"]
        result.stdout.fnmatch_lines(["partial run: 1 of 4 checks selected (-k 'accuracy'); the score and the badges (labelled 'partial') cover only these"])
    else:
        assert selection["node_ids"] == ["conftest.py::mlguard::accuracy"] and selection["keyword"] is None
        result.stdout.fnmatch_lines(["partial run: 1 of 4 checks selected (node ids); *"])
    assert json.loads((output / "badge.json").read_text())["label"] == "robustness (partial)"
    assert 'id="partial"' in (output / "report.html").read_text()
    for path in output.iterdir():  # the umask's mode, not mkstemp's 0600
        assert path.stat().st_mode & 0o777 == (0o750 if path.is_dir() else 0o640), path


# -- interrupted runs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("signal_name, by", [("SIGTERM", "SIGTERM"), ("SIGINT", "KeyboardInterrupt (Ctrl-C)")])
def test_an_interrupted_run_writes_what_it_measured_marked_interrupted(project, signal_name, by):
    project.write(pipeline=None, pyproject=ACCURACY_ONLY)
    project.pytester.makepyfile(
        test_stop=f"""
        import os, signal
        def test_ci_cancels_the_job():
            # Ctrl-C's handler, which a job started in the background (`cmd &`) runs without
            signal.signal(signal.SIGINT, signal.default_int_handler)
            os.kill(os.getpid(), signal.{signal_name})
        def test_never_runs():
            pass
        """
    )
    output = stale_report(project, "badge-calibration.svg")
    result = project.run("--mlguard", isolated=True)  # the signal goes to the process that runs pytest
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = strict_loads((output / "report.json").read_text())
    assert list(report)[2:4] == ["interrupted", "interrupted_by"] and report["interrupted"] is True and report["interrupted_by"] == by
    assert [check["id"] for check in report["checks"]] == ["accuracy"]
    assert not (output / "badge-calibration.svg").exists()
    assert 'id="interrupted"' in (output / "report.html").read_text()
    result.stdout.fnmatch_lines([f"INTERRUPTED ({by}): the report holds the 1 check measured before the run stopped"])


# -- runs end -----------------------------------------------------------------------------------------------------
def test_a_check_without_an_answer_fails_after_its_timeout_and_the_run_goes_on(project):
    project.write(model="hanging_model", pipeline=None, pyproject=ONLY)
    result = project.pytester.runpytest_subprocess("--mlguard", "--mlguard-set", "timeout=10", timeout=240)
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*corruption[[]gaussian_noise-3[]]: no answer within 10 s (timeout, from command line (--mlguard-set timeout=...)); stopped in *zoo.py:* (forward)*"])
    report = strict_loads((project.pytester.path / "mlguard-report" / "report.json").read_text())
    assert {c["id"] for c in report["checks"]} == {"accuracy", "calibration[ece]"}
    assert {(e["id"], e["kind"]) for e in report["errors"]} == {("corruption[gaussian_noise-3]", "timeout"), ("attack[fgsm-linf-0.1]", "timeout")}


def test_the_budget_bounds_a_run_whose_model_hangs(project):
    project.write(model="hanging_model", pipeline=None, pyproject=ONLY)
    # the model waits on a lock that is never released: without a bound the run never ends
    project.pytester.makeconftest(project.pytester.path.joinpath("conftest.py").read_text().replace("zoo.hanging_model()", 'zoo.hanging_model("lock")'))
    result = project.pytester.runpytest_subprocess("--mlguard", "--mlguard-budget", "30s", timeout=240)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # checks were cut
    report = strict_loads((project.pytester.path / "mlguard-report" / "report.json").read_text())
    cut = {e["id"]: e["reason"] for e in report["skipped"] if e["kind"] == "cut"}
    assert {"corruption[gaussian_noise-3]", "attack[fgsm-linf-0.1]"} <= set(cut)
    assert any("stopped at the end of the budget of 30 s" in reason for reason in cut.values())
    assert {c["id"] for c in report["checks"]} <= {"accuracy", "calibration[ece]"}


def test_checks_that_do_not_apply_are_listed_as_not_applicable(project):
    project.write(model="black_box_model", pipeline=None, pyproject=ONLY)  # scores only: no gradient attack applies
    result = project.run("--mlguard")
    result.assert_outcomes(passed=3, skipped=1)
    report = strict_loads((project.pytester.path / "mlguard-report" / "report.json").read_text())
    [entry] = report["skipped"]
    assert (entry["id"], entry["model"], entry["kind"], entry["nodeid"]) == ("attack[fgsm-linf-0.1]", "black-box", "not-applicable", "conftest.py::mlguard::attack[fgsm-linf-0.1]")
    assert "gradient" in entry["reason"] and report["summary"]["skipped"] == 1 and report["summary"]["cut"] == 0
    assert result.ret == pytest.ExitCode.OK  # a check that does not apply is no reason to fail
