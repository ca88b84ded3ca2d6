"""Attacks that draw randomness for a whole batch (PGD's random starts, AutoAttack, Square) sharded by fixed
seeded chunks of the run's attack samples (attacks/_chunks.py): every shard attacks its chunks as the
unsharded run does, so the merge reproduces every value of the unsharded run, for a batched model too."""

from __future__ import annotations

import json
import shutil

import numpy as np
from test_shard_suite import differences, every_value, run_shards

#: PGD with a random start and AutoAttack at an L-inf epsilon, Square at an L2 one (no gradient check of its
#: norm to compare with), a sweep and a minimal attack, on 20 of 60 samples in chunks of 8 (8, 8, 4), the
#: attacks only
CHUNKED = """
[tool.mlguard]
samples = 60
[tool.mlguard.verdict]
early_stop = "off"
more_samples = "off"
[tool.mlguard.attack]
checks = ["pgd-linf-0.1", "autoattack-linf-0.1", "square-l2-1.0", "pgd-linf-sweep", "deepfool-l2"]
sweep = [0.05, 0.1]
steps = 3
queries = 12
samples = 20
batch_size = 8
floor = 0.2
[tool.mlguard.attack.params.pgd]
restarts = 1
[tool.mlguard.attack.params.autoattack]
steps = 3
[tool.mlguard.attack.params.deepfool]
steps = 3
"""
RANDOMISED = ("attack[pgd-linf-0.1]", "attack[autoattack-linf-0.1]", "attack[square-l2-1.0]", "attack[pgd-linf-sweep]", "attack[deepfool-l2]")
ONLY_ATTACKS = ("-k", "attack", "--mlguard-set", "report.html=false")


def statistics(project, directory: str) -> dict:
    """Each check's kind and the places (in the unsharded order) of the samples a shard kept of it."""
    with np.load(project.pytester.path / directory / "mlguard-shard.npz", allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        return {entry["id"]: (entry["kind"], data[entry["arrays"]["positions"]].tolist()) for entry in header["checks"]}


def test_randomised_attacks_run_on_every_shard_in_chunks(project):
    """Each shard attacks the chunks k with k mod N = its index (they ran whole on one shard)."""
    project.write(pipeline=None, pyproject=CHUNKED)
    run_shards(project, 3, *ONLY_ATTACKS)
    kept = [statistics(project, f"shards/{index}") for index in range(3)]
    for check in RANDOMISED:
        assert [shard[check][0] for shard in kept] == ["chunks"] * 3, check
        places = [shard[check][1] for shard in kept]
        assert [len(p) for p in places] == [8, 8, 4] and len(np.unique(np.concatenate(places))) == 20, (check, places)


def test_a_batched_model_is_merged_to_the_last_bit_in_chunks(project):
    """The digits CNN predicting in batches: the merge of N shards has every value of the unsharded run,
    unrounded (a chunk is attacked and predicted in the same batch on any shard)."""
    project.write(pipeline=None, pyproject=CHUNKED)
    assert project.run("--mlguard", "--mlguard-output", "whole", *ONLY_ATTACKS).ret == 0
    expected = every_value(project.report("whole"))
    assert sorted(expected["checks"]) == sorted(RANDOMISED) and all(check["n"] == 20 for check in expected["checks"].values())
    for count in (1, 2, 3, 7):
        shutil.rmtree(project.pytester.path / "shards", ignore_errors=True)
        run_shards(project, count, *ONLY_ATTACKS)
        merged = project.run("--mlguard-merge", "shards", "--mlguard-output", f"merged-{count}", *ONLY_ATTACKS)
        assert merged.ret == 0, merged.stdout.str()
        got = every_value(project.report(f"merged-{count}"))
        assert got == expected, (count, differences(got, expected))
        assert all(check["details"]["shards"] == count for check in project.report(f"merged-{count}")["checks"])
