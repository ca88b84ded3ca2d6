"""A detector or a segmentation model under --mlguard-shard or in --mlguard-merge is a usage error when the
run starts, naming what shards (classification), the model's task and what to do, before any check runs.
Before, a detector's shard errored on every check (AttributeError: no predict_proba) and a segmentation
model's merge ended in an INTERNALERROR (labels of shape (N, H, W) replayed as a classifier's)."""

from __future__ import annotations

import sys

import pytest
from conftest import TESTS, run_pytest

import pytest_mlguard._session

EXAMPLES = {"detection": TESTS.parent / "examples" / "detection", "segmentation": TESTS.parent / "examples" / "segmentation"}
#: a short shard: the clean checks of 8 images
SHORT = ("-p", "no:cacheprovider", "-k", "accuracy", "--mlguard-samples=8")


def usage_error(task: str, run: str) -> list[str]:
    """The lines of the usage error for a ``task`` model under ``run`` (the option as the message names it)."""
    return [
        f"ERROR: {run} supports classification models only (their checks add up each sample's outcome); this run's model is a "
        f"{task} model (task = {task}, from *pyproject.toml [[]tool.mlguard[]]), whose metrics are measured on the whole set: "
        "run it unsharded (without --mlguard-shard and --mlguard-merge), or spread it over CI matrix jobs by check, *(-k accuracy, -k corruption, -k attack, ...)"
    ]


@pytest.mark.parametrize("task", sorted(EXAMPLES))
def test_a_shard_of_a_task_model_stops_before_any_check_runs(pytester, task):
    if task == "detection":
        pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")
    output = pytester.path / "shards" / "0"
    result = run_pytest(pytester, "--mlguard", str(EXAMPLES[task]), "--mlguard-shard", "0/2", f"--mlguard-output={output}", *SHORT)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-3000:]
    result.stderr.fnmatch_lines(usage_error(task, "--mlguard-shard 0/2 (shard, from command line (--mlguard-shard))"))
    assert not output.exists()  # no check ran, no partial report, no statistics for a merge


@pytest.mark.parametrize("task", sorted(EXAMPLES))
def test_a_merge_of_a_task_models_shards_stops_before_any_check_is_recomputed(pytester, monkeypatch, task):
    if task == "detection":
        pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")
    shards = pytester.path / "shards"
    with monkeypatch.context() as patch:  # shards written without the guard, as before it
        for module in (sys.modules.get("pytest_mlguard._shard._tasks"), pytest_mlguard._session):  # the first: absent before
            if module is not None:  # its check_task, called before the conftest.py, and the name the session calls it by
                patch.setattr(module, "check_task", lambda settings, merging: None, raising=False)
        run_pytest(pytester, "--mlguard", str(EXAMPLES[task]), "--mlguard-shard", "0/1", f"--mlguard-output={shards / '0'}", *SHORT)
    assert (shards / "0" / "mlguard-shard.npz").is_file()
    output = pytester.path / "merged"
    result = run_pytest(pytester, str(EXAMPLES[task]), f"--mlguard-output={output}", *SHORT, f"--mlguard-merge={shards / '0'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-3000:]
    result.stderr.fnmatch_lines(usage_error(task, "--mlguard-merge"))
    assert not output.exists()


@pytest.mark.parametrize("option", [("--mlguard", "--mlguard-shard", "1/2"), ("--mlguard-merge", "shards/0")], ids=["shard", "merge"])
def test_the_task_is_checked_before_the_projects_conftest_imports_torch(pytester, option):
    pytester.makepyprojecttoml('[tool.mlguard]\ntask = "segmentation"\n')
    pytester.makeconftest('raise RuntimeError("conftest.py imported: torch and the model would load here")')
    (pytester.path / "shards" / "0").mkdir(parents=True)
    (pytester.path / "shards" / "0" / "mlguard-shard.npz").write_bytes(b"")  # the merge's directory holds a shard file
    result = run_pytest(pytester, "-p", "no:cacheprovider", *option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-3000:]
    result.stderr.fnmatch_lines(["ERROR: --mlguard-* supports classification models only *a segmentation model (task = segmentation, from *"])
    assert "conftest.py imported" not in result.stdout.str() + result.stderr.str()
