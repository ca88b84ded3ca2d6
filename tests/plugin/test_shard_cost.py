"""What a shard leaves to the merge (docs/scale.md, "What a shard measures"): the intervals and required
n of the checks the merge recomputes, and report.html, are not computed on a shard, so that N shards
divide the run's work rather than repeat it."""

from __future__ import annotations

import pytest
from test_shard_suite import SHARDED, checks, run_shards

from pytest_mlguard.checks import _result

#: accuracy (a clean check) and one corruption (per-sample outcomes): both recomputed by the merge
SELECTION = ("-k", "accuracy or gaussian")


def test_a_shard_computes_no_interval_the_merge_recomputes_and_the_merge_computes_them(project, monkeypatch):
    project.write(pipeline=None, pyproject=SHARDED)
    assert project.run("--mlguard", *SELECTION, "--mlguard-output", "whole").ret == 0
    # the checks whose interval is computed; no required n either, which an inconclusive verdict alone computes:
    # without an interval a shard's verdict cannot be (tests/unit/test_verdicts.py, for a measurement's own interval)
    calls: list[str] = []
    original = _result._interval

    def counted(measurement, rules, threshold, spec):
        calls.append(spec.id)
        return original(measurement, rules, threshold, spec)

    monkeypatch.setattr(_result, "_interval", counted)
    for index in range(2):
        assert project.run("--mlguard", "--mlguard-shard", f"{index}/2", *SELECTION, "--mlguard-output", f"shards/{index}").ret == 0
    assert calls == []
    shard = project.report("shards/0")
    assert sorted(c["id"] for c in shard["checks"]) == ["accuracy", "corruption[gaussian_noise-3]"]
    assert [c["interval"] for c in shard["checks"]] == [None, None]
    merged = project.run("--mlguard-merge", "shards", "--mlguard-output", "merged")
    assert merged.ret == 0, merged.stdout.str()
    assert sorted(calls) == ["accuracy", "corruption[gaussian_noise-3]"]  # the merge's, one per check
    got, expected = checks(project.report("merged")), checks(project.report("whole"))
    assert got == expected and all(check["interval"] is not None for check in got.values())


@pytest.mark.parametrize(("setting", "drawn"), [((), False), (("--mlguard-set", "report.html=true"), True)])
def test_a_shard_draws_report_html_only_where_it_is_set(project, setting, drawn):
    project.write(pipeline=None, pyproject=SHARDED)
    assert project.run("--mlguard", "--mlguard-shard", "0/2", "-k", "accuracy", "--mlguard-output", "shard", *setting).ret == 0
    directory = project.pytester.path / "shard"
    assert (directory / "report.json").is_file() and (directory / "mlguard-shard.npz").is_file()
    assert (directory / "report.html").is_file() is drawn


BROKEN = """
import pytest


@pytest.fixture(scope="session")
def mlguard_model():
    raise AssertionError("the merge built the model")


@pytest.fixture(scope="session")
def mlguard_data():
    raise AssertionError("the merge loaded the data")
"""


def test_the_merge_builds_no_model_and_loads_no_data(project):
    """The merge recomputes from the shards' statistics: a conftest.py whose model and data fixtures fail
    merges as well, and so does a merge that reads no conftest.py (``--noconftest``, docs/scale.md)."""
    project.write(pipeline=None, pyproject=SHARDED)
    run_shards(project, 2, *SELECTION)
    project.pytester.makeconftest(BROKEN)
    merged = project.run("--mlguard-merge", "shards", "--mlguard-output", "merged")
    assert merged.ret == 0, merged.stdout.str()
    assert sorted(checks(project.report("merged"))) == ["accuracy", "corruption[gaussian_noise-3]"]
    spared = project.run("--mlguard-merge", "shards", "--mlguard-output", "spared", "--noconftest")  # nor the conftest's imports
    assert spared.ret == 0, spared.stdout.str()
    assert checks(project.report("spared")) == checks(project.report("merged"))
