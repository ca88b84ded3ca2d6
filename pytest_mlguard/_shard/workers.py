"""A shard under pytest-xdist (``--mlguard-shard I/N -n K``): the workers share the shard's checks, and
the controller writes the shard's statistics file once, whole, from what the workers send back.

Every worker computes the same split (a hash of the sample index and the seed), so each measures its
checks on the shard's samples. At the end of its session a worker sends its
:class:`~.statistics.ShardStatistics` through ``config.workeroutput`` as the bytes of an ``.npz``
(:func:`worker_payload`; execnet carries bytes, not numpy arrays); the controller gathers each into its
own (:func:`gather`) in ``pytest_testnodedown`` and writes the file as a serial shard does.

Example:
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from pytest_mlguard._shard.statistics import ShardStatistics
    >>> worker = ShardStatistics(shard=None, settings=None)
    >>> worker.models["m"] = {"fingerprint": "f", "arrays": {"positions": worker._put(np.arange(3))}}
    >>> worker.checks.append({"model": "m", "id": "accuracy", "arrays": {}})
    >>> controller = ShardStatistics(shard=None, settings=None)
    >>> gather(controller, worker_payload(worker))
    >>> controller.arrays[controller.models["m"]["arrays"]["positions"]].tolist(), [c["id"] for c in controller.checks]
    ([0, 1, 2], ['accuracy'])
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from .merge import MergeError, model_difference

#: the key of a worker's shard statistics in ``config.workeroutput``
SHARD_OUTPUT_KEY = "mlguard_shard_statistics"
#: how far two workers' clean probabilities of a sample may differ (the last bits of another GPU's kernels)
PROBA_TOLERANCE = 1e-5


class WorkerMismatch(MergeError):
    """Workers of one shard that measured another model or other data: their statistics do not go into one file."""


def worker_payload(statistics: Any) -> bytes:
    """A worker's statistics as the bytes of an ``.npz``: its arrays and a JSON ``header`` of its models and checks."""
    buffer = io.BytesIO()
    header = json.dumps({"models": statistics.models, "checks": statistics.checks}, default=str, allow_nan=True)
    np.savez(buffer, allow_pickle=False, header=np.array(header), **statistics.arrays)
    return buffer.getvalue()


def gather(statistics: Any, payload: bytes, worker: str = "a worker") -> None:
    """Add the :func:`worker_payload` of ``worker`` (its xdist id) to the controller's ``statistics``, its arrays under new names.

    A model every worker measured is kept once, after comparing each worker's statistics of it with the
    first one's (:func:`compare_workers`); a check measured on several workers (``--dist each``) once,
    the last one gathered.

    Raises:
        WorkerMismatch: ``worker`` measured another model or other data than the worker gathered first.
    """
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    header = json.loads(str(arrays.pop("header")))

    def renamed(names: dict[str, str]) -> dict[str, str]:
        return {what: statistics._put(arrays[name]) for what, name in names.items()}

    for model_id, model in header["models"].items():
        if model_id in statistics.models:
            compare_workers(statistics, model_id, {**model, "arrays": {what: arrays[name] for what, name in model["arrays"].items()}}, worker)
        else:
            statistics.models[model_id] = {**model, "arrays": renamed(model["arrays"])}
            statistics.workers[model_id] = worker
    for entry in header["checks"]:
        key = (entry["model"], entry["id"])
        others = [check for check in statistics.checks if (check["model"], check["id"]) != key]
        statistics.checks = [*others, {**entry, "arrays": renamed(entry["arrays"])}]


def compare_workers(statistics: Any, model_id: str, model: dict[str, Any], worker: str) -> None:
    """Raise :class:`WorkerMismatch` unless ``worker``'s statistics of ``model_id`` (``model``, its arrays
    by name) are those kept from the first worker: the same fingerprint, description and data, the same
    samples and labels, clean probabilities within :data:`PROBA_TOLERANCE`."""
    kept = statistics.models[model_id]
    difference = model_difference(model, kept)
    for name in ("positions", "labels", "clean_proba") if difference is None else ():
        given, expected = model["arrays"].get(name), statistics.arrays.get(kept["arrays"].get(name, ""))
        if given is None and expected is None:
            continue
        if given is None or expected is None or given.shape != expected.shape:
            shapes = [None if value is None else value.shape for value in (given, expected)]
            difference = f"its {name} differ in shape ({shapes[0]} where {shapes[1]} was expected)"
        elif name == "clean_proba" and not np.allclose(given, expected, rtol=0, atol=PROBA_TOLERANCE, equal_nan=True):
            difference = f"its clean probabilities differ by up to {np.nanmax(np.abs(given - expected)):.3g} (more than {PROBA_TOLERANCE:g})"
        elif name != "clean_proba" and not np.array_equal(given, expected):
            difference = f"its {name} differ at {int(np.sum(given != expected))} of {len(given)} samples"
        if difference is not None:
            break
    if difference is not None:
        shard = f"shard {statistics.shard.index}/{statistics.shard.count}: " if statistics.shard is not None else ""
        first = statistics.workers.get(model_id, "another worker")
        raise WorkerMismatch(
            f"{shard}pytest-xdist worker {worker} measured another model {model_id!r} than worker {first}: {difference}; "
            "every worker must load the same model and data (a conftest.py that loads another checkpoint, or other or "
            "differently shuffled data, on each worker), and the shard's statistics are not written"
        )
