"""The ``gate`` checks of a segmenter or a detector: the candidate against the baseline in production
(``mlguard_baseline_model``, an adapter of the same task) on the same images.

* ``agreement``: the mean image-by-image agreement of the two, pixel-level or box-level
  (:mod:`pytest_mlguard.production._agreement`), against ``gate.agreement``; the images on which they differ are
  listed (and saved under the output directory);
* ``accuracy``: the largest drop of a class's IoU (segmentation, torchmetrics' confusion matrices) or AP
  (detection, torchmetrics' ``MeanAveragePrecision(class_metrics=True)``) from the baseline to the
  candidate, against ``gate.class_drop``; every class's change is in the details;
* ``robustness`` reruns the task's checks of the other families (mIoU or mAP clean, under the corruptions and
  attacks, the task's ECE) on both, as for a classifier (:func:`._robustness.robustness_comparison`): a metric
  regresses when it falls (a ceiling metric: rises) by more than its tolerance, and an mIoU's or mAP's change
  gets the paired bootstrap interval of the images both saw (:mod:`pytest_mlguard._verdicts.resampled`).

Rolling back is indicated (``details.rollback``) when a gated check's estimate passes its threshold, or a
robustness regression is decided.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ...checks._base import CheckSpec, Measurement
from ...errors import ContractError
from .._task_outputs import TaskOutputs, worst_images

if TYPE_CHECKING:
    from ...checks._evaluation import Evaluation


def _baseline(evaluation: Evaluation) -> Any:
    """The baseline (``mlguard_baseline_model``): an adapter of the candidate's task and classes."""
    from ...errors import CheckError

    model = (getattr(evaluation, "extras", {}) or {}).get("baseline_model")
    if model is None:
        raise CheckError("the gate compares the candidate (mlguard_model) with the model in production: define a fixture mlguard_baseline_model in conftest.py that returns it (see docs/production.md)")
    task = evaluation.model.task
    if getattr(model, "task", None) != task or model.n_classes != evaluation.model.n_classes:
        raise ContractError(
            f"expected a {task} model of {evaluation.model.n_classes} classes, as the candidate, but got {model!r}: declare the baseline with the candidate's adapter",
            fixture="mlguard_baseline_model",
        )
    return model


def per_class_scores(outputs: TaskOutputs, predictions: Any) -> dict[str, float | None]:
    """Each class's IoU (segmentation) or AP at IoU 0.5:0.95 (detection) of ``predictions`` of every image."""
    model, data = outputs.model, outputs.data
    if outputs.task == "segmentation":
        from ..._segmentation.metrics import confusion_matrices, per_class_iou

        masks = np.asarray(predictions).argmax(axis=1)
        return per_class_iou(confusion_matrices(masks, data.y, model.n_classes, data.ignore_index).sum(axis=0), model.class_names)
    from ...detection._metrics import average_precision_per_class

    return average_precision_per_class(predictions, data.targets, model.class_names)


def _comparison(spec: CheckSpec, evaluation: Evaluation) -> dict[str, Any]:
    baseline = _baseline(evaluation)
    rerun = "robustness" in spec.param("gated") or spec.name == "robustness"

    def compute() -> dict[str, Any]:
        outputs = TaskOutputs(evaluation.model, evaluation.data)
        index = np.arange(outputs.n)
        with evaluation.model.running(evaluation.settings.device):
            candidate = outputs.predict(index)
        with baseline.running(evaluation.settings.device):
            reference = outputs.predict(index, model=baseline)
        agreement = outputs.agree(reference, candidate, index)
        ours, theirs = per_class_scores(outputs, candidate), per_class_scores(outputs, reference)
        both = {name: (float(theirs[name]), float(mine)) for name, mine in ours.items() if mine is not None and theirs.get(name) is not None}  # type: ignore[arg-type]  # theirs[name]: not None, filtered
        per_class = {name: {"baseline": was, "candidate": now, "change": round(now - was, 6)} for name, (was, now) in both.items()}
        drops = [was - now for was, now in both.values()]
        found = {"baseline": baseline.name, "unit": outputs.unit, "agreement": agreement, "per_class": per_class, "max_class_drop": max(drops, default=0.0) + 0.0}  # + 0.0: no -0.0
        if rerun:  # gated: the reruns' regressions indicate a rollback from every gate check
            from ._robustness import baseline_evaluation, robustness_comparison

            found["robustness"] = robustness_comparison(spec, evaluation, baseline_evaluation(evaluation, baseline))
        return found

    return evaluation.memo(("gate", "task", id(baseline), spec.params, rerun), compute)


