"""An attack check on the shards of ``--mlguard-shard`` (:mod:`pytest_mlguard._shard`): which checks run
on each shard's samples, what a shard keeps of each sample, and the merge that recomputes the check
from them as the unsharded run measures it.

A fixed-epsilon check of a classifier is a proportion of per-sample outcomes (a sample is robust when
the model gets it right clean and under the attack). Where the attack on one image does not depend on
the others (FGSM and PGD without random starts draw no randomness), it runs on each shard's samples.
The attacks that do draw randomness (PGD's random starts, Square, AutoAttack's APGD starts and Square,
HopSkipJump's starting points) draw it for a whole batch from numpy's global generator (ART's
``random_sphere``; Square picks one window for every image of an iteration), so an image's attack
depends on the rest of its batch: those checks, the sweeps and the minimal attacks run by fixed seeded
chunks of the run's attack samples (:mod:`._chunks`), each shard its chunks, each chunk computed as in
the unsharded run. Either way a shard keeps the per-sample statistics of :data:`ARRAYS` (a sweep also
each sample's adversarial class at every epsilon, a minimal attack the norm that flipped it), and
:func:`merged_attack` (:func:`._merge_curves.merged_curve` for sweeps and minimal attacks) recomputes
value, interval, paired counts, details and verdict from them, and the comparison with the checks of its
norm of the other access (a black-box attack beside gradient ones) from both checks' merged outcomes
(:func:`._compare.merged_comparison`).
A segmenter's and a detector's attack checks run whole on one shard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks._base import CheckSpec, Measurement
from ._metrics import norm_summary, perturbation_norms

if TYPE_CHECKING:
    from .._shard.merge import ShardFile
    from ..checks._evaluation import Evaluation

#: the per-sample arrays a shard keeps of a check, beside its outcomes (robust) and their places
ARRAYS = ("clean_ok", "adversarial_class", "linf", "l2", "adversarial_confidence", "clean_confidence")


def keep_sample_statistics(
    evaluation: Evaluation, spec: CheckSpec, x: np.ndarray, x_adv: np.ndarray, y: np.ndarray,
    clean_pred: np.ndarray, adv_pred: np.ndarray, adv_proba: np.ndarray, clean_proba: np.ndarray, positions: np.ndarray | None = None,
    per_eps: np.ndarray | None = None, norms: np.ndarray | None = None,
) -> None:  # fmt: skip
    """Keep, for the shard's statistics, what the merge needs of each attacked sample (:data:`ARRAYS`),
    one value per robust outcome the check kept; ``positions``: their places in the unsharded run's data
    where they are not the shard's own samples (a chunked check's, :mod:`._chunks`). A sweep keeps the
    adversarial class at each epsilon (``per_eps``, epsilons first), a minimal attack each sample's norm
    (``norms``), and both their robust outcomes at the last epsilon (a fixed-epsilon check kept its own)."""
    from .._shard.statistics import keep_statistics
    from .._verdicts.paired import keep_outcomes

    where: dict[str, np.ndarray] = {} if positions is None else {"positions": positions}
    if per_eps is not None or norms is not None:
        keep_outcomes(evaluation, spec.id, (clean_pred == y) & (adv_pred == y))
        where.update({"adversarial_class_at_eps": per_eps.T} if per_eps is not None else {"minimal_norm": np.asarray(norms)})
    keep_statistics(
        evaluation, spec.id, clean_ok=clean_pred == y, adversarial_class=adv_pred,
        linf=perturbation_norms(x, x_adv, "linf"), l2=perturbation_norms(x, x_adv, "l2"),
        adversarial_confidence=adv_proba.max(axis=1), clean_confidence=clean_proba.max(axis=1), **where,
    )  # fmt: skip


def empty_share(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The measurement of a check on a shard that holds none of its samples (``attack.samples`` fewer than
    the shards): no value, and no outcomes for the merge, which reads the other shards'."""
    from .._shard.statistics import keep_statistics
    from .._verdicts.paired import keep_outcomes

    keep_outcomes(evaluation, spec.id, np.zeros(0, bool), np.zeros(0, np.int64))
    arrays = {name: np.zeros(0, bool if name == "clean_ok" else np.int64 if name == "adversarial_class" else np.float64) for name in ARRAYS}
    if spec.param("eps") is None:  # a sweep's classes at each epsilon, or a minimal attack's norms
        arrays.update({"minimal_norm": np.zeros(0)} if spec.metric == "median_perturbation" else {"adversarial_class_at_eps": np.zeros((0, len(spec.param("sweep"))), np.int64)})
    keep_statistics(evaluation, spec.id, **arrays)
    return Measurement(value=float("nan"), n=0, details={"samples": 0}, message="none of the check's samples is on this shard")


