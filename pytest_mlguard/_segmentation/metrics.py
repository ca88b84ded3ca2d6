"""Segmentation metrics through torchmetrics: mIoU and per-class IoU, per image (so that intervals can
resample images), and pixel-level ECE.

The mIoU is torchmetrics' macro Jaccard index over the pixels of all the images: classes absent from
both the predictions and the masks count in no mean, pixels labelled ``ignore_index`` in none. The
per-image confusion matrices (``multiclass_confusion_matrix``) add up to the data set's, whose
Jaccard index torchmetrics reduces (``_jaccard_index_reduce``, the reduction ``MulticlassJaccardIndex``
itself uses): a bootstrap resample of images is a sum of their matrices, not a second implementation.

Example:
    >>> pred = np.array([[[0, 1], [1, 1]]]); target = np.array([[[0, 1], [0, 1]]])
    >>> round(mean_iou(pred, target, n_classes=2), 4)
    0.5833
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: the bins of pixel-level ECE (torchmetrics' default)
ECE_BINS = 15


def confusion_matrices(pred: np.ndarray, target: np.ndarray, n_classes: int, ignore_index: int | None = 255) -> np.ndarray:
    """The ``(N, K, K)`` confusion matrix of each image (rows: the mask's class, columns: the prediction)."""
    import torch
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(f"expected predicted and true masks of the same shape (N, H, W), got {pred.shape} and {target.shape}")
    out = np.zeros((len(pred), n_classes, n_classes), np.int64)
    for i in range(len(pred)):
        matrix = multiclass_confusion_matrix(
            torch.from_numpy(pred[i].astype(np.int64)), torch.from_numpy(target[i].astype(np.int64)), n_classes, ignore_index=ignore_index, validate_args=False
        )
        out[i] = matrix.numpy()
    return out


def iou_from_confusion(confusion: np.ndarray, average: str = "macro") -> np.ndarray:
    """torchmetrics' Jaccard index of a ``(K, K)`` confusion matrix: ``"macro"`` (the mIoU) or ``"none"`` (per class)."""
    import torch
    from torchmetrics.functional.classification.jaccard import _jaccard_index_reduce

    return _jaccard_index_reduce(torch.from_numpy(np.asarray(confusion)), average=average).numpy()  # type: ignore[arg-type]


def mean_iou(pred: np.ndarray, target: np.ndarray, n_classes: int, ignore_index: int | None = 255) -> float:
    """The mIoU of predicted masks ``(N, H, W)`` against true ones, ``torchmetrics.classification.MulticlassJaccardIndex``."""
    import torch
    from torchmetrics.classification import MulticlassJaccardIndex

    metric = MulticlassJaccardIndex(n_classes, average="macro", ignore_index=ignore_index, validate_args=False)
    return float(metric(torch.from_numpy(np.asarray(pred, np.int64)), torch.from_numpy(np.asarray(target, np.int64))))


def per_class_iou(confusion: np.ndarray, class_names: tuple[str, ...]) -> dict[str, float | None]:
    """IoU of each class of a ``(K, K)`` confusion matrix (``None``: in neither the masks nor the predictions)."""
    values = iou_from_confusion(confusion, "none")
    present = (confusion.sum(0) + confusion.sum(1)) > 0
    return {name: (float(v) if seen else None) for name, v, seen in zip(class_names, values, present)}


def miou_of_images(confusions: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``statistic(indices)``: for each row of ``indices`` ``(R, n)`` (the resamples of a bootstrap over
    images), the mIoU of the images it names.

    Each resample's confusion matrix is a sum of the images'; torchmetrics' Jaccard reduction gives the
    IoU of every class of every resample in one call (the matrices laid out one-vs-rest, ``(R * K, 2, 2)``),
    and the mean over the classes that occur in the masks or the predictions is torchmetrics' macro
    average (its weights: 1 for those, 0 for the others).
    """
    flat = confusions.reshape(len(confusions), -1).astype(np.float64)
    classes = confusions.shape[1]

    def statistic(index: np.ndarray) -> np.ndarray:
        index = np.atleast_2d(index)
        counts = np.stack([np.bincount(row, minlength=len(confusions)) for row in index])
        summed = (counts @ flat).reshape(len(index), classes, classes)
        tp = np.diagonal(summed, axis1=1, axis2=2)
        fp, fn = summed.sum(axis=1) - tp, summed.sum(axis=2) - tp
        one_vs_rest = np.stack([np.stack([np.zeros_like(tp), fp], -1), np.stack([fn, tp], -1)], -2).reshape(-1, 2, 2)
        iou = iou_from_confusion(one_vs_rest, "none").reshape(len(index), classes)
        present = (tp + fp + fn) > 0
        return (iou * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)

    return statistic


def pixel_ece(proba: np.ndarray, target: np.ndarray, ignore_index: int | None = 255, bins: int = ECE_BINS) -> float:
    """Pixel-level expected calibration error (L1, equal-width bins) of per-pixel probabilities
    ``(N, C, H, W)`` against masks ``(N, H, W)``: torchmetrics' ``multiclass_calibration_error`` over
    every pixel not labelled ``ignore_index``."""
    import torch
    from torchmetrics.functional.classification import multiclass_calibration_error

    n_classes = proba.shape[1]
    flat = np.moveaxis(np.asarray(proba, np.float32), 1, -1).reshape(-1, n_classes)
    labels = np.asarray(target, np.int64).reshape(-1)
    keep = labels != ignore_index if ignore_index is not None else np.ones(len(labels), bool)
    return float(multiclass_calibration_error(torch.from_numpy(flat[keep]), torch.from_numpy(labels[keep]), n_classes, n_bins=bins, norm="l1"))


def pixel_bins(proba: np.ndarray, target: np.ndarray, ignore_index: int | None = 255, bins: int = ECE_BINS) -> np.ndarray:
    """Per image and confidence bin, the pixels' count, summed top-class confidence and correct count:
    ``(N, 3, bins)``, binned as torchmetrics bins (``bucketize(confidence, linspace(0, 1, bins + 1),
    right=True) - 1``), so that the ECE of any set of images is a sum of their rows (:func:`ece_of_bins`)."""
    import torch

    confidence = np.asarray(proba, np.float32).max(axis=1).reshape(len(proba), -1)
    correct = (np.asarray(proba).argmax(axis=1) == target).reshape(len(proba), -1)
    counted = (target != ignore_index).reshape(len(proba), -1) if ignore_index is not None else np.ones_like(correct)
    edges = torch.linspace(0, 1, bins + 1)
    index = (torch.bucketize(torch.from_numpy(confidence), edges, right=True) - 1).clamp(0, bins - 1).numpy()
    out = np.zeros((len(proba), 3, bins))
    for i in range(len(proba)):
        keep = counted[i]
        for row, weights in enumerate((keep, confidence[i] * keep, correct[i] & keep)):
            out[i, row] = np.bincount(index[i], weights=weights.astype(np.float64), minlength=bins)
    return out


def ece_of_bins(summed: np.ndarray) -> float:
    """The L1 ECE of summed bins ``(3, bins)`` (count, confidence, correct): ``sum |accuracy - confidence| * share``."""
    count, confidence, correct = summed
    return float(np.abs(correct - confidence).sum() / max(count.sum(), 1.0))


def pixel_ece_of_images(binned: np.ndarray) -> Callable[[np.ndarray], float]:
    """``statistic(indices)``: the pixel-level ECE of the images at ``indices``, from :func:`pixel_bins`."""
    return lambda index: ece_of_bins(binned[index].sum(axis=0))

