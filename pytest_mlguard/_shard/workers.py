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

#: the key of a worker's shard statistics in ``config.workeroutput``
SHARD_OUTPUT_KEY = "mlguard_shard_statistics"


def worker_payload(statistics: Any) -> bytes:
    """A worker's statistics as the bytes of an ``.npz``: its arrays and a JSON ``header`` of its models and checks."""
    buffer = io.BytesIO()
    header = json.dumps({"models": statistics.models, "checks": statistics.checks}, default=str, allow_nan=True)
    np.savez(buffer, allow_pickle=False, header=np.array(header), **statistics.arrays)
    return buffer.getvalue()


def gather(statistics: Any, payload: bytes) -> None:
    """Add a worker's :func:`worker_payload` to the controller's ``statistics``, its arrays under new names.

    A model every worker measured is kept once (each computed the same clean statistics of the shard's
    samples); a check measured on several workers (``--dist each``) once, the last one gathered.
    """
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    header = json.loads(str(arrays.pop("header")))

    def renamed(names: dict[str, str]) -> dict[str, str]:
        return {what: statistics._put(arrays[name]) for what, name in names.items()}

    for model_id, model in header["models"].items():
        if model_id not in statistics.models:
            statistics.models[model_id] = {**model, "arrays": renamed(model["arrays"])}
    for entry in header["checks"]:
        key = (entry["model"], entry["id"])
        others = [check for check in statistics.checks if (check["model"], check["id"]) != key]
        statistics.checks = [*others, {**entry, "arrays": renamed(entry["arrays"])}]
