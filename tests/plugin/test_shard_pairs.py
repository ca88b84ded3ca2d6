"""The attack checks a run compares (a black-box attack beside gradient ones of its norm: "a black-box attack
beats the white-box one" is a sign of masked gradients), sharded: each is measured on every shard (by its
samples, or by fixed seeded chunks) and the merge recomputes the comparison from the merged per-sample
outcomes, so that the merged report is the unsharded run's, the comparison's outcome included."""

from __future__ import annotations

import math
import shutil

from test_shard_chunks import kept
from test_shard_suite import SHARDED, differences, every_value, run_shards

#: the gradient-masking digits CNN (rounds its input): FGSM, PGD and a PGD sweep cannot move it, Square (a
#: black box) breaks it at the same epsilon; 48 samples, Square and the sweep in 6 chunks of 8
PAIRS = SHARDED.replace("samples = 120", "samples = 48").replace(
    'checks = ["fgsm-linf-0.1", "pgd-linf-0.1"]\nsteps = 5',
    'checks = ["fgsm-linf-0.1", "pgd-linf-0.1", "pgd-linf-sweep", "square-linf-0.1"]\nsweep = [0.05, 0.1]\nsteps = 3\nqueries = 30\nbatch_size = 8',
)
PAIRED = ("attack[fgsm-linf-0.1]", "attack[pgd-linf-0.1]", "attack[pgd-linf-sweep]", "attack[square-linf-0.1]")
ONLY_ATTACKS = ("-k", "attack", "--mlguard-set", "report.html=false")


def exact(report: dict) -> dict:
    """Every value of each check (:func:`every_value`), unrounded, but the ECEs of the checks attacked by
    each shard's samples (FGSM, PGD) to 8 digits: the attacks predict a shard's samples in other batches
    of ``attack.batch_size`` than one run, and a torch model's outputs change in their last bits with the
    batch (docs/scale.md; a batch of one is merged to the last bit: test_shard_suite.py)."""
    values = every_value(report)
    for check in ("attack[fgsm-linf-0.1]", "attack[pgd-linf-0.1]"):
        details = values["checks"][check]["details"]
        details.update({key: round(details[key], 8) for key in ("clean_ece", "ece_adversarial")})
    return values


def problems(report: dict) -> dict:
    return {c["id"]: [(p["code"], p.get("white")) for p in c["details"]["soundness"]["problems"]] for c in report["checks"]}


def test_compared_attacks_are_measured_on_every_shard_and_their_comparison_merged_exactly(project):
    """Every compared check is measured on each shard (they ran whole on one), and the merge of N shards has
    every value of the unsharded run, unrounded (:func:`exact`): Square's black-box-beats-white-box against each gradient
    check at eps 0.1 (FGSM, PGD, the sweep's 0.1), and its value, the sound measurement it then quotes."""
    project.write(model="rounding_model", pipeline=None, pyproject=PAIRS)
    assert project.run("--mlguard", "--mlguard-output", "whole", *ONLY_ATTACKS).ret == 1
    expected = exact(project.report("whole"))
    assert sorted(expected["checks"]) == sorted(PAIRED)
    square = expected["checks"]["attack[square-linf-0.1]"]
    white = [white for code, white in problems(project.report("whole"))["attack[square-linf-0.1]"] if code == "black-box-beats-white-box"]
    assert white == list(PAIRED[:3]) and not math.isnan(square["value"])  # the sound measurement, not nan
    for count in (1, 2, 3, 7):
        shutil.rmtree(project.pytester.path / "shards", ignore_errors=True)
        run_shards(project, count, *ONLY_ATTACKS)
        shards = [kept(project, f"shards/{index}") for index in range(count)]
        for check in PAIRED:  # measured on every shard, each on its own samples or chunks
            assert [shard.get(check, ("whole",))[0] for shard in shards] == ["chunks" if "sweep" in check or "square" in check else "outcomes"] * count, (count, check)
            if count == 2:
                assert all(shard[check][1] for shard in shards), check
        merged = project.run("--mlguard-merge", "shards", "--mlguard-output", f"merged-{count}", *ONLY_ATTACKS)
        assert merged.ret == 1, merged.stdout.str()
        got = exact(project.report(f"merged-{count}"))
        assert got == expected, (count, differences(got, expected))
