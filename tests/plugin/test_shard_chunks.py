"""Attacks that draw randomness for a whole batch (PGD's random starts, AutoAttack, Square), sweeps and
minimal attacks, sharded by fixed seeded chunks of the run's attack samples (attacks/_chunks.py): every
shard attacks its chunks as the unsharded run does, so the merge reproduces every value of the unsharded
run, for a model that predicts in batches too."""

from __future__ import annotations

import json
import shutil

import numpy as np
from test_shard_suite import SHARDED, differences, every_value, run_shards

#: PGD with a random start and AutoAttack at an L-inf epsilon, Square at an L2 one (no gradient check of its
#: norm to compare with), a PGD sweep and DeepFool, on 20 of 60 samples in chunks of 8 (8, 8, 4)
CHUNKED = SHARDED.replace("samples = 120", "samples = 60").replace("floor = 0.4", "floor = 0.2").replace(
    'checks = ["fgsm-linf-0.1", "pgd-linf-0.1"]\nsteps = 5',
    'checks = ["pgd-linf-0.1", "autoattack-linf-0.1", "square-l2-1.0", "pgd-linf-sweep", "deepfool-l2"]\nsweep = [0.05, 0.1]\nsteps = 2\nqueries = 8\nsamples = 20\nbatch_size = 8',
) + "".join(f"[tool.mlguard.attack.params.{attack}]\n{value}\n" for attack, value in (("pgd", "restarts = 1"), ("autoattack", "steps = 2"), ("deepfool", "steps = 2\ncandidates = 3")))
CHUNKED_CHECKS = ("attack[pgd-linf-0.1]", "attack[autoattack-linf-0.1]", "attack[square-l2-1.0]", "attack[pgd-linf-sweep]", "attack[deepfool-l2]")
ONLY_ATTACKS = ("-k", "attack", "--mlguard-set", "report.html=false")


def kept(project, directory: str) -> dict:
    """Each check's kind in a shard's statistics, and the places (in the unsharded order) of the samples it kept."""
    with np.load(project.pytester.path / directory / "mlguard-shard.npz", allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        return {entry["id"]: (entry["kind"], data[entry["arrays"]["positions"]].tolist()) for entry in header["checks"]}


def test_chunked_attacks_run_on_every_shard_and_merge_into_the_unsharded_run_to_the_last_bit(project):
    """The digits CNN predicting in batches. Each shard attacks the chunks k with k mod N = its index (these
    checks ran whole on one shard), and the merge of N shards has every value of the unsharded run,
    unrounded (a chunk is attacked and predicted in the same batches on any shard)."""
    project.write(pipeline=None, pyproject=CHUNKED)
    assert project.run("--mlguard", "--mlguard-output", "whole", *ONLY_ATTACKS).ret == 0
    expected = every_value(project.report("whole"))
    assert sorted(expected["checks"]) == sorted(CHUNKED_CHECKS) and all(check["n"] == 20 for check in expected["checks"].values())
    for count in (1, 2, 3, 7):
        shutil.rmtree(project.pytester.path / "shards", ignore_errors=True)
        run_shards(project, count, *ONLY_ATTACKS)
        if count == 3:  # one chunk each
            shards = [kept(project, f"shards/{index}") for index in range(3)]
            for check in CHUNKED_CHECKS:
                places = [shard[check][1] for shard in shards]
                assert [shard[check][0] for shard in shards] == ["chunks"] * 3, check
                assert [len(p) for p in places] == [8, 8, 4] and len(np.unique(np.concatenate(places))) == 20, (check, places)
        merged = project.run("--mlguard-merge", "shards", "--mlguard-output", f"merged-{count}", *ONLY_ATTACKS)
        assert merged.ret == 0, merged.stdout.str()
        got = every_value(project.report(f"merged-{count}"))
        assert got == expected, (count, differences(got, expected))
        assert all(check["details"]["shards"] == count for check in project.report(f"merged-{count}")["checks"])


#: a sweep with a floor relative to its clean accuracy and DeepFool, on 20 samples in chunks of 8: 3 chunks
ZERO_CHUNKS = CHUNKED.replace("samples = 20\n", 'samples = 20\nfloors = { "pgd-linf-sweep" = "0.5*clean", "deepfool-l2" = 0.01 }\n')


def test_a_shard_that_holds_none_of_the_chunks_measures_nothing_and_the_merge_uses_the_others(project):
    """4 shards of 3 chunks (docs/scale.md): shard 3/4 holds none. It measured nothing for the checks, said
    so (no ``nan < floor`` line), passed; the merge of the 4 equals the unsharded run (before, the sweep's
    relative floor raised "needs the clean value" on shard 3 and the merge refused its statistics)."""
    only = ("-k", "sweep or deepfool", "--mlguard-set", "report.html=false")
    project.write(pipeline=None, pyproject=ZERO_CHUNKS)
    assert project.run("--mlguard", "--mlguard-output", "whole", *only).ret == 0
    expected = every_value(project.report("whole"))
    assert sorted(expected["checks"]) == ["attack[deepfool-l2]", "attack[pgd-linf-sweep]"]
    for index in range(4):
        result = project.run("--mlguard", "--mlguard-shard", f"{index}/4", "--mlguard-output", f"shards/{index}", *only)
        assert result.ret == 0, result.stdout.str()
    for check in ("attack[pgd-linf-sweep]", "attack[deepfool-l2]"):
        result.stdout.fnmatch_lines([f"digits::{check.replace('[', '[[]')} *: none of its samples or chunks on shard 3/4, measured nothing*n=0*PENDING*"])
    result.stdout.no_fnmatch_line("*nan <*")
    assert {check: kind for check, (kind, places) in kept(project, "shards/3").items() if not places} == {
        "attack[pgd-linf-sweep]": "chunks", "attack[deepfool-l2]": "chunks"}  # fmt: skip
    merged = project.run("--mlguard-merge", "shards", "--mlguard-output", "merged", *only)
    assert merged.ret == 0, merged.stdout.str()
    got = every_value(project.report("merged"))
    assert got == expected, differences(got, expected)