def _rollback(spec: CheckSpec, comparison: dict[str, Any], candidate: str) -> dict[str, Any]:
    reasons = []
    gated = spec.param("gated")
    if "agreement" in gated and comparison["agreement"].mean() < spec.param("agreement"):
        reasons.append(f"the candidate agrees with the baseline on {comparison['agreement'].mean():.1%} of the {comparison['unit']} (floor {spec.param('agreement'):.1%})")
    if "accuracy" in gated and comparison["max_class_drop"] > spec.param("class_drop"):
        reasons.append(f"a class's score fell by {comparison['max_class_drop']:.3f} (tolerated drop {spec.param('class_drop'):g})")
    undecided: list[str] = []
    if comparison.get("robustness") is not None:
        from ._rollback import _robustness_reasons

        decided, undecided = _robustness_reasons(comparison["robustness"])
        reasons += decided
    baseline = comparison["baseline"]
    if reasons:
        verdict = f"ROLLBACK INDICATED: keep the baseline {baseline!r} in production; the candidate {candidate!r} regresses: " + "; ".join(reasons)
    elif undecided:
        verdict = f"no rollback decided: the images cannot tell whether the candidate {candidate!r} regresses from the baseline {baseline!r} beyond tolerance: " + "; ".join(undecided)
    else:
        verdict = f"no rollback indicated: the candidate {candidate!r} is within every tolerance of the baseline {baseline!r}"
    return {"indicated": bool(reasons), "reasons": reasons, "undecided": undecided, "verdict": verdict}


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The gate check ``spec`` of a segmenter or a detector."""
    comparison = _comparison(spec, evaluation)
    rollback = _rollback(spec, comparison, evaluation.model.name)
    details: dict[str, Any] = {"baseline": comparison["baseline"], "rollback": rollback}
    if spec.name == "robustness":
        from ._robustness import robustness_measurement

        return robustness_measurement(evaluation, comparison["robustness"], details, rollback)
    found = comparison["agreement"]
    if spec.name == "agreement":
        changed = worst_images(found, len(found))
        path = evaluation.artifact_dir(spec) / "disagreements.json"
        path.write_text(json.dumps(changed, indent=1) + "\n")
        level = "pixel-level" if comparison["unit"] == "pixels" else "box-level"
        details.update(agreement=float(found.mean()), agreement_of=comparison["unit"], n_disagreements=len(changed), disagreements=changed[:20], disagreements_file=str(path))
        summary = f"{level} agreement {found.mean():.4f} over {len(found)} images; they differ on {len(changed)}, listed in {path}"
        return Measurement(value=float(found.mean()), n=len(found), details=details, message=f"{summary}\n{rollback['verdict']}")
    metric = "IoU" if comparison["unit"] == "pixels" else "AP"
    details.update(per_class=comparison["per_class"], max_class_drop=comparison["max_class_drop"], class_metric=metric.lower())
    worst = min(comparison["per_class"].items(), key=lambda item: item[1]["change"], default=None)
    summary = f"largest drop of a class's {metric}: {comparison['max_class_drop']:.4f}" + (
        f" ({worst[0]!r} {worst[1]['baseline']:.4f} -> {worst[1]['candidate']:.4f})" if worst else ""
    )
    return Measurement(value=float(comparison["max_class_drop"]), n=len(found), details=details, message=f"{summary}\n{rollback['verdict']}")
