"""The ``attack`` check of each task: ART's attacks for a classifier (:mod:`.run`); for a segmentation
model, PGD or FGSM on the per-pixel cross-entropy (:mod:`pytest_mlguard._segmentation.attack`: ART has
no estimator with per-pixel outputs), measured as the robust mIoU against a floor.

For a segmentation model the suite plans the fixed-epsilon gradient checks of ``attack.checks``
(``pgd-linf-<eps>``, ``pgd-l2-<eps>``, ``fgsm-linf-<eps>``); sweeps, minimal and black-box attacks
assume one class vector per input and are left out (asked for by name, they are not applicable).
A detector's are :func:`pytest_mlguard.detection._run.run_attack`: robust mAP under PGD and FGSM through
ART's ``PyTorchObjectDetector``, and under ART's ``RobustDPatch`` (``patch-<side>``, detection only).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..checks._base import CheckSpec, Measurement
from ..checks._family import run_for_task
from ..checks._evaluation import stable_seed
from ..errors import NotApplicable
from ._registry import applies_to_segmentation

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation

def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The check's measurement for the model's task."""
    return run_for_task(spec, evaluation, {"classification": "pytest_mlguard.attacks.run:run_check", "segmentation": run_segmentation, "detection": "pytest_mlguard.detection._run:run_attack"})


def run_segmentation(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """Robust mIoU under PGD or FGSM: the images of the evaluation (``attack.samples`` of them, in
    batches of ``attack.batch_size``) attacked, predicted, and scored against their masks; below its floor,
    the worst images saved with their masks (:mod:`pytest_mlguard._segmentation.worst`)."""
    from .._segmentation.attack import pgd
    from .._segmentation.checks import miou_measurement
    from .._segmentation.metrics import mean_iou
    from .._segmentation.worst import WorstSoFar, keep_worst

    model, data = evaluation.model, evaluation.data
    if not applies_to_segmentation(spec):
        raise NotApplicable(f"attack[{spec.name}] does not apply to a segmentation model: its attacks are pgd-linf-<eps>, pgd-l2-<eps> and fgsm-linf-<eps>")
    if not hasattr(model, "raw_module"):
        raise NotApplicable(f"model {model.name!r} is a {model.kind} model: the gradient attacks need a TorchSegmentationModel")
    params = dict(spec.param("params") or ())
    fgsm = spec.param("attack") == "fgsm"
    options = {
        "eps": float(spec.param("eps")),
        "norm": spec.param("norm"),
        "steps": 1 if fgsm else int(params.get("steps", 10)),
        "step_size": 1.0 if fgsm else float(params.get("step_size") or 2.5 / int(params.get("steps", 10))),
        "restarts": 0 if fgsm else int(params.get("restarts", 0)),
        "ignore_index": data.ignore_index,  # type: ignore[attr-defined]
        "value_range": model.value_range,
        "seed": stable_seed(evaluation.settings.seed, evaluation.model_id, spec.id),
        "device": getattr(model, "active_device", "cpu"),
    }
    n = evaluation.sample_limit(min(data.n, spec.param("samples") or data.n))
    net, size = model.raw_module(), int(spec.param("batch_size") or 32)
    preds, worst = [], WorstSoFar(evaluation)
    for start in range(0, n, size):
        adv = pgd(net, data.x[start : start + size], data.y[start : start + size], **options)
        preds.append(model.predict_proba(adv).argmax(axis=1))
        worst.offer(start, adv, preds[-1])
        evaluation.report_progress(min(start + size, n), n)
    import numpy as np

    pred = np.concatenate(preds)
    clean = mean_iou(evaluation.clean_proba[:n].argmax(axis=1), data.y[:n], model.n_classes, data.ignore_index)  # type: ignore[attr-defined]
    forwards = 2 * options["steps"] * (1 + options["restarts"]) + 1
    details = {"attack": spec.param("attack"), "norm": spec.param("norm"), "eps": options["eps"], "metric": "robust_miou", "clean_accuracy": clean, "clean_miou": clean, **{k: options[k] for k in ("steps", "step_size", "restarts")}}
    measurement = miou_measurement(spec, evaluation, pred, clean=clean, details=details, evaluations=forwards * n)
    message = f"{spec.param('attack').upper()} {spec.param('norm')} eps={options['eps']:g}: robust mIoU {measurement.value:.4f}, clean {clean:.4f} over {n} images"
    return keep_worst(evaluation, spec, dataclasses.replace(measurement, message=message), worst, pred)
