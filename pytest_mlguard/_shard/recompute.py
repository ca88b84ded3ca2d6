"""The merged results: every check recomputed from the shards' statistics as the unsharded run measures it.

- ``clean`` checks (accuracy, the calibration metrics) are functions of the clean predictions: their
  family's own ``run`` is replayed on an evaluation whose clean predictions are the shards' merged
  into the unsharded order (:func:`replay_evaluation`), so value, interval and details are the
  unsharded run's.
- ``outcomes`` checks (corruptions) are proportions of per-sample outcomes: the merged outcomes give
  the value, the counts paired with the clean outcomes and the interval (:func:`merged_corruption`).
- every other check ran whole on one shard: its result is that shard's.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..checks._base import CheckResult, CheckSpec, Measurement
from ..checks._evaluation import Evaluation
from ..contract._data import EvalData
from .merge import MergeError, ShardFile


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


def _merged(shards: list[ShardFile], entries: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``names`` of one entry per shard, concatenated in the order of their ``positions``."""
    parts = {name: [shards[i].array(entry["arrays"][name]) for i, entry in enumerate(entries)] for name in ("positions", *names)}
    positions = np.concatenate(parts["positions"])
    order = np.argsort(positions, kind="stable")
    return {name: np.concatenate(values)[order] for name, values in parts.items()}


def replay_evaluation(shards: list[ShardFile], model_id: str, settings: Any) -> Evaluation:
    """An evaluation of the merged samples of ``model_id``, its clean predictions the shards'."""
    entries = []
    for shard in shards:
        model = shard.header["models"].get(model_id)
        if model is None:
            raise MergeError(f"{shard.name} holds no statistics of model {model_id!r}: did it run the same checks?")
        entries.append(model)
    merged = _merged(shards, entries, ("labels", "clean_proba"))
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


def merged_corruption(spec: CheckSpec, evaluation: Evaluation, shards: list[ShardFile], entries: list[dict[str, Any]], first: dict[str, Any]) -> Measurement:
    """A corruption check's measurement from the shards' per-sample outcomes (early stopping off)."""
    from .._verdicts.intervals import paired_counts
    from ..calibration.metrics import expected_calibration_error
    from ..corruptions._run import _bins

    merged = _merged(shards, entries, ("outcomes", "confidence"))
    positions, correct = merged["positions"], merged["outcomes"].astype(bool)
    n, clean = len(correct), evaluation.clean_accuracy()
    clean_correct = evaluation.clean_correct()[positions]
    stopper = evaluation.early_stop(spec, n, clean=clean)
    stopper.update(int(correct.sum()), n)
    accuracy, interval, method = stopper.value_and_interval()
    stops = [entry["details"].get("early_stop") or {} for entry in entries]
    early = merged_early_stop(shards, entries, stops, evaluation)
    if early is not None:  # some shard stopped on its own share: the product of the shards' e-values decides
        interval, method = early.pop("interval"), "confidence-sequence-product"
    bins = _bins(evaluation)
    as_proba = np.stack([merged["confidence"], np.zeros(n)], axis=1)  # the top confidence, right when the label is 0
    sizes = [len(shards[i].array(entry["arrays"]["positions"])) for i, entry in enumerate(entries)]
    change = sum(size * (entry["details"]["mean_abs_change"] or 0.0) for size, entry in zip(sizes, entries)) / max(1, n)
    details = {key: value for key, value in first["details"].items() if key not in ("examples", "budget")}
    details.update(
        clean_accuracy=clean,
        relative_robustness=accuracy / clean if clean > 0 else None,
        error=1.0 - accuracy,
        ece=expected_calibration_error(as_proba, (~correct).astype(np.int64), bins),
        clean_ece=expected_calibration_error(evaluation.clean_proba, evaluation.data.y, bins),
        flipped=int((clean_correct & ~correct).sum()),
        mean_abs_change=change,
        early_stop=early or stopper.details(n),
        shards=len(shards),
    )
    message = (
        f"under {spec.param('corruption')} at severity {spec.param('severity')}: accuracy {accuracy:.4f}, clean {clean:.4f} "
        f"(relative {accuracy / clean if clean else float('nan'):.3f}); "
        f"{details['flipped']} of {int(clean_correct.sum())} correct predictions flipped; ECE {details['ece']:.4f}"
    )
    return Measurement(
        value=accuracy, n=n, clean=clean, details=details, message=message, successes=int(correct.sum()),
        paired=paired_counts(clean_correct, correct), interval=interval, interval_method=method, evaluations=n,
        evaluations_saved=(early or {}).get("evaluations_saved", 0),
    )


def merged_early_stop(shards: list[ShardFile], entries: list[dict[str, Any]], stops: list[dict[str, Any]], evaluation: Evaluation) -> dict[str, Any] | None:
    """``details["early_stop"]`` of a merged check some shard stopped early, with its ``interval``: the
    confidence set of the product of the shards' mixture martingales at their stopping times
    (:func:`~pytest_mlguard._verdicts.sequential.product_confidence_sequence`); ``None`` if none stopped."""
    from .._verdicts.sequential import product_confidence_sequence

    if not any(stop.get("stopped") for stop in stops):
        return None
    counts = []
    for shard, entry in zip(shards, entries):
        outcomes = shard.array(entry["arrays"]["outcomes"])
        counts.append((int(outcomes.sum()), len(outcomes)))
    n = sum(size for _, size in counts)
    return {
        "mode": "sequential",
        "stopped": True,
        "shards_stopped": sum(bool(stop.get("stopped")) for stop in stops),
        "samples_used": n,
        "samples_skipped": evaluation.unsharded_n - n,
        "evaluations_saved": sum(int(stop.get("evaluations_saved") or 0) for stop in stops),
        "interval": product_confidence_sequence(counts, evaluation.rules.check_confidence),
    }


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
        entry = next((c for c in shard.header["checks"] if c["model"] == model_id and c["id"] == check_id), None)
        result = next((r for r in shard.header["results"] if r["model"] == model_id and r["id"] == check_id), None)
        if entry is None or result is None:
            raise MergeError(f"{shard.name} holds no statistics of {check_id} on model {model_id!r}: it did not measure it")
        entries.append(entry)
        results.append(result)
    spec = spec_of(results[0], settings)
    duration = sum(float(r["duration_s"]) for r in results)
    if entries[0]["kind"] == "clean":
        measurement, _ = evaluation.measure(_family(spec), spec)
    else:
        measurement = merged_corruption(spec, evaluation, shards, entries, results[0])
    result = evaluation.result(spec, measurement, duration)
    return dataclasses.replace(result, details={**result.details, "shards": len(shards)})


def _family(spec: CheckSpec) -> Any:
    from ..checks._registry import family

    return family(spec.family)
