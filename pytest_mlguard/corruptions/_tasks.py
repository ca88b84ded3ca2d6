"""The ``corruption`` check of each task: :mod:`._run` for a classifier; for a segmentation model, the
mIoU of the corrupted images against the clean masks.

The 19 corruptions change the images only; the masks are kept, as in the published segmentation
benchmarks (Cityscapes-C and Pascal-C of Michaelis et al. 2019, which apply ImageNet-C's corruptions to
the images and score against the original labels). The geometric ones move pixels by little against
an object's size: ``elastic_transform`` displaces pixels by a few (its scale follows the image size,
``corruption.scale``), ``glass_blur`` swaps neighbours, ``zoom_blur`` averages zoomed copies centred
on the image; their cost at object borders is part of what they measure. The summary of the checks
(:mod:`._report`) gives mPC, the mean mIoU over every corruption and severity measured, and rPC, mPC
over the clean mIoU. A detector's checks are :func:`pytest_mlguard.detection._run.run_corruption`:
mAP against the original boxes, as COCO-C scores it, with mPC and rPC over mAP in the same summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..checks._base import CheckSpec, Measurement
from ..checks._family import run_for_task

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The check's measurement for the model's task."""
    return run_for_task(spec, evaluation, {"classification": "pytest_mlguard.corruptions._run:run_check", "segmentation": run_segmentation, "detection": "pytest_mlguard.detection._run:run_corruption"})


def run_segmentation(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """mIoU under the check's corruption (torchmetrics), a bootstrap interval over images, pixel-level
    ECE, and the relative robustness (this check's share of rPC) against the clean mIoU; below its floor,
    the worst images saved with their masks (:mod:`pytest_mlguard._segmentation.worst`)."""
    import numpy as np

    from .._segmentation.checks import clean_miou, miou_measurement
    from .._segmentation.metrics import pixel_ece
    from .._segmentation.worst import keep_worst
    from ._pipelining import check_chunk, corrupt_chunk, corrupted_predictions
    from ._registry import get
    from ._run import check_applies, check_seed, image_scale

    model, data = evaluation.model, evaluation.data
    name, severity = spec.param("corruption"), spec.param("severity")
    check_applies(model, name)
    n = evaluation.sample_limit(data.n)
    scale = image_scale(evaluation)
    result = corrupted_predictions(model, data.x[:n], name, severity, check_seed(spec, evaluation), scale=scale, workers=0, chunk=check_chunk(model, n, False))
    clean = clean_miou(evaluation)
    pred = result.proba.argmax(axis=1)
    ece = pixel_ece(result.proba, data.y[:n], data.ignore_index)  # type: ignore[attr-defined]
    # the same images without the corruption: report.html's calibration-under-shift figure draws it beside the ECE
    clean_ece = evaluation.memo(("clean_pixel_ece", n), lambda: pixel_ece(evaluation.clean_proba[:n], data.y[:n], data.ignore_index))  # type: ignore[attr-defined]
    details = {
        "corruption": name,
        "group": get(name).group,
        "severity": severity,
        "metric": "miou",
        "clean_accuracy": clean,
        "clean_miou": clean,
        "mean_abs_change": result.mean_abs_change,
        "ece": ece,
        "clean_ece": clean_ece,
        "scale": float(scale),
        "reference": getattr(scale, "reference", "imagenet-c"),
    }
    measurement = miou_measurement(spec, evaluation, pred, clean=clean, details=details)
    value = measurement.value
    measurement.details.update(relative_robustness=value / clean if clean > 0 else None, error=1.0 - value)  # type: ignore[attr-defined]
    worst = min(((k, v) for k, v in measurement.details["per_class_iou"].items() if v is not None), key=lambda kv: kv[1], default=None)
    import dataclasses

    message = (
        f"under {name} at severity {severity}: mIoU {value:.4f}, clean {clean:.4f} (relative {value / clean if clean else float('nan'):.3f}); "
        f"pixel ECE {ece:.4f}" + (f"; lowest class IoU {worst[0]} {worst[1]:.4f}" if worst else "")
    )
    measurement = dataclasses.replace(measurement, message=message)
    seed = check_seed(spec, evaluation)
    return keep_worst(evaluation, spec, measurement, lambda ids: corrupt_chunk(model, data.x[ids], name, severity, seed, 0, scale, ids=np.array(ids))[1], pred)
