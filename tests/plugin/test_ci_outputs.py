"""GitHub Actions: the job summary appended to ``$GITHUB_STEP_SUMMARY`` and one workflow command per
check that did not pass, printed when ``GITHUB_ACTIONS=true`` (docs/ci.md); ``report.github = false``
turns both off; MLflow (``--mlguard-mlflow``) against a local file store."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import subprocess
import sys

import pytest
from test_hooks import TWO_CHECKS

#: accuracy fails (its floor above any interval of the digits model), calibration is inconclusive
ONE_FAILED_ONE_INCONCLUSIVE = TWO_CHECKS + "[tool.mlguard.accuracy]\nfloor = 0.9999\n[tool.mlguard.calibration]\nece_ceiling = 0.031\n"


def on_github(project, monkeypatch, tmp_path):
    summary = tmp_path / "step-summary.md"
    summary.write_text("## an earlier step's summary\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(project.pytester.path.parent))
    project.write(pipeline=None, pyproject=ONE_FAILED_ONE_INCONCLUSIVE)
    return summary


def test_github_job_summary_and_annotations(project, monkeypatch, tmp_path):
    summary = on_github(project, monkeypatch, tmp_path)
    result = project.run("--mlguard")
    assert result.ret == 1, result.stdout.str()
    report = project.report()
    accuracy, calibration = report["checks"]
    assert (accuracy["verdict"], calibration["verdict"]) == ("failed", "inconclusive")

    text = summary.read_text()
    assert text.startswith("## an earlier step's summary\n## pytest-mlguard: robustness score ")  # appended, not replaced
    assert f"robustness score {report['score']:.1f} / 100" in text
    assert "1 of 2 checks passed, 1 failed; 1 inconclusive (counted by the policy); 0 errors, 0 skipped, 0 cut by the budget." in text
    component = 100 * report["score_components"]["digits"]["components"]["accuracy"]
    assert f"| digits | accuracy | {component:.1f} | 1 | 0 | 1 | 0 |" in text
    failed = text.split("### Failed checks")[1].split("###")[0]
    interval = f"97.5% {accuracy['interval']['method']} interval [{accuracy['interval']['low']:.4f}, {accuracy['interval']['high']:.4f}]"
    assert f"| digits | accuracy | accuracy {accuracy['value']:.4f} | floor 0.9999 | {interval} | {accuracy['n']} |" in failed
    assert "pytest --mlguard conftest.py::mlguard::accuracy --mlguard-seed 0\n" in failed
    assert "http" not in text and "](" not in text  # link-free

    commands = [line for line in result.stdout.lines if line.startswith("::")]
    folder = project.pytester.path.name  # the file is relative to GITHUB_WORKSPACE, the project's parent
    line = 1 + (project.pytester.path / "conftest.py").read_text().splitlines().index("def mlguard_model():")
    assert commands == [
        f"::error file={folder}/conftest.py,line={line},title=mlguard digits%3A%3Aaccuracy failed::"
        f"accuracy {accuracy['value']:.4f}, floor 0.9999; {interval.replace('%', '%25')}; n={accuracy['n']}"
        "%0Arerun alone: pytest --mlguard conftest.py::mlguard::accuracy --mlguard-seed 0",
        f"::warning file={folder}/conftest.py,line={line},title=mlguard digits%3A%3Acalibration[ece] inconclusive::"
        f"ece {calibration['value']:.4f}, ceiling 0.0310; 97.5%25 consistency-resampling interval "
        f"[{calibration['interval']['low']:.4f}, {calibration['interval']['high']:.4f}]; n={calibration['n']}; inconclusive (passed by policy lenient)"
        "%0Arerun alone: pytest --mlguard 'conftest.py::mlguard::calibration[ece]' --mlguard-seed 0",
    ]


def test_github_outputs_off_with_the_setting(project, monkeypatch, tmp_path):
    summary = on_github(project, monkeypatch, tmp_path)
    result = project.run("--mlguard", "--mlguard-set", "report.github=false")
    assert result.ret == 1, result.stdout.str()
    assert summary.read_text() == "## an earlier step's summary\n"
    assert not [line for line in result.stdout.lines if re.match(r"::(error|warning) ", line)]


def test_gitlab_code_quality_and_no_annotations_outside_github_actions(project, monkeypatch, tmp_path):
    summary = on_github(project, monkeypatch, tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "")
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_PROJECT_DIR", str(project.pytester.path))
    result = project.run("--mlguard")
    assert result.ret == 1, result.stdout.str()
    assert "### Failed checks" in summary.read_text()  # the summary file is asked for by its own variable
    assert not [line for line in result.stdout.lines if line.startswith("::")]
    report = project.report()
    issues = json.loads((project.pytester.path / "mlguard-report" / "gl-code-quality-report.json").read_text())
    line = 1 + (project.pytester.path / "conftest.py").read_text().splitlines().index("def mlguard_model():")
    assert [(i["check_name"], i["severity"], i["location"]) for i in issues] == [
        ("mlguard/accuracy", "major", {"path": "conftest.py", "lines": {"begin": line}}),
        ("mlguard/calibration[ece]", "minor", {"path": "conftest.py", "lines": {"begin": line}}),
    ]
    assert issues[0]["description"].startswith(f"mlguard digits::accuracy failed: accuracy {report['checks'][0]['value']:.4f}, floor 0.9999; ")
    assert len({i["fingerprint"] for i in issues}) == 2


#: what the MLflow store holds, read by MLflow's client in a process of its own: MLflow imported in a
#: pytester test's process (and forgotten by pytester's module snapshot at its end) left importlib.metadata
#: finding no installed distribution, so that a later in-process run loaded no entry-point plugin
READ_STORE = """
import json, sys, mlflow
client = mlflow.MlflowClient(tracking_uri=sys.argv[1])
runs = client.search_runs(experiment_ids=["0"])
print(json.dumps([{
    "id": run.info.run_id, "name": run.info.run_name, "status": run.info.status,
    "metrics": run.data.metrics, "tags": run.data.tags,
    "artifacts": sorted(entry.path for entry in client.list_artifacts(run.info.run_id, "mlguard")),
    "report": json.load(open(client.download_artifacts(run.info.run_id, "mlguard/report.json", sys.argv[2]))),
} for run in runs]))
"""


def test_mlflow_logs_every_check_to_a_local_store(project, monkeypatch, tmp_path):
    if importlib.util.find_spec("mlflow") is None:  # not imported here: see READ_STORE
        pytest.skip("MLflow is not installed (pip install 'pytest-mlguard[mlflow]')")
    store = f"file://{tmp_path / 'mlruns'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store in maintenance mode
    project.write(pipeline=None, pyproject=ONE_FAILED_ONE_INCONCLUSIVE)
    result = project.run("--mlguard", "--mlguard-mlflow", isolated=True)  # MLflow, as above: not in this process
    assert result.ret == 1, result.stdout.str()
    report = project.report()

    read = subprocess.run([sys.executable, "-c", READ_STORE, store, str(tmp_path)], capture_output=True, text=True, check=True)
    (run,) = json.loads(read.stdout.splitlines()[-1])
    result.stdout.fnmatch_lines([f"mlguard: logged to MLflow run {run['id']}"])
    assert run["status"] == "FINISHED" and run["name"] == "pytest-mlguard"
    metrics, tags = run["metrics"], run["tags"]
    assert metrics["mlguard/score"] == report["score"]
    for check in report["checks"]:
        name = f"mlguard/digits/{check['id'].replace('[', '.').replace(']', '')}"
        assert metrics[name] == check["value"]
        assert (metrics[f"{name}.low"], metrics[f"{name}.high"]) == (check["interval"]["low"], check["interval"]["high"])
        assert tags[f"{name}.verdict"] == check["verdict"]
    assert tags["mlguard/digits/accuracy.threshold"] == "floor 0.9999" and tags["mlguard/passed"] == "false"
    assert run["artifacts"] == ["mlguard/report.html", "mlguard/report.json"]
    assert run["report"]["checks"] == report["checks"]


def test_mlflow_logs_to_the_store_a_conftest_collected_later_sets(project, monkeypatch, tmp_path):
    """A conftest.py below the rootdir, imported as the run collects its folder, that calls mlflow.set_tracking_uri,
    with no MLFLOW_TRACKING_URI in the environment: the run was stopped at its start for MLflow's default store
    (sqlite, which mlflow-skinny cannot open); the store is checked once every conftest.py is imported.
    (A conftest.py the run imports before it starts, or its pytest_configure, sets MLFLOW_TRACKING_URI in time:
    mlflow.set_tracking_uri exports it.)"""
    if importlib.util.find_spec("mlflow") is None:  # not imported here: see READ_STORE
        pytest.skip("MLflow is not installed (pip install 'pytest-mlguard[mlflow]')")
    store = f"file://{tmp_path / 'mlruns'}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store in maintenance mode
    project.write(pipeline=None, pyproject=TWO_CHECKS)
    (project.pytester.path / "tracking").mkdir()
    (project.pytester.path / "tracking" / "conftest.py").write_text(f"import mlflow\n\nmlflow.set_tracking_uri({store!r})\n")
    result = project.run("--mlguard", "--mlguard-mlflow", isolated=True)  # MLflow, as above: not in this process
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    read = subprocess.run([sys.executable, "-c", READ_STORE, store, str(tmp_path)], capture_output=True, text=True, check=True)
    (run,) = json.loads(read.stdout.splitlines()[-1])
    result.stdout.fnmatch_lines([f"mlguard: logged to MLflow run {run['id']}"])


def test_pytest_html_rows_carry_the_check_and_link_to_report_html(project):
    pytest.importorskip("pytest_html")
    project.write(pipeline=None, pyproject=ONE_FAILED_ONE_INCONCLUSIVE)
    result = project.run("--mlguard", "--html=pages/tests.html")
    assert result.ret == 1, result.stdout.str()
    report = project.report()
    page = (project.pytester.path / "pages" / "tests.html").read_text()
    blob = json.loads(html.unescape(re.search(r'data-jsonblob="(.*?)"', page).group(1)))
    rows = {test["testId"]: test["resultsTableRow"] for tests in blob["tests"].values() for test in tests}
    header = re.findall(r'<th class="mlguard">(.*?)</th>', html.unescape(page))
    assert header == ["mlguard value", "threshold", "interval", "mlguard report"]
    own = (project.pytester.path / "mlguard-report" / "report.html").read_text()
    for check in report["checks"]:
        cells = [re.sub(r'^<td class="mlguard">|</td>$', "", cell) for cell in rows[check["nodeid"]][2:6]]
        kind = "floor" if "floor" in check else "ceiling"
        anchor = "check-" + re.sub(r"[^A-Za-z0-9_.:-]", "-", check["nodeid"])
        assert cells == [
            f"{check['metric']} {check['value']:.4f}",
            html.escape(f"{'≥' if kind == 'floor' else '≤'} {check[kind]:.4f}"),
            f"[{check['interval']['low']:.4f}, {check['interval']['high']:.4f}]",
            f'<a href="../mlguard-report/report.html#{anchor}">report.html</a>',
        ]
        assert f'id="{anchor}"' in own  # the link's target: the check's row in report.html


def test_mlflow_that_cannot_log_fails_the_run(project, monkeypatch, tmp_path):
    if importlib.util.find_spec("mlflow") is None:  # not imported here: see READ_STORE
        pytest.skip("MLflow is not installed (pip install 'pytest-mlguard[mlflow]')")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file://{tmp_path / 'mlruns'}")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # MLflow 3 refuses its file store without it
    project.write(pipeline=None, pyproject=TWO_CHECKS)
    result = project.run("--mlguard", "--mlguard-mlflow", isolated=True)
    assert result.ret == 1, result.stdout.str()
    assert all(check["passed"] for check in project.report()["checks"])  # the checks passed: MLflow failed the run
    result.stdout.fnmatch_lines(["mlguard: could not log to MLflow: MlflowException: *MLFLOW_ALLOW_FILE_STORE*"])
