"""The tasks a model declares, and the evaluation data of the tasks other than classification.

A model declares its task by its adapter (``Model.task``): ``"classification"`` (one class vector per
input, every adapter of :mod:`._model`), ``"segmentation"`` (images in, per-pixel class scores
``(N, C, H, W)`` out; :mod:`._segmentation`) or ``"detection"`` (torchvision's convention: a list of
images in, a list of ``{"boxes", "labels", "scores"}`` out; :mod:`._detection`). The suite plans its
checks for the task of the ``task`` setting; a family that assumes one class vector per input is not
planned for another task (``Family.tasks``).

:class:`SegmentationData` holds images ``(N, C, H, W)`` and masks ``(N, H, W)`` of class indices, with
an ``ignore_index`` for pixels that count in no metric. :class:`DetectionData` holds a list of images
``(C, H, W)`` (of any sizes) and their targets ``{"boxes": (M, 4) xyxy, "labels": (M,)}``.
:func:`as_task_data` reads either from a torch ``Dataset`` or ``DataLoader`` of ``(image, target)``
pairs, as torchvision's reference scripts give them, or from arrays.

Example:
    >>> data = SegmentationData(np.zeros((2, 3, 4, 4)), np.zeros((2, 4, 4), int))
    >>> data.n, data.sample_shape, data.ignore_index
    (2, (3, 4, 4), 255)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from ..errors import InvalidArgument
from ._data import EvalData, _image_array, _to_numpy, as_data

Task = Literal["classification", "segmentation", "detection"]
TASKS: tuple[str, ...] = ("classification", "segmentation", "detection")
#: the label of pixels that count in no metric, as in torchvision's and Cityscapes' masks
IGNORE_INDEX = 255


def _check_images(x: np.ndarray, what: str = "x") -> np.ndarray:
    if x.ndim != 4 or len(x) == 0:
        raise InvalidArgument(f"Expected {what} of shape (N, C, H, W) with N >= 1 images but got an array of shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise InvalidArgument(f"Expected {what} to hold real numbers but got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))[0])
        raise InvalidArgument(f"Expected finite values in {what} but image {bad} holds NaN or inf")
    return x


def ignore_index_hint(label: int) -> str:
    """How to declare ``label`` as the label of void pixels, for arrays and for a Dataset or DataLoader."""
    return (
        f"if pixels labelled {label} are void (unlabelled, borders), declare it as ignore_index: return "
        f"SegmentationData(x, y, ignore_index={label}) from mlguard_data, or for a Dataset or DataLoader "
        f"pytest_mlguard.contract.as_task_data(dataset_or_loader, 'segmentation', ignore_index={label})"
    )


class SegmentationData(EvalData):
    """Images and their masks, for a segmentation model.

    Args:
        x: images ``(N, C, H, W)`` in the model's raw input units.
        y: masks ``(N, H, W)`` of class indices ``0 .. K-1``, or ``ignore_index`` for pixels that count
            in no metric (void, borders).
        ignore_index: the label of ignored pixels (default 255).
        name: a name for reports.
    """

    task: str = "segmentation"

    def __init__(self, x: Any, y: Any, *, ignore_index: int = IGNORE_INDEX, name: str | None = None) -> None:
        x = _check_images(_to_numpy(x))
        y = _to_numpy(y)
        if y.ndim == 4 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 3 or y.shape != (x.shape[0], *x.shape[2:]):
            hint = ": one-hot masks? pass y.argmax(axis=1)" if y.ndim == 4 and y.shape[0] == len(x) else ""
            raise InvalidArgument(
                f"Expected masks y of shape {(x.shape[0], *x.shape[2:])}, one class index per pixel of each image, "
                f"but got shape {y.shape}{hint}"
            )
        whole = np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and np.all(y == np.round(y))
        if not (np.issubdtype(y.dtype, np.integer) or whole):
            raise InvalidArgument(f"Expected integer class indices in the masks y but got dtype {y.dtype}")
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise InvalidArgument.expected("an int", "ignore_index", ignore_index)
        y = y.astype(np.int64)
        counted = y[y != ignore_index]
        if counted.size and counted.min() < 0:
            labels = counted[counted >= 0]
            expected = f"0..{int(labels.max())}" if labels.size else "non-negative"
            raise InvalidArgument(
                f"Expected class indices {expected} (or ignore_index={ignore_index}) in the masks but got {int(counted.min())}: "
                + ignore_index_hint(int(counted.min()))
            )
        self.x = x
        self.y = y
        self.ignore_index = int(ignore_index)
        self.name = name or "data"

    @property
    def n_classes(self) -> int:
        counted = self.y[self.y != self.ignore_index]
        return max(2, int(counted.max()) + 1) if counted.size else 2

    def max_label(self) -> int:
        """The largest class index of the masks, ignored pixels left out (-1: every pixel is ignored)."""
        counted = self.y[self.y != self.ignore_index]
        return int(counted.max()) if counted.size else -1

    def take(self, index: np.ndarray) -> SegmentationData:
        return SegmentationData(self.x[index], self.y[index], ignore_index=self.ignore_index, name=self.name)

    def __repr__(self) -> str:
        return f"SegmentationData(name={self.name!r}, n={self.n}, sample_shape={self.sample_shape}, ignore_index={self.ignore_index})"


def check_target(target: Any, index: int, *, scores: bool = False) -> dict[str, np.ndarray]:
    """One image's boxes as numpy arrays: ``boxes`` ``(M, 4)`` finite ``x1 <= x2, y1 <= y2``, ``labels``
    ``(M,)`` non-negative ints and, with ``scores``, ``scores`` ``(M,)`` finite floats.

    Raises:
        InvalidArgument: naming the image ``index`` and what is wrong.
    """
    what = "a dict with 'boxes' (M, 4), 'labels' (M,)" + (" and 'scores' (M,)" if scores else "")
    if not isinstance(target, Mapping):
        raise InvalidArgument.expected(what, f"target of image {index}", target)
    keys = ("boxes", "labels", "scores") if scores else ("boxes", "labels")
    missing = [key for key in keys if key not in target]
    if missing:
        raise InvalidArgument(f"Expected {what} for image {index} but its dict lacks {missing} (keys: {sorted(target)})")
    boxes = np.asarray(_to_numpy(target["boxes"]))
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)  # an image without objects: torch.zeros((0, 4)) or an empty list
    labels = np.asarray(_to_numpy(target["labels"]))
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise InvalidArgument(f"Expected boxes of shape (M, 4) (x1, y1, x2, y2) for image {index} but got shape {boxes.shape}")
    if labels.shape != (len(boxes),):
        raise InvalidArgument(f"Expected labels of shape ({len(boxes)},), one per box, for image {index} but got shape {labels.shape}")
    if len(labels) and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0):
        raise InvalidArgument(f"Expected non-negative integer labels for image {index} but got dtype {labels.dtype} with minimum {labels.min()}")
    boxes = boxes.astype(np.float64)
    if not np.isfinite(boxes).all():
        raise InvalidArgument(f"Expected finite box coordinates for image {index} but some are NaN or inf")
    if len(boxes) and ((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).any():
        bad = int(np.flatnonzero((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))[0])
        raise InvalidArgument(
            f"Expected boxes as (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2 for image {index} but box {bad} is {boxes[bad].tolist()}: "
            "(x, y, width, height) boxes? convert them with torchvision.ops.box_convert(boxes, 'xywh', 'xyxy')"
        )
    checked = {"boxes": boxes, "labels": labels.astype(np.int64)}
    if scores:
        values = np.asarray(_to_numpy(target["scores"]), dtype=np.float64)
        if values.shape != (len(boxes),) or not np.isfinite(values).all():
            raise InvalidArgument(f"Expected finite scores of shape ({len(boxes)},), one per box, for image {index} but got shape {values.shape}")
        checked["scores"] = values
    return checked


class DetectionData:
    """Images and their boxes, for a detection model (torchvision's convention).

    Args:
        images: a sequence of images ``(C, H, W)`` (sizes may differ), or an array ``(N, C, H, W)``.
        targets: one dict per image, ``{"boxes": (M, 4) as (x1, y1, x2, y2) in pixels, "labels": (M,)}``.
        name: a name for reports.
    """

    task: str = "detection"

    def __init__(self, images: Any, targets: Sequence[Any], *, name: str | None = None) -> None:
        images = list(images)
        if not images:
            raise InvalidArgument("Expected at least one image in the detection data but got none")
        checked = []
        for index, image in enumerate(images):
            array = _image_array(image, f"image {index}")
            if array.ndim != 3:
                raise InvalidArgument(f"Expected image {index} of shape (C, H, W) but got an array of shape {array.shape}")
            checked.append(_check_images(array[None], f"image {index}")[0])
        targets = list(targets)
        if len(targets) != len(checked):
            raise InvalidArgument(f"Expected one target per image ({len(checked)}) but got {len(targets)} targets")
        self.images: list[np.ndarray] = checked
        self.targets = [check_target(target, index) for index, target in enumerate(targets)]
        self.name = name or "data"

    @property
    def n(self) -> int:
        return len(self.images)

    @property
    def n_classes(self) -> int:
        labels = [int(t["labels"].max()) for t in self.targets if len(t["labels"])]
        return max(2, max(labels) + 1) if labels else 2

    def subset_index(self, n: int | None, seed: int) -> np.ndarray:
        return EvalData.subset_index(self, n, seed)  # type: ignore[arg-type]  # reads only self.n

    def take(self, index: np.ndarray) -> DetectionData:
        return DetectionData([self.images[i] for i in index], [self.targets[i] for i in index], name=self.name)

    def bounds(self) -> tuple[float, float]:
        return min(float(i.min()) for i in self.images), max(float(i.max()) for i in self.images)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"DetectionData(name={self.name!r}, n={self.n})"


def _pairs(obj: Any) -> list[tuple[Any, Any]] | None:
    """The ``(image, target)`` pairs of a Dataset or DataLoader (batches of pairs, or of stacked images and
    masks), or ``None`` for anything else."""
    if type(obj).__name__ == "DataLoader" or (hasattr(obj, "__iter__") and hasattr(obj, "batch_size")):
        from ._data import _read_loader_batches

        return [pair for batch in _read_loader_batches(obj) for pair in _unbatch(batch)]
    if hasattr(obj, "__getitem__") and hasattr(obj, "__len__") and not isinstance(obj, (str, bytes, np.ndarray, tuple, list)):
        items = [obj[i] for i in range(len(obj))]
        if items and all(isinstance(item, (tuple, list)) and len(item) >= 2 for item in items):
            return [(item[0], item[1]) for item in items]
    return None


def _unbatch(batch: Any) -> list[tuple[Any, Any]]:
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise InvalidArgument.expected("batches of (images, targets)", "a DataLoader batch", batch)
    images, targets = batch[0], batch[1]
    if isinstance(images, (tuple, list)):  # detection's collate_fn: tuples of images and of targets
        return list(zip(images, targets))
    return list(zip(_to_numpy(images), _to_numpy(targets)))


def as_task_data(obj: Any, task: str = "classification", *, ignore_index: int = IGNORE_INDEX) -> Any:
    """What ``mlguard_data`` returned as the evaluation data of ``task``: :class:`EvalData`,
    :class:`SegmentationData` or :class:`DetectionData`; a Dataset or DataLoader of ``(image, target)``
    pairs, a pair ``(x, y)`` of arrays (segmentation) or of a list of images and a list of targets (detection)."""
    if task == "classification":
        return as_data(obj)
    kind = SegmentationData if task == "segmentation" else DetectionData
    if isinstance(obj, kind):
        return obj
    if isinstance(obj, (EvalData, SegmentationData, DetectionData)):
        raise InvalidArgument(f"Expected the evaluation data of a {task} model ({kind.__name__}) but mlguard_data returned {obj!r}")
    if isinstance(obj, tuple) and len(obj) == 2:
        if kind is SegmentationData:
            return SegmentationData(obj[0], obj[1], ignore_index=ignore_index)
        return DetectionData(obj[0], obj[1])
    pairs = _pairs(obj)
    if pairs is None:
        raise InvalidArgument.expected(
            f"a {kind.__name__}, a pair (images, targets), or a torch Dataset or DataLoader of (image, target) pairs", "mlguard_data", obj
        )
    if not pairs:
        raise InvalidArgument("Expected at least one (image, target) pair in mlguard_data but it holds none")
    if kind is SegmentationData:
        return SegmentationData(np.stack([_image_array(p[0], f"image {i}") for i, p in enumerate(pairs)]), np.stack([_to_numpy(p[1]) for p in pairs]), ignore_index=ignore_index)
    return DetectionData([p[0] for p in pairs], [p[1] for p in pairs])
