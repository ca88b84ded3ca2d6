"""--mlguard-cache and --mlguard-cache-clear as a user runs them: a re-run of an unchanged model
reports the same values without one model evaluation, restores the failing examples, and any change
to the weights measures again."""

from __future__ import annotations

import hashlib
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from conftest import run_pytest

TESTS = Path(__file__).resolve().parents[1]

PYPROJECT = """
[tool.mlguard]
samples = 120
[tool.mlguard.accuracy]
floor = 0.85
[tool.mlguard.corruption]
corruptions = ["gaussian_noise"]
severities = [3]
floor = "0.7*clean"
[tool.mlguard.attack]
checks = ["fgsm-linf-0.1"]
floor = 0.9  # fails (about 0.6): its adversarial examples are saved, then restored from the cache
[tool.mlguard.calibration]
ece_ceiling = 0.08
[tool.mlguard.contract]
enabled = false  # the contract checks: tests/plugin/test_deployed_suite.py
"""

# the digits CNN, which counts the samples it is evaluated on (forward passes, gradients included);
# CACHE_TEST_WEIGHT_SHIFT changes one weight
CONFTEST = f"""
import os, sys
sys.path.insert(0, {str(TESTS)!r})
import pytest, torch
import zoo

SAMPLES = []

@pytest.fixture(scope="session")
def mlguard_model():
    model = zoo.good_model()
    with torch.no_grad():
        next(model.module.parameters()).view(-1)[0] += float(os.environ.get("CACHE_TEST_WEIGHT_SHIFT", "0"))
    model.module.register_forward_hook(lambda module, args, out: SAMPLES.append(len(args[0])))
    return model

@pytest.fixture(scope="session")
def mlguard_data():
    return zoo.digits()

def pytest_sessionfinish(session):
    with open(os.path.join(str(session.config.rootpath), "evaluations.txt"), "a") as stream:
        stream.write(f"{{sum(SAMPLES)}}\\n")
"""


@pytest.fixture
def cached_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".toml", pyproject=textwrap.dedent(PYPROJECT))
    return pytester


def evaluations(pytester: pytest.Pytester) -> int:
    """Samples the model evaluated in the last run, over every process of the run."""
    lines = (pytester.path / "evaluations.txt").read_text().split()
    (pytester.path / "evaluations.txt").unlink()
    return sum(int(line) for line in lines)


def checks(pytester: pytest.Pytester) -> dict[str, dict]:
    report = json.loads((pytester.path / "mlguard-report" / "report.json").read_text())
    return {check["id"]: check for check in report["checks"]}


def test_a_cached_rerun_reports_the_same_without_evaluating_the_model(cached_project: pytest.Pytester) -> None:
    first = run_pytest(cached_project, "--mlguard", "--mlguard-cache", "-p", "no:randomly")
    first.assert_outcomes(passed=3, failed=1)
    assert evaluations(cached_project) > 0
    first.stdout.fnmatch_lines(["mlguard cache: 0 of 4 results reused (measured and stored in .pytest_cache/d/mlguard)*"])
    measured = checks(cached_project)
    shutil.rmtree(cached_project.path / "mlguard-report")  # as on a fresh CI checkout with the cache restored

    second = run_pytest(cached_project, "--mlguard", "--mlguard-cache", "-p", "no:randomly")
    second.assert_outcomes(passed=3, failed=1)
    assert evaluations(cached_project) == 0
    second.stdout.fnmatch_lines(
        [
            "*on model 'digits': robust_accuracy * < floor 0.9000*",
            "*from the mlguard cache (measured *); --mlguard-cache-clear measures again",
            "mlguard cache: 4 of 4 results reused from .pytest_cache/d/mlguard *",
        ]
    )
    reused = checks(cached_project)
    for check_id, check in measured.items():
        cached = reused[check_id]["details"].pop("cached")
        assert cached["duration_s"] == check["duration_s"]
        assert {k: v for k, v in reused[check_id].items() if k != "duration_s"} == {k: v for k, v in check.items() if k != "duration_s"}
    artifacts = cached_project.path / "mlguard-report" / "artifacts" / "digits-attack_fgsm-linf-0.1_"
    assert {p.name for p in artifacts.iterdir()} == {"adversarial.npz", "outcomes.json"}

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CACHE_TEST_WEIGHT_SHIFT", "0.001")  # one weight changed: every check measures again
        changed = run_pytest(cached_project, "--mlguard", "--mlguard-cache", "-p", "no:randomly")
    changed.stdout.fnmatch_lines(["mlguard cache: 0 of 4 results reused *"])
    assert evaluations(cached_project) > 0

    cleared = run_pytest(cached_project, "--mlguard-cache-clear")
    cleared.stdout.fnmatch_lines(["mlguard cache: cleared 8 stored results"])
    assert not list((cached_project.path / ".pytest_cache" / "d" / "mlguard").iterdir())


