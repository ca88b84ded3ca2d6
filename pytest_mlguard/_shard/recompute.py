"""The merged results: every check recomputed from the shards' statistics as the unsharded run measures it.

- ``clean`` checks (accuracy, the calibration metrics) are functions of the clean predictions: their
  family's own ``run`` is replayed on an evaluation whose clean predictions are the shards' merged
  into the unsharded order (:func:`replay_evaluation`), so value, interval and details are the
  unsharded run's.
- ``outcomes`` checks (corruptions, fixed-epsilon attacks) are proportions of per-sample outcomes: the
  merged outcomes give the value, the counts paired with the clean outcomes and the interval, in the
  family's own ``Family.merge`` (:func:`pytest_mlguard.corruptions._merge.merged_corruption`,
  :func:`pytest_mlguard.attacks._merge_curves.merged`); ``chunks`` checks (attacks that draw
  randomness, sweeps, minimal attacks) from the per-sample statistics of each shard's chunks, likewise.
- every other check ran whole on one shard: its result is that shard's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..checks._base import CheckResult, CheckSpec
from ..checks._evaluation import Evaluation
from ..contract._data import EvalData
from .merge import MergeError, ShardFile
from .outcomes import merged_arrays


class ReplayedModel:
    """A model that is not there: what a merge knows of it, and no predictions."""

    task = "classification"

    def __init__(self, name: str, n_classes: int, class_names: list[str]) -> None:
        self.name, self.n_classes, self.class_names = name, n_classes, class_names

    @contextlib.contextmanager
    def running(self, device: str) -> Iterator[None]:
        yield

    def predict_proba(self, x: Any) -> np.ndarray:
        raise MergeError(f"the merge has no model {self.name!r} to call: a check asked for a prediction the shards did not write")


def replay_evaluation(shards: list[ShardFile], model_id: str, settings: Any) -> Evaluation:
    """An evaluation of the merged samples of ``model_id``, its clean predictions the shards'."""
    entries = []
    for shard in shards:
        model = shard.header["models"].get(model_id)
        if model is None:
            raise MergeError(f"{shard.name} holds no statistics of model {model_id!r}: did it run the same checks?")
        entries.append(model)
    merged = merged_arrays(shards, entries, ("labels", "clean_proba"))
    samples = entries[0]["data"]["samples"]
    if not np.array_equal(merged["positions"], np.arange(samples)):
        raise MergeError(f"the shards hold {len(merged['positions'])} distinct samples of model {model_id!r}, not the {samples} of the run")
    description = shards[0].header["descriptions"].get(model_id, {})
    n_classes = merged["clean_proba"].shape[1]
    names = [str(name) for name in description.get("class_names") or range(n_classes)]
    evaluation = Evaluation.__new__(Evaluation)
    data = EvalData(np.zeros((samples, 1), np.float32), merged["labels"], name=entries[0]["data"]["name"])
    evaluation.model, evaluation.full_data, evaluation.data, evaluation.settings = ReplayedModel(model_id, n_classes, names), data, data, settings  # type: ignore[assignment]
    evaluation.pipeline, evaluation.model_id, evaluation.shard, evaluation.unsharded_n = None, model_id, None, samples
    evaluation.positions = evaluation.data_index = np.arange(samples)
    evaluation.extras, evaluation._memo = {}, {("evaluation", "clean_proba"): merged["clean_proba"]}
    return evaluation


def spec_of(result: dict[str, Any], settings: Any) -> CheckSpec:
    """The planned check of a result (by its family and id), under the merge's settings."""
    from ..checks._registry import family

    check_id: str = result["id"]
    name = check_id[len(result["family"]) + 1 : -1] if check_id.endswith("]") else None
    return family(result["family"]).spec(name, settings)


def recompute(shards: list[ShardFile], model_id: str, check_id: str, settings: Any, evaluation: Evaluation) -> CheckResult:
    """The merged result of a check measured on every shard's samples."""
    entries, results = [], []
    for shard in shards:
        entry, found = shard.entry(model_id, check_id), shard.result(model_id, check_id)
        if entry is None or found is None:
            raise MergeError(f"{shard.name} holds no statistics of {check_id} on model {model_id!r}: it did not measure it")
        entries.append(entry)
        results.append(found)
    spec = spec_of(results[0], settings)
    duration = sum(float(r["duration_s"]) for r in results)
    if entries[0]["kind"] == "clean":
        measurement, _ = evaluation.measure(_family(spec), spec)
    else:  # its family's own merge
        module, _, function = str(_family(spec).merge).partition(":")
        measurement = getattr(importlib.import_module(module), function)(spec, evaluation, shards, entries, results)
    result = evaluation.result(spec, measurement, duration)
    return dataclasses.replace(result, details={**result.details, "shards": len(shards)})


def _family(spec: CheckSpec) -> Any:
    from ..checks._registry import family

    return family(spec.family)
