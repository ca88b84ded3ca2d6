"""What a shard says of the checks measured on its samples (docs/scale.md): they are pending, the merge
decides them. A shard whose share of a check misses the threshold used to print FAILED, emit ``::error``
annotations and a job summary of failed checks (the GitHub recipe), and to show the interval and the
inconclusive verdict the check's own measurement brought (calibration's ECE)."""

from __future__ import annotations

from test_shard_suite import SHARDED

#: a floor that the digits CNN misses: the unsharded run fails accuracy, so would a shard's share by value
FAILING = SHARDED.replace("floor = 0.85", "floor = 0.99")


def test_a_shard_reports_its_share_of_a_failing_check_as_pending_not_failed(project, monkeypatch, tmp_path):
    project.write(pipeline=None, pyproject=FAILING)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    shard = project.run("--mlguard", "--mlguard-shard", "0/2", "-k", "accuracy or ece", "--mlguard-output", "shards/0")
    assert shard.ret == 0, shard.stdout.str()
    text = shard.stdout.str()
    assert "::error" not in text and "::warning" not in text and "FAILED" not in text and "INCONCLUSIVE" not in text, text
    shard.stdout.fnmatch_lines(["digits::accuracy * < floor 0.9900 *PENDING (the merge decides)*"])
    checks = {c["id"]: c for c in project.report("shards/0")["checks"]}
    assert set(checks) == {"accuracy", "calibration[ece]"}
    assert [(c["verdict"], c["interval"], c["required_n"]) for c in checks.values()] == [("pending", None, None)] * 2
    assert "0 failed" in summary.read_text() and "2 checks measured on its samples are pending" in summary.read_text()


def test_a_shard_from_auto_names_the_shard_and_the_variables_it_came_from(project, monkeypatch):
    """A Slurm task 11 of an array 10-13 is shard 1/4; its log said so nowhere."""
    project.write(pipeline=None, pyproject=SHARDED)
    for name, value in {"SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "4"}.items():
        monkeypatch.setenv(name, value)
    shard = project.run("--mlguard", "--mlguard-shard", "auto", "-k", "accuracy", "--mlguard-output", "shards/1")
    assert shard.ret == 0, shard.stdout.str()
    shard.stdout.fnmatch_lines(["mlguard: seed=0, *, shard 1/4 (from SLURM_ARRAY_TASK_ID=11, SLURM_ARRAY_TASK_MIN=10, SLURM_ARRAY_TASK_COUNT=4), output=*"])
