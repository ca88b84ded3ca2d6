"""The outputs of a segmenter or a detector on the evaluation's images, for the determinism, drift and gate
checks of those tasks, compared image by image with the task's agreement (:mod:`pytest_mlguard.production._agreement`):
pixel-level for a segmenter (per-pixel probabilities ``(K, H, W)`` per image), box-level for a detector
(one dict of ``boxes``, ``labels``, ``scores`` per image).

Example:
    >>> from pytest_mlguard.contract import CallableSegmentationModel, SegmentationData
    >>> model = CallableSegmentationModel(lambda x: np.stack([1 - x[:, 0], x[:, 0]], axis=1), input_shape=(1, 2, 2), n_classes=2)
    >>> data = SegmentationData(np.ones((3, 1, 2, 2)), np.ones((3, 2, 2), int))
    >>> outputs = TaskOutputs(model, data)
    >>> first = outputs.predict(np.arange(3))
    >>> outputs.agree(first, outputs.predict(np.arange(3), batch_size=1)).tolist()
    [1.0, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._agreement import agreements, unit

#: a segmenter's or a detector's outputs, one per image of the index given
Predict = Callable[[np.ndarray], Any]


class TaskOutputs:
    """Predictions of ``model`` (a segmenter or a detector) on images of ``data`` chosen by index, and
    their agreement, image by image.

    Args:
        model: a segmentation :class:`~pytest_mlguard.contract.Model` (``predict_proba``: ``(N, K, H, W)``)
            or a :class:`~pytest_mlguard.contract.DetectionModel` (``predict``: one dict per image).
        data: its :class:`~pytest_mlguard.contract.SegmentationData` or ``DetectionData``.
    """

    def __init__(self, model: Any, data: Any) -> None:
        self.model, self.data = model, data
        self.task: str = model.task
        self.unit = unit(self.task)

    @property
    def n(self) -> int:
        return int(self.data.n)

    def samples(self, index: np.ndarray) -> Any:
        """The images of ``index``: an array ``(n, C, H, W)`` (segmentation) or a list (detection)."""
        if self.task == "detection":
            return [self.data.images[i] for i in index]
        return self.data.x[np.asarray(index, dtype=np.int64)]

    def run(self, samples: Any, *, batch_size: int | None = None, model: Any = None) -> Any:
        """The outputs of ``model`` (default: this one) on ``samples``, in batches of ``batch_size``."""
        model = self.model if model is None else model
        if self.task != "detection":
            return model.predict_proba(samples, batch_size=batch_size)
        kept = model.batch_size
        model.batch_size = batch_size or kept
        try:
            return list(model.predict(list(samples)))
        finally:
            model.batch_size = kept

    def predict(self, index: np.ndarray, *, batch_size: int | None = None, model: Any = None) -> Any:
        """:meth:`run` on the images of ``index``."""
        return self.run(self.samples(index), batch_size=batch_size, model=model)

    def agree(self, first: Any, second: Any, index: np.ndarray | None = None, *, tolerance: float = 0.0) -> np.ndarray:
        """The agreement of each image of two outputs of the images of ``index`` (default: the first ones),
        pixels whose target is the ignore index left out."""
        index = np.arange(len(first)) if index is None else np.asarray(index)
        targets = self.data.y[index] if self.task == "segmentation" else None
        ignore = getattr(self.data, "ignore_index", None)
        return agreements(self.task, first, second, targets=targets, ignore_index=ignore, tolerance=tolerance)

    def order(self, outputs: Any, order: np.ndarray) -> Any:
        """``outputs`` of the images ``order`` put back in data order."""
        back = np.argsort(order, kind="stable")
        if self.task == "detection":
            return [outputs[i] for i in back]
        return np.asarray(outputs)[back]

    def concat(self, parts: list[Any]) -> Any:
        """Outputs of consecutive requests as one."""
        if self.task == "detection":
            return [item for part in parts for item in part]
        return np.concatenate(parts)


def worst_images(agreement: np.ndarray, count: int = 10) -> list[dict[str, float | int]]:
    """The images whose agreement is below 1, the lowest first (``count`` of them), JSON-safe."""
    below = np.flatnonzero(agreement < 1.0)
    below = below[np.argsort(agreement[below], kind="stable")][:count]
    return [{"index": int(i), "agreement": round(float(agreement[i]), 6)} for i in below]
