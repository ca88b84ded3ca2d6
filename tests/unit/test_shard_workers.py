"""A shard's statistics gathered from pytest-xdist workers on the controller (pytest_mlguard/_shard/workers.py)."""

from __future__ import annotations

import numpy as np

from pytest_mlguard._shard.statistics import ShardStatistics
from pytest_mlguard._shard.workers import gather, worker_payload


def _worker(check_id: str, outcomes: list[bool], positions: list[int]) -> ShardStatistics:
    """A worker's statistics: the model's clean statistics of the shard and one check's outcomes."""
    statistics = ShardStatistics(shard=None, settings=None)
    statistics.models["m"] = {"fingerprint": "f", "arrays": {"positions": statistics._put(positions)}}
    arrays = {"positions": statistics._put(positions), "outcomes": statistics._put(outcomes)}
    statistics.checks.append({"model": "m", "id": check_id, "kind": "outcomes", "arrays": arrays})
    return statistics


def _resolved(statistics: ShardStatistics) -> dict[str, dict[str, list]]:
    return {check["id"]: {name: statistics.arrays[key].tolist() for name, key in check["arrays"].items()} for check in statistics.checks}


def test_each_workers_arrays_keep_their_own_values_under_new_names():
    first, second = _worker("fog", [True, False], [1, 4]), _worker("noise", [False, False], [1, 4])
    assert first.checks[0]["arrays"] == second.checks[0]["arrays"]  # the same names on both workers
    controller = ShardStatistics(shard=None, settings=None)
    for worker in (first, second):
        gather(controller, worker_payload(worker))
    assert _resolved(controller) == {
        "fog": {"positions": [1, 4], "outcomes": [True, False]},
        "noise": {"positions": [1, 4], "outcomes": [False, False]},
    }
    assert list(controller.models) == ["m"] and len(controller.arrays) == 5  # the model's statistics once
    assert controller.arrays[controller.models["m"]["arrays"]["positions"]].dtype == np.asarray([1, 4]).dtype


def test_a_check_every_worker_ran_is_kept_once():
    controller = ShardStatistics(shard=None, settings=None)
    for outcomes in ([True, True], [True, False]):  # --dist each: every worker runs every check
        gather(controller, worker_payload(_worker("fog", outcomes, [0, 2])))
    assert _resolved(controller) == {"fog": {"positions": [0, 2], "outcomes": [True, False]}}
