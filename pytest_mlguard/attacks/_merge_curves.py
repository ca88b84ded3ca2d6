"""The merge of a sweep and of a minimal attack from the shards' chunks (:mod:`._chunks`), and the attack
family's merge (``Family.merge``), which sends a fixed-epsilon check to :func:`._merge.merged_attack`.

A sweep's shard keeps each sample's adversarial class at every epsilon; the merge rebuilds the robust
masks, the raw and sound curves, the inconsistent samples, the bootstrap interval of the mean of the
sound curve (seeded by the check, over the merged samples in the unsharded order) and the rising-curve
sign, and its comparison with the checks of its norm of the other access (:mod:`._compare`). A minimal attack's
shard keeps the norm each sample needed; the merge takes the median over the samples the model gets
right and its bootstrap interval, the perturbation summaries and the robust accuracy at each epsilon.
Every chunk is computed as in the unsharded run, so are these.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks._base import CheckSpec, Measurement
from . import _metrics as metrics
from ._merge import ARRAYS, merged_attack, merged_details, merged_examples, merged_problems

if TYPE_CHECKING:
    from .._shard.merge import ShardFile
    from ..checks._evaluation import Evaluation


def merged(spec: CheckSpec, evaluation: Evaluation, shards: list[ShardFile], entries: list[dict[str, Any]], results: list[dict[str, Any]]) -> Measurement:
    """An attack check's measurement from the shards' statistics (the attack family's ``Family.merge``)."""
    if spec.param("eps") is not None:
        return merged_attack(spec, evaluation, shards, entries, results)
    return merged_curve(spec, evaluation, shards, entries, results)


def sweep_curve(spec: CheckSpec, evaluation: Evaluation, masks: list[np.ndarray], details: dict[str, Any]) -> tuple[float, Any, list[dict[str, Any]]]:
    """A sweep's value (the mean of its sound curve), bootstrap interval and rising-curve problems from each
    epsilon's robust samples (``masks``), its curve into ``details``: in the run (:meth:`run._Run._sweep`) and
    in the merge alike."""
    from ._soundness import rising

    epsilons = list(spec.param("sweep"))
    raw, sound, inconsistent = metrics.curve_from_masks(masks)
    survived = np.logical_and.accumulate(np.stack(masks), axis=0).mean(axis=0)  # per sample: share of the sound curve
    interval = evaluation.bootstrap(spec, lambda i: float(survived[i].mean()), len(survived))
    problem = rising(raw, epsilons, spec.param("tolerance"))
    if problem:
        problem["inconsistent_samples"] = inconsistent
    details["curve"] = {"eps": epsilons, "robust_accuracy": sound, "raw_robust_accuracy": raw}
    details["inconsistent_samples"] = inconsistent
    return float(np.mean(sound)), interval, [problem] if problem else []


def minimal_curve(spec: CheckSpec, evaluation: Evaluation, clean_ok: np.ndarray, flipped: np.ndarray, norms: np.ndarray, details: dict[str, Any]) -> tuple[float, Any]:
    """A minimal attack's value (the median norm over the samples right clean) and bootstrap interval, its
    perturbation summaries and curve into ``details``: in the run (:meth:`run._Run._minimal`) and in the merge alike."""
    correct = norms[clean_ok]
    value, interval = float(np.median(correct)) if len(correct) else 0.0, None
    if len(correct):
        interval = evaluation.bootstrap(spec, lambda i: float(np.median(correct[i])), len(correct))
    epsilons = list(spec.param("sweep"))
    details["perturbation"] = {
        **details.get("perturbation", {}),  # in the merge, the box diameter as a shard measured it (it has no model)
        "norm": spec.param("norm"), "flipped": metrics.norm_summary(norms[flipped]), "correctly_classified": metrics.norm_summary(correct),
        "failed": int((clean_ok & ~flipped).sum()),
    }  # fmt: skip
    details["curve"] = {"eps": epsilons, "robust_accuracy": metrics.robust_curve(norms, epsilons)}
    return value, interval


def merged_curve(spec: CheckSpec, evaluation: Evaluation, shards: list[ShardFile], entries: list[dict[str, Any]], results: list[dict[str, Any]]) -> Measurement:
    """A sweep's or a minimal attack's measurement from the shards' chunks: value, bootstrap interval,
    curve, perturbations, soundness and the details of the unsharded run."""
    from .._shard.outcomes import merged_arrays
    from ._compare import merged_comparison
    from ._soundness import verdict

    minimal = spec.metric == "median_perturbation"
    extra = "minimal_norm" if minimal else "adversarial_class_at_eps"
    arrays = merged_arrays(shards, entries, (*ARRAYS, extra))
    details = merged_details(spec, evaluation, arrays, results)
    artifacts = merged_examples(spec, evaluation, shards, entries)
    if artifacts is not None:
        details["artifacts"] = artifacts
    y, clean_ok = evaluation.data.y[arrays["positions"]], arrays["clean_ok"].astype(bool)
    recomputed: list[dict[str, Any]] = []
    if minimal:
        flipped = clean_ok & (arrays["adversarial_class"] != y)
        value, interval = minimal_curve(spec, evaluation, clean_ok, flipped, arrays["minimal_norm"], details)
    else:
        masks = [clean_ok & (classes == y) for classes in arrays["adversarial_class_at_eps"].T]
        value, interval, rising = sweep_curve(spec, evaluation, masks, details)
        recomputed = merged_comparison(spec, evaluation, shards, arrays)[0] + rising  # in the order the run finds them
    problems = merged_problems(results, spec.param("tolerance"), recomputed)
    details["soundness"] = {"mode": spec.param("soundness"), "problems": problems}
    method = "bootstrap" if interval else None
    message, failure = verdict(problems, spec.param("soundness"), spec.metric, value, f"{spec.id} on model {evaluation.model_id!r}") if problems else ("", None)
    if failure is not None:
        details["untrusted_value"] = value
        value, interval, method = math.nan, None, None
    return Measurement(
        value=value, n=len(y), clean=None if minimal else details["clean_accuracy"], details=details, message=message, successes=None, paired=None,
        interval=interval, interval_method=method, evaluations=details["model_evaluations"], evaluations_saved=None, failure=failure,
    )  # fmt: skip