def _top_ece(confidence: np.ndarray, correct: np.ndarray) -> float:
    """The ECE of top-1 confidences and whether each top-1 class was right (as of the probabilities)."""
    from ..calibration.metrics import expected_calibration_error

    as_proba = np.stack([confidence, np.zeros(len(confidence))], axis=1)  # the top confidence, right when the label is 0
    return expected_calibration_error(as_proba, (~correct).astype(np.int64))


def merged_problems(results: list[dict[str, Any]], tolerance: float, recomputed: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The soundness problems of the merged check in the unsharded run's order: those of the model as the
    first shard that found each reported it, the ``recomputed`` ones (a black-box attack beating a gradient
    one, from both checks' merged outcomes; a sweep's curve rising, from the merged curve; the shards' own
    are left out), then the gradient ones from the shards' summed counts."""
    from ._soundness import gradient_problems

    def total(key: str) -> int:
        return sum(int(r["details"].get(key) or 0) for r in results)

    stats = {"gradient_rows": total("gradient_evaluations"), "zero_gradient_rows": total("zero_gradient_evaluations")}
    problems: list[dict[str, Any]] = []
    codes = {"zero-gradients", "nonfinite-gradients", "rising-with-epsilon", "black-box-beats-white-box"}  # recomputed
    for result in results:
        for problem in result["details"].get("soundness", {}).get("problems", ()):
            if problem["code"] not in codes:
                problems.append(problem)
                codes.add(problem["code"])
    return problems + list(recomputed) + gradient_problems({**stats, "nonfinite_gradient_rows": total("nonfinite_gradient_evaluations")}, tolerance)


def _places(spec: CheckSpec, evaluation: Evaluation, positions: np.ndarray) -> np.ndarray:
    """Each sample's place in the attack's samples (``attack.samples`` of them), as the unsharded run numbers them."""
    from ..checks._evaluation import stable_seed

    subset = evaluation.subset_index(spec.param("samples"), stable_seed(evaluation.settings.seed, "attack-samples"))
    return np.searchsorted(subset, positions)


def merged_examples(spec: CheckSpec, evaluation: Evaluation, shards: list[ShardFile], entries: list[dict[str, Any]]) -> str | None:
    """The flipped samples the shards saved (``adversarial.npz`` in each shard's artefacts), put together
    in the merge's artefact directory in the unsharded order, where report.html shows the ones the
    unsharded run shows; the directory, or ``None`` where a shard's file is missing (not copied) or is not
    of the shard's samples (its places or adversarial classes are not those the shard kept)."""
    from ..reporting._examples import artifact_dir_name

    parts: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
    for shard, entry in zip(shards, entries):
        if not len(shard.array(entry["arrays"]["positions"])):
            continue  # none of the check's samples on it (empty_share)
        path = shard.path.parent / "artifacts" / artifact_dir_name(evaluation.model_id, spec.id) / "adversarial.npz"
        if not path.is_file():
            return None
        kept = shard.array(entry["arrays"]["adversarial_class"])
        with np.load(path, allow_pickle=False) as saved:  # its index: the place among the samples the shard kept
            index = saved["index"]
            if len(index) and (index.max() >= len(kept) or not np.array_equal(kept[index], saved["adversarial_class"])):
                return None  # not this shard's samples (a file another run wrote there): no thumbnails, rather than wrong ones
            parts.append((shard.array(entry["arrays"]["positions"])[index], {name: saved[name] for name in ("x", "x_adv", "y", "adversarial_class")}))
    if not parts:
        return None
    positions = np.concatenate([part[0] for part in parts])
    order = np.argsort(positions, kind="stable")
    arrays = {name: np.concatenate([part[1][name] for part in parts])[order] for name in parts[0][1]}
    directory = evaluation.artifact_dir(spec)
    index = _places(spec, evaluation, positions[order])
    np.savez(directory / "adversarial.npz", index=index, x=arrays["x"], x_adv=arrays["x_adv"], y=arrays["y"], adversarial_class=arrays["adversarial_class"])
    return str(directory)


def merged_details(spec: CheckSpec, evaluation: Evaluation, merged: dict[str, np.ndarray], results: list[dict[str, Any]]) -> dict[str, Any]:
    """The unsharded run's details of the check, from the merged samples (a sweep's curve and a minimal
    attack's perturbations aside: :mod:`._merge_curves`)."""
    from ._metrics import outcome
    from ._registry import ATTACKS

    positions, y = merged["positions"], evaluation.data.y[merged["positions"]]
    clean_pred = np.where(merged["clean_ok"].astype(bool), y, -1)  # right or not is all the outcome reads of it
    out = outcome(y, clean_pred, merged["adversarial_class"])
    index = _places(spec, evaluation, positions)

    def total(key: str) -> int:
        return sum(int(r["details"].get(key) or 0) for r in results)

    measured = next(r for r in results if "soundness" in r["details"])  # a shard that attacked samples (some hold none of attack.samples)
    details = {key: value for key, value in measured["details"].items() if key not in ("artifacts", "untrusted_value")}  # the shards' files stay theirs
    norms = merged[spec.param("norm")]
    if spec.param("eps") is not None:
        details["perturbation"] = {"linf_max": float(merged["linf"].max()) if len(y) else 0.0, "l2_median": float(np.median(merged["l2"])) if len(y) else 0.0, "flipped": norm_summary(norms[out["flipped"]])}
    details["clean" if ATTACKS[spec.param("attack")].minimal else "clean_accuracy"] = out["clean_accuracy"]
    details.update(
        robust_accuracy=out["robust_accuracy"], success_rate=out["success_rate"],
        flipped=[{"index": int(index[i]), "label": int(y[i]), "adversarial_class": int(merged["adversarial_class"][i])} for i in np.flatnonzero(out["flipped"])[:10000]],
        model_evaluations=total("model_evaluations"), gradient_evaluations=total("gradient_evaluations"),
        zero_gradient_evaluations=total("zero_gradient_evaluations"), nonfinite_gradient_evaluations=total("nonfinite_gradient_evaluations"),
        queries_per_sample=round((total("model_evaluations") - total("gradient_evaluations")) / max(1, len(y)), 2),
        cached_predictions=total("cached_predictions"),
        ece_adversarial=_top_ece(merged["adversarial_confidence"], merged["adversarial_class"] == y),
        clean_ece=_top_ece(merged["clean_confidence"], merged["clean_ok"].astype(bool)),
        shards=len(results),
    )  # fmt: skip
    return details


def merged_attack(spec: CheckSpec, evaluation: Evaluation, shards: list[ShardFile], entries: list[dict[str, Any]], results: list[dict[str, Any]]) -> Measurement:
    """A fixed-epsilon attack check's measurement from the shards' per-sample outcomes: value, counts paired
    with the clean outcomes, interval (the product of the shards' e-values where some stopped early),
    verdict on soundness, and the details of the unsharded run."""
    from .._shard.outcomes import merged_arrays, merged_early_stop
    from .._verdicts.intervals import paired_counts
    from ._compare import merged_comparison
    from ._soundness import unsound_quote, verdict

    merged = merged_arrays(shards, entries, ("outcomes", *ARRAYS))
    robust, clean_ok = merged["outcomes"].astype(bool), merged["clean_ok"].astype(bool)
    details = merged_details(spec, evaluation, merged, results)
    artifacts = merged_examples(spec, evaluation, shards, entries)
    if artifacts is not None:
        details["artifacts"] = artifacts
    n, successes, clean = len(robust), int(robust.sum()), details["clean_accuracy"]
    stopper = evaluation.early_stop(spec, n, clean=clean)
    stopper.update(successes, n)
    value, interval, method = stopper.value_and_interval()
    stops = [entry["details"].get("early_stop") or {} for entry in entries]
    early = merged_early_stop(shards, entries, stops, evaluation)
    if early is not None:  # some shard stopped on its own share: the product of the shards' e-values decides
        interval, method = early.pop("interval"), "confidence-sequence-product"
        early["samples_skipped"] = sum(int(stop.get("samples_used", 0)) + int(stop.get("samples_skipped", 0)) for stop in stops) - n
    details["early_stop"] = early or stopper.details(details["model_evaluations"])
    compared, sound = merged_comparison(spec, evaluation, shards, merged)
    problems = merged_problems(results, spec.param("tolerance"), compared)
    details["soundness"] = {"mode": spec.param("soundness"), "problems": problems}
    paired: tuple[int, int, int, int] | None = paired_counts(clean_ok, robust)
    message, failure = verdict(problems, spec.param("soundness"), spec.metric, value, f"{spec.id} on model {evaluation.model_id!r}") if problems else ("", None)
    counted: int | None = successes
    if failure is not None:
        details["untrusted_value"] = value
        value, n, counted, paired, message = unsound_quote(message, spec.metric, n, sound)  # as the run quotes it
        interval, method = None, None
    return Measurement(
        value=value, n=n, clean=clean, details=details, message=message, successes=counted, paired=paired,
        interval=interval, interval_method=method, evaluations=details["model_evaluations"],
        evaluations_saved=details["early_stop"].get("evaluations_saved"), failure=failure,
    )  # fmt: skip
