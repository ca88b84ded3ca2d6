"""The fixed seeded chunks of an attack check (pytest_mlguard/attacks/_chunks.py) under ``--mlguard-budget``
on shards: the budget gives each shard its own sample limit (from its own timing), and every shard still
attacks chunks of the run's one plan, whole, so that the merge puts together chunks the unsharded run
computes alike."""

from __future__ import annotations

import pytest
import zoo

from pytest_mlguard._budget import Limits
from pytest_mlguard._shard.split import Shard
from pytest_mlguard.attacks._chunks import plan
from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve


def settings(early_stop: str):
    cli = {"output": "/tmp/mlguard-unit-chunks", "samples": "60", "attack.samples": "48", "attack.batch_size": "8", "verdict.early_stop": early_stop}
    return resolve(cli=cli, environ={}, keys=all_keys())


@pytest.mark.parametrize("early_stop", ["off", "sequential"])
@pytest.mark.parametrize("caps", [(30, 40), (20, 5), (None, 12), (3, 3, 50)])
def test_shards_with_other_budget_limits_attack_chunks_of_one_plan(caps, early_stop):
    """A shard cut the run's attack samples to its own limit before cutting them into chunks: shards with
    other limits made other chunks (a shard limited to 20 attacked chunk 2 as the 4 samples 20, 21, 24, 25
    where the run's chunk 2 has 8), and a shard limited to 20 of its samples attacked 12."""
    s = settings(early_stop)
    model, data = zoo.good_model(), zoo.digits()
    spec = family("attack").spec("square-linf-0.1", s)
    whole = plan(spec, Evaluation(model, data, s))  # the run's plan: every chunk, no budget
    chunks = {number: whole.positions[start:stop].tolist() for number, (start, stop) in zip(whole.numbers, whole.bounds)}
    attacked: list[int] = []
    for index, cap in enumerate(caps):
        shard = Evaluation(model, data, s, shard=Shard(index, len(caps))).with_limits(Limits(samples=cap))
        part = plan(spec, shard)
        got = {number: part.positions[start:stop].tolist() for number, (start, stop) in zip(part.numbers, part.bounds)}
        assert all(got[number] == chunks[number] and number % len(caps) == index for number in got), (index, cap, got)
        held = [number for number in chunks if number % len(caps) == index]
        assert list(got) == held[: len(got)]  # its first chunks, in order
        size = sum(len(positions) for positions in got.values())
        assert size <= (cap or len(whole.positions)) or len(got) == 1, (cap, size)  # within its limit (one chunk at least)
        if len(got) < len(held):
            assert size + len(chunks[held[len(got)]]) > (cap or 0)  # and as many as fit
        attacked += part.positions.tolist()
    assert len(attacked) == len(set(attacked)) and set(attacked) <= set(whole.positions.tolist())
