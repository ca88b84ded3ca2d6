"""What a pipeline of a segmenter or a detector must return for one image file: the graceful-failure
contract of those tasks (:func:`~pytest_mlguard.inputs.graceful.outcome_of` with ``task``).

* segmentation: per-pixel scores ``(K, H, W)`` (or ``(1, K, H, W)``) of the model's ``K`` classes, finite,
  or a mask ``(H, W)`` (or ``(1, H, W)``) of class indices ``0 .. K-1``; its mask is the outcome's ``output``;
* detection: one dict ``{"boxes": (M, 4) x1y1x2y2, "labels": (M,), "scores": (M,)}`` (or a list of one),
  finite boxes with ``x1 <= x2``, ``y1 <= y2``, labels ``0 .. K-1``; the outcome's ``output``, as numpy arrays.

Any size of image is valid: a pipeline may resize what it reads.

Each function returns what is wrong with the output (``None``: nothing), what it is, and the output checked.

Example:
    >>> task_output(np.zeros((2, 4, 4)), "segmentation", 2)[:2]
    (None, 'mask 4x4')
    >>> task_output(np.zeros((3, 4, 4)), "segmentation", 2)[0]
    'returned scores of 3 classes per pixel (shape (3, 4, 4)); expected 2'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: what is wrong with an output (``None``: nothing), what it is, the output checked
Checked = tuple[str | None, str, Any]


def _array(output: Any) -> np.ndarray | None:
    if hasattr(output, "detach"):
        output = output.detach().cpu().float().numpy() if output.is_floating_point() else output.detach().cpu().numpy()
    try:
        return np.asarray(output)
    except (TypeError, ValueError):
        return None


def segmentation_output(output: Any, n_classes: int) -> Checked:
    """A segmentation pipeline's ``output`` checked: its mask, or what is wrong with it."""
    array = _array(output)
    if array is None or array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        return f"returned {type(output).__name__}, not per-pixel scores (K, H, W) or a mask (H, W)", "", None
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] == 1 and np.issubdtype(array.dtype, np.integer):
        array = array[0]
    if array.ndim == 3:
        if not np.issubdtype(array.dtype, np.floating):
            return f"returned an array of dtype {array.dtype} and shape {array.shape}: expected float scores (K, H, W) or a mask (H, W)", "", None
        if array.shape[0] != n_classes:
            return f"returned scores of {array.shape[0]} classes per pixel (shape {array.shape}); expected {n_classes}", "", None
        if not np.isfinite(array).all():
            return "returned NaN or inf scores", "", None
        mask = array.argmax(axis=0)
    elif array.ndim == 2 and (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        mask = array.astype(np.int64)
        if mask.size and (mask.min() < 0 or mask.max() >= n_classes):
            return f"returned a mask with class {int(mask.min()) if mask.min() < 0 else int(mask.max())}, outside 0..{n_classes - 1}", "", None
    else:
        return f"returned an array of shape {array.shape} and dtype {array.dtype}: expected scores ({n_classes}, H, W) or a mask (H, W) of class indices", "", None
    if 0 in mask.shape:
        return f"returned an empty mask of shape {mask.shape}", "", None
    return None, f"mask {mask.shape[0]}x{mask.shape[1]}", mask


def detection_output(output: Any, n_classes: int) -> Checked:
    """A detection pipeline's ``output`` checked: its detections as numpy arrays, or what is wrong with it."""
    from ..contract._tasks import check_target
    from ..errors import InvalidArgument

    if isinstance(output, (list, tuple)) and len(output) == 1:
        output = output[0]
    if not isinstance(output, Mapping):
        return f"returned {type(output).__name__}, not one dict {{'boxes': (M, 4), 'labels': (M,), 'scores': (M,)}}", "", None
    try:
        checked = check_target(output, 0, scores=True)
    except InvalidArgument as exc:
        return f"returned a malformed detection: {exc}", "", None
    labels = checked["labels"]
    if len(labels) and labels.max() >= n_classes:
        return f"returned label {int(labels.max())}, outside 0..{n_classes - 1}", "", None
    return None, f"{len(labels)} boxes", checked


def task_output(output: Any, task: str, n_classes: int) -> Checked:
    """``output``, what a pipeline of a ``task`` model returned for one image file, checked."""
    if task == "detection":
        return detection_output(output, n_classes)
    return segmentation_output(output, n_classes)
