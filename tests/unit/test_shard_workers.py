"""A shard's statistics gathered from pytest-xdist workers on the controller (pytest_mlguard/_shard/workers.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlguard._shard.split import Shard
from pytest_mlguard._shard.statistics import ShardStatistics
from pytest_mlguard._shard.workers import WorkerMismatch, gather, worker_payload


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


def _model_worker(fingerprint: str = "f", labels: tuple[int, ...] = (3, 1), proba: float = 0.9) -> ShardStatistics:
    """A worker that measured model ``m`` on the shard's samples 1 and 4 (and the check ``accuracy``)."""
    statistics = ShardStatistics(shard=Shard(0, 2), settings=None)
    clean = np.array([[proba, 1 - proba], [0.2, 0.8]])
    arrays = {"positions": statistics._put([1, 4]), "labels": statistics._put(labels), "clean_proba": statistics._put(clean)}
    statistics.models["m"] = {"fingerprint": fingerprint, "description": {"name": "m"}, "data": {"name": "d", "n": 9, "samples": 9}, "arrays": arrays}
    statistics.checks.append({"model": "m", "id": "accuracy", "kind": "clean", "arrays": {}})
    return statistics


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (_model_worker(fingerprint="g"), 'its fingerprint differs ("g" where "f" was expected)'),
        (_model_worker(labels=(3, 2)), "its labels differ at 1 of 2 samples"),
        (_model_worker(proba=0.7), "its clean probabilities differ by up to 0.2 (more than 1e-05)"),
    ],
)
def test_workers_that_measured_another_model_or_data_are_an_error_naming_both(other, message):
    """A conftest.py that loads another checkpoint or other data on one worker: the shard's file must not
    mix two models' statistics as if they were one."""
    controller = ShardStatistics(shard=Shard(0, 2), settings=None)
    gather(controller, worker_payload(_model_worker()), worker="gw0")
    with pytest.raises(WorkerMismatch) as raised:
        gather(controller, worker_payload(other), worker="gw1")
    assert str(raised.value).startswith(f"shard 0/2: pytest-xdist worker gw1 measured another model 'm' than worker gw0: {message}")


def test_workers_that_measured_the_same_model_within_float_noise_agree():
    controller = ShardStatistics(shard=Shard(0, 2), settings=None)
    gather(controller, worker_payload(_model_worker()), worker="gw0")
    gather(controller, worker_payload(_model_worker(proba=0.9 + 1e-7)), worker="gw1")  # another GPU's last bits
    assert list(controller.models) == ["m"] and controller.arrays[controller.models["m"]["arrays"]["clean_proba"]][0, 0] == 0.9
