"""What the checks of a segmentation model share: its clean masks, computed once per evaluation, and
the measurement of an mIoU (torchmetrics) with its bootstrap interval over images.

Example:
    >>> from pytest_mlguard.contract import CallableSegmentationModel, SegmentationData
    >>> from pytest_mlguard.checks._evaluation import Evaluation
    >>> from pytest_mlguard.checks._registry import all_keys
    >>> from pytest_mlguard.config import resolve
    >>> x = np.zeros((4, 1, 2, 2), np.float32); y = np.zeros((4, 2, 2), int)
    >>> model = CallableSegmentationModel(lambda b: np.stack([np.ones((len(b), 2, 2)), np.zeros((len(b), 2, 2))], 1), input_shape=(1, 2, 2), n_classes=2)
    >>> clean_miou(Evaluation(model, SegmentationData(x, y), resolve(cli={"task": "segmentation"}, environ={}, keys=all_keys())))
    1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._verdicts.resampled import keep_statistic
from ..checks._spec import CheckSpec, Measurement
from .metrics import confusion_matrices, mean_iou, miou_of_images, per_class_iou

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation


def confusions(evaluation: Evaluation, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The per-image confusion matrices of predicted masks against ``target`` (the evaluation's data's)."""
    return confusion_matrices(pred, target, evaluation.model.n_classes, evaluation.data.ignore_index)  # type: ignore[attr-defined]


def clean_confusions(evaluation: Evaluation) -> np.ndarray:
    """The per-image confusion matrices of the clean data, computed once per evaluation."""
    return evaluation.memo(("segmentation", "clean-confusions"), lambda: confusions(evaluation, evaluation.clean_proba.argmax(axis=1), evaluation.data.y))


def clean_miou(evaluation: Evaluation) -> float:
    """The mIoU of the clean data (torchmetrics' ``MulticlassJaccardIndex``)."""
    data = evaluation.data
    return evaluation.memo(
        ("segmentation", "clean-miou"),
        lambda: mean_iou(evaluation.clean_proba.argmax(axis=1), data.y, evaluation.model.n_classes, data.ignore_index),  # type: ignore[attr-defined]
    )


def miou_measurement(
    spec: CheckSpec, evaluation: Evaluation, pred: np.ndarray, *, clean: float | None, details: dict[str, Any], message: str = "", evaluations: int | None = None
) -> Measurement:
    """The mIoU of the predicted masks ``pred`` of the first ``len(pred)`` images of the evaluation's
    data, with per-class IoU in ``details`` and a bootstrap interval over images (normal, debiased:
    :meth:`~pytest_mlguard.checks._evaluation.Evaluation.bootstrap`)."""
    data = evaluation.data
    target = data.y[: len(pred)]
    matrices = confusions(evaluation, pred, target)
    value = mean_iou(pred, target, evaluation.model.n_classes, data.ignore_index)  # type: ignore[attr-defined]
    total = matrices.sum(axis=0)
    details = {
        **details,
        "per_class_iou": per_class_iou(total, evaluation.model.class_names),
        "pixel_accuracy": float(np.trace(total) / max(1, total.sum())),
        "images": len(pred),
    }
    statistic = miou_of_images(matrices)
    interval = evaluation.bootstrap(spec, statistic, len(pred), batched=True, whole_set=True)
    keep_statistic(evaluation, spec.id, statistic, len(pred), batched=True)  # gate[robustness] pairs it with the baseline's
    return Measurement(
        value=value,
        n=len(pred),
        clean=clean,
        chance=1.0 / evaluation.model.n_classes,
        details=details,
        message=message,
        interval=interval,
        interval_method="bootstrap-images" if interval else None,
        evaluations=evaluations if evaluations is not None else len(pred),
    )

