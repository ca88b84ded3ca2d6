"""Shards of a selection (``-k``, ``-m``, node ids) whose checks run whole on another shard (docs/scale.md):
a shard with nothing to measure passes and the merge takes the checks from the others; a check that no
shard measured fails the merge, named."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_shard_suite import SHARDED, checks

from pytest_mlguard._shard.split import owner

#: SHARDED with a check that runs whole on one shard (garbage inputs are no samples of the data)
SELECTED = SHARDED.replace(
    "[tool.mlguard.calibration]\n", '[tool.mlguard.calibration]\nchecks = ["ece", "garbage-noise"]\ngarbage_ceiling = 0.99\ngarbage_samples = 50\n'
)
GARBAGE = "calibration[garbage-noise]"
GLOB = GARBAGE.replace("[", "?").replace("]", "?")  # for fnmatch_lines, where [...] is a set of characters
#: the shard that runs it (the other one has nothing to measure under -k garbage)
HOLDER = owner(GARBAGE, "digits", 0, 2)


def test_a_shard_with_nothing_to_measure_passes_and_the_merge_takes_the_check_from_another(project):
    project.write(pipeline=None, pyproject=SELECTED)
    assert project.run("--mlguard", "-k", "garbage", "--mlguard-output", "whole").ret == 0
    runs = [project.run("--mlguard", "--mlguard-shard", f"{index}/2", "-k", "garbage", "--mlguard-output", f"shards/{index}") for index in range(2)]
    assert [run.ret for run in runs] == [0, 0], runs[1 - HOLDER].stdout.str()
    runs[1 - HOLDER].stdout.fnmatch_lines([f"mlguard: shard {1 - HOLDER}/2 measured no check: {GLOB}: runs whole on shard {HOLDER}/2 (--mlguard-shard); its statistics file holds none*"])
    assert "no check was measured" not in runs[1 - HOLDER].stdout.str()
    with np.load(project.pytester.path / f"shards/{1 - HOLDER}/mlguard-shard.npz", allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
    assert header["checks"] == [] and header["results"] == [] and [entry["kind"] for entry in header["skipped"]] == ["other-shard"]
    merged = project.run("--mlguard-merge", "shards", "--mlguard-output", "merged")
    assert merged.ret == 0, merged.stdout.str()
    assert list(checks(project.report("merged"))) == [GARBAGE]
    assert checks(project.report("merged")) == checks(project.report("whole"))


def test_a_check_that_no_shard_measured_fails_the_merge_naming_it(project):
    """The shard that runs the check whole was run without it (another ``-k``): the merge lost it silently."""
    project.write(pipeline=None, pyproject=SELECTED)
    for index in range(2):
        selection = "ece" if index == HOLDER else "ece or garbage"
        assert project.run("--mlguard", "--mlguard-shard", f"{index}/2", "-k", selection, "--mlguard-output", f"shards/{index}").ret == 0
    merged = project.run("--mlguard-merge", "shards", "--mlguard-output", "merged")
    assert merged.ret == pytest.ExitCode.TESTS_FAILED, merged.stdout.str()
    merged.stdout.fnmatch_lines([f"*{GLOB} on model 'digits': no shard measured it: shard {1 - HOLDER}/2 (*) left it to shard {HOLDER}/2, which did not run it*"])
    report = project.report("merged")
    assert report["summary"]["passed"] == 1 and [entry["id"] for entry in report["errors"]] == [GARBAGE]
