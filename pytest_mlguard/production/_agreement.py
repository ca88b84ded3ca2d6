"""Whether two outputs of the same model on the same images agree, for the tasks beyond classification:
the agreement the inputs and production families compare segmenters and detectors with.

* segmentation: pixel-level, the fraction of pixels whose argmax class is the same in both outputs
  (pixels whose target is the ignore index left out; 1.0 where every pixel is ignored). An output is
  per-pixel scores ``(K, H, W)`` or a mask ``(H, W)`` of class indices. With ``tolerance``, a pixel whose
  class changed counts as equal where its scores differ by no more than that (a tie broken otherwise by
  float rounding);
* detection: box-level, the share of confident boxes (score at least 0.5) of either output that the
  other matches with its label at IoU >= 0.5, both ways
  (:func:`~pytest_mlguard.detection._metrics.box_agreement`), per image.

Every function gives one agreement per image, in ``[0, 1]``; 1.0 is agreement.

Example:
    >>> a = np.zeros((1, 2, 2), np.int64)
    >>> pixel_agreements(a, np.array([[[0, 1], [0, 0]]])).tolist()
    [0.75]
    >>> pixel_agreements(a, np.array([[[0, 1], [0, 0]]]), targets=np.array([[[0, 255], [0, 0]]]), ignore_index=255).tolist()
    [1.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: the score a box needs to count in the box-level agreement (as in ``contract[eval-mode]``)
MIN_SCORE = 0.5


def mask_of(output: Any) -> np.ndarray:
    """The class of each pixel of one segmentation output: the argmax of scores ``(K, H, W)``, or a mask ``(H, W)`` as is."""
    array = np.asarray(output)
    return array.argmax(axis=0) if array.ndim == 3 else array


def pixel_agreement(first: Any, second: Any, *, target: Any = None, ignore_index: int | None = None, tolerance: float = 0.0) -> float:
    """The fraction of equal pixels of two outputs of one image (:func:`mask_of`), pixels of ``target``
    equal to ``ignore_index`` left out; 0.0 where the outputs differ in size."""
    a, b = mask_of(first), mask_of(second)
    if a.shape != b.shape:
        return 0.0
    equal = a == b
    if tolerance > 0 and np.ndim(first) == 3 and np.shape(first) == np.shape(second):
        equal |= np.abs(np.asarray(first, np.float64) - np.asarray(second, np.float64)).max(axis=0) <= tolerance
    counted = np.ones(a.shape, bool)
    if target is not None and ignore_index is not None and np.shape(target) == a.shape:
        counted = np.asarray(target) != ignore_index
    return float(equal[counted].mean()) if counted.any() else 1.0


def pixel_agreements(first: Any, second: Any, *, targets: Any = None, ignore_index: int | None = None, tolerance: float = 0.0) -> np.ndarray:
    """:func:`pixel_agreement` of each image of two sequences of outputs (``(N, K, H, W)`` scores, ``(N, H, W)`` masks)."""
    return np.array(
        [
            pixel_agreement(a, b, target=None if targets is None else targets[i], ignore_index=ignore_index, tolerance=tolerance)
            for i, (a, b) in enumerate(zip(first, second))
        ],
        dtype=np.float64,
    )


def box_agreements(first: Sequence[Mapping[str, Any]], second: Sequence[Mapping[str, Any]], *, min_score: float = MIN_SCORE) -> np.ndarray:
    """The box-level agreement of each image of two sequences of detections (one dict of ``boxes``,
    ``labels``, ``scores`` per image)."""
    from ..detection._metrics import box_agreement

    return np.array([box_agreement([a], [b], min_score=min_score) for a, b in zip(first, second)], dtype=np.float64)


def agreements(task: str, first: Any, second: Any, *, targets: Any = None, ignore_index: int | None = None, tolerance: float = 0.0) -> np.ndarray:
    """The agreement of each image of two sequences of outputs of a ``task`` model: pixel-level for
    segmentation (``targets`` and ``ignore_index``: the pixels left out), box-level for detection."""
    if task == "detection":
        return box_agreements(first, second)
    if task == "segmentation":
        return pixel_agreements(first, second, targets=targets, ignore_index=ignore_index, tolerance=tolerance)
    raise ValueError(f"expected task 'segmentation' or 'detection', got {task!r}")


def unit(task: str) -> str:
    """What the agreement of ``task`` counts: ``pixels`` or ``boxes``."""
    return "boxes" if task == "detection" else "pixels"