def test_clear_with_the_cache_on_measures_everything_again(cached_project: pytest.Pytester) -> None:
    run_pytest(cached_project, "--mlguard", "--mlguard-cache", "-k", "accuracy or calibration")
    evaluations(cached_project)
    result = run_pytest(cached_project, "--mlguard", "--mlguard-cache", "--mlguard-cache-clear", "-k", "accuracy or calibration")
    result.stdout.fnmatch_lines(["mlguard cache: cleared 2 stored results", "*", "mlguard cache: 0 of 2 results reused *"])
    assert evaluations(cached_project) > 0


def test_xdist_workers_share_the_cache(cached_project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    args = ("--mlguard", "-n", "2", "-p", "no:randomly", "-k", "not attack")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLGUARD_CACHE", "true")  # the cache from the environment, as a CI job would set it
        run_pytest(cached_project, *args).assert_outcomes(passed=3)
        assert evaluations(cached_project) > 0
        rerun = run_pytest(cached_project, *args)
    rerun.assert_outcomes(passed=3)
    rerun.stdout.fnmatch_lines(["mlguard cache: 3 of 3 results reused *"])
    assert evaluations(cached_project) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--mlguard", "--mlguard-cache", "-p", "no:cacheprovider"),
            "ERROR: the mlguard cache (from command line (--mlguard-cache)) needs pytest's cache directory, but pytest's "
            "cacheprovider plugin is disabled by -p no:cacheprovider on the command line: remove it there *",
        ),
        (
            ("--mlguard-cache-clear", "-p", "no:cacheprovider"),
            "ERROR: --mlguard-cache-clear needs pytest's cache directory, but *",
        ),
    ],
)
def test_the_cache_needs_the_cacheprovider(pytester: pytest.Pytester, args: tuple[str, ...], message: str) -> None:
    pytester.makepyfile(test_nothing="def test_nothing(): pass")
    result = run_pytest(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_help_lists_the_cache_options(pytester: pytest.Pytester) -> None:
    run_pytest(pytester, "--help").stdout.fnmatch_lines(
        ["*--mlguard-cache *reuse the results of checks*", "*--mlguard-cache-clear*", "*empty the mlguard result cache*"]
    )


def test_a_crafted_entry_is_a_miss_said_in_one_line_and_writes_nothing_outside_the_report(cached_project: pytest.Pytester) -> None:
    args = ("--mlguard", "--mlguard-cache", "-p", "no:randomly", "-k", "accuracy or calibration")
    run_pytest(cached_project, *args).assert_outcomes(passed=2)
    evaluations(cached_project)
    conftest = (cached_project.path / "conftest.py").read_text()
    results = cached_project.path / ".pytest_cache" / "d" / "mlguard" / "results"
    (entry_path,) = [p for p in results.iterdir() if json.loads(p.read_text())["check"] == "accuracy"]
    entry = json.loads(entry_path.read_text())
    name = "../../../conftest.py"
    stored = cached_project.path / ".pytest_cache" / "d" / "mlguard" / "artifacts" / entry["key"]
    stored.mkdir(parents=True)
    (stored / name).resolve().parent.mkdir(parents=True, exist_ok=True)
    (stored / name).resolve().write_text("raise SystemExit('crafted')\n")
    entry["artifacts"] = {**entry["artifacts"], "files": {name: hashlib.sha256(b"raise SystemExit('crafted')\n").hexdigest()}, "copied": True}
    entry_path.write_text(json.dumps(entry))

    rerun = run_pytest(cached_project, *args)
    rerun.assert_outcomes(passed=2)
    rerun.stdout.fnmatch_lines(
        [
            "mlguard cache: 1 of 2 results reused *",
            "mlguard cache: 1 stored entry not used (measured again): accuracy of 'digits': "
            "artefact name '../../../conftest.py' leaves the check's artefact directory",
        ]
    )
    assert (cached_project.path / "conftest.py").read_text() == conftest
    assert evaluations(cached_project) > 0  # measured again


def test_a_cache_key_too_short_is_a_usage_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_nothing="def test_nothing(): pass")
    monkeypatch.setenv("MLGUARD_CACHE_KEY", "hunter2")
    result = run_pytest(pytester, "--mlguard", "--mlguard-cache")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: Expected a secret of at least 16 characters in MLGUARD_CACHE_KEY (from the environment) but got 7 characters*"])
    assert "hunter2" not in result.stderr.str()
