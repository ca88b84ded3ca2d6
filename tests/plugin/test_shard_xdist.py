"""A shard run under pytest-xdist (`--mlguard-shard I/N -n K`, docs/scale.md): the workers share the
shard's checks, the controller writes the shard's statistics file once, and the merge equals the
unsharded run; a merge under ``-n`` runs on the controller alone."""

from __future__ import annotations

import collections
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import Project
from test_shard_suite import SHARDED, checks, run_shards

#: conftest.py lines that log each write of the shard's statistics file, naming the process (restored at the end of the run)
LOG_WRITES = """
import os
import pytest_mlguard.reporting._atomic as _atomic
_write_files = _atomic.write_files
def _logged(files, *args, **kwargs):
    with open("writes.txt", "a") as log:
        for path in files:
            log.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'controller')} {os.path.basename(path)}\\n")
    return _write_files(files, *args, **kwargs)
_atomic.write_files = _logged
def pytest_unconfigure(config):
    _atomic.write_files = _write_files
"""
#: the two shards of SHARDED run with -n 2 (and their log of writes), run once for the tests of this module
_SHARDS: list[Path] = []


def xdist_shards(project: Project, tmp_path_factory: pytest.TempPathFactory) -> None:
    """``shards/0`` and ``shards/1`` of SHARDED, each run on two xdist workers, and ``writes.txt``:
    run by the first test, copied for the others."""
    root = project.pytester.path
    if _SHARDS:
        shutil.copytree(_SHARDS[0] / "shards", root / "shards")
        shutil.copy(_SHARDS[0] / "writes.txt", root / "writes.txt")
        return
    conftest = root / "conftest.py"
    conftest.write_text(conftest.read_text() + textwrap.dedent(LOG_WRITES))
    run_shards(project, 2, "-n", "2")
    project.write(pipeline=None, pyproject=SHARDED)
    _SHARDS.append(tmp_path_factory.mktemp("xdist-shards"))
    shutil.copytree(root / "shards", _SHARDS[0] / "shards")
    shutil.copy(root / "writes.txt", _SHARDS[0] / "writes.txt")


@pytest.fixture
def controller(project, monkeypatch) -> Project:
    """The project of SHARDED. This test may itself run on a worker of the project's own ``-n 2`` run:
    the projects' controllers are not workers."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)
    return project.write(pipeline=None, pyproject=SHARDED)


@pytest.fixture
def sharded(controller, tmp_path_factory) -> Project:
    """The project with the two shards run under xdist."""
    xdist_shards(controller, tmp_path_factory)
    return controller


def controller_writes_the_whole_shard_file_once(sharded: Project) -> None:
    """Under xdist the controller, no worker, wrote each shard's statistics file, once, with every worker's arrays."""
    writes = collections.Counter((sharded.pytester.path / "writes.txt").read_text().splitlines())
    assert writes["controller mlguard-shard.npz"] == 2 and not [line for line in writes if line.startswith("gw")], writes  # once a shard
    with np.load(sharded.pytester.path / "shards/1/mlguard-shard.npz", allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        arrays = {name: data[name] for name in data.files}
    assert {check["id"] for check in header["checks"]} == {
        "accuracy",
        "corruption[gaussian_noise-3]",
        "corruption[fog-3]",
        "calibration[ece]",
        "attack[fgsm-linf-0.1]",  # sharded per sample, as the corruptions
        "attack[pgd-linf-0.1]",
    }
    model = {name: arrays[key] for name, key in header["models"]["digits"]["arrays"].items()}
    mine = model["positions"]  # the shard's places in the unsharded order, once each
    assert 0 < len(mine) < 120 and np.array_equal(mine, np.unique(mine)) and len(model["labels"]) == len(model["clean_proba"]) == len(mine)
    for check in header["checks"]:
        if check["kind"] == "outcomes":  # each worker's arrays under names of their own in the one file
            assert np.array_equal(arrays[check["arrays"]["positions"]], mine), check["id"]
            assert len(arrays[check["arrays"]["outcomes"]]) == len(mine), check["id"]
    assert {result["id"] for result in header["results"]} == {check["id"] for check in header["checks"]}


def test_shards_run_on_two_workers_write_their_file_once_and_merge_into_the_unsharded_run(sharded):
    # one test, so that the project's own -n 2 run cannot send the two halves (and the -n 2 shard runs) to both of its workers
    controller_writes_the_whole_shard_file_once(sharded)
    whole = sharded.run("--mlguard", "--mlguard-output", "whole")
    assert whole.ret == 0, whole.stdout.str()
    merged = sharded.run("--mlguard-merge", "shards", "--mlguard-output", "merged")
    assert merged.ret == 0, merged.stdout.str()
    expected, got = sharded.report("whole"), sharded.report("merged")
    assert checks(got) == checks(expected)
    assert len(got["checks"]) == 6 and got["score"] == expected["score"] and got["summary"] == expected["summary"]


def test_a_merge_under_xdist_runs_on_the_controller_alone(controller, tmp_path_factory):
    if _SHARDS:  # any shards will do: those of the other tests where this process ran them
        xdist_shards(controller, tmp_path_factory)
    else:
        run_shards(controller, 2)
    serial_merge = controller.run("--mlguard-merge", "shards", "--mlguard-output", "merged")
    assert serial_merge.ret == 0, serial_merge.stdout.str()
    merged = controller.run("--mlguard-merge", "shards", "--mlguard-output", "merged-n", "-n", "2")
    assert merged.ret == 0, merged.stdout.str()
    assert "created:" not in merged.stdout.str()  # xdist started no workers ("created: 2/2 workers")
    merged.stdout.fnmatch_lines(["mlguard: the merge runs in this process: -n 2 starts no pytest-xdist workers (a merge calls no model)"])
    merged.assert_outcomes(passed=6)
    assert checks(controller.report("merged-n")) == checks(controller.report("merged"))


def test_workers_of_a_shard_that_load_other_models_are_an_error_naming_both(controller):
    """A conftest.py that loads another checkpoint on one worker: the controller compares each worker's
    statistics of the model with the first one's, and writes no file that mixes them."""
    conftest = controller.pytester.path / "conftest.py"
    worker_model = 'return zoo.degraded_model() if os.environ.get("PYTEST_XDIST_WORKER") == "gw1" else zoo.good_model()'
    conftest.write_text("import os\n" + conftest.read_text().replace("return zoo.good_model()", worker_model))
    result = controller.run("--mlguard", "--mlguard-shard", "0/2", "--mlguard-output", "shards/0", "-n", "2", "-k", "accuracy or ece")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stdout.fnmatch_lines(["mlguard: shard 0/2: pytest-xdist worker gw? measured another model 'digits' than worker gw?: its fingerprint differs (*"])
    assert "gw0" in result.stdout.str() and "gw1" in result.stdout.str()
    assert not (controller.pytester.path / "shards/0/mlguard-shard.npz").exists()
