"""The ``accuracy`` check of each task, the model's clean performance: top-1 accuracy for a classifier
(:mod:`.functional`), mIoU for a segmentation model (torchmetrics' ``MulticlassJaccardIndex`` over every
pixel not labelled ``ignore_index``, with per-class IoU and a bootstrap interval over images), COCO mAP
and mAP@0.5 for a detector (:func:`pytest_mlguard.detection._run.run_accuracy`)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..checks._base import CheckSpec, Measurement
from ..checks._family import run_for_task

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The check's measurement for the model's task."""
    return run_for_task(spec, evaluation, {"classification": "pytest_mlguard._accuracy.functional:run_check", "segmentation": run_segmentation, "detection": "pytest_mlguard.detection._run:run_accuracy"})


def run_segmentation(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The clean mIoU of the evaluation's images."""
    from .._segmentation.checks import miou_measurement

    pred = evaluation.clean_proba.argmax(axis=1)
    measurement = miou_measurement(spec, evaluation, pred, clean=None, details={"metric": "miou"})
    ious = {k: v for k, v in measurement.details["per_class_iou"].items() if v is not None}
    lowest = ", ".join(f"{name} {value:.4f}" for name, value in sorted(ious.items(), key=lambda kv: kv[1])[:3])
    message = f"clean mIoU {measurement.value:.4f} over {measurement.n} images; lowest class IoU: {lowest}"
    return dataclasses.replace(measurement, message=message)
