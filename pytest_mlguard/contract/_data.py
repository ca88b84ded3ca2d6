"""The evaluation data contract: what a project's ``mlguard_data`` fixture returns.

:class:`EvalData` holds labelled samples as numpy arrays in the model's raw input units. The fixture
may return an ``EvalData``, a pair ``(x, y)`` of arrays or tensors, a torch ``Dataset`` of
``(x, y)`` pairs, or a ``DataLoader``: :func:`as_data` turns each into an ``EvalData``.

Example:
    >>> data = EvalData(np.zeros((4, 1, 8, 8)), [0, 1, 0, 1])
    >>> data.subset(2, seed=0).n
    2
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ContractWarning, InvalidArgument


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


#: how to turn PIL images into what the contract reads, as torchvision's ``ToTensor`` does
TO_TENSOR = (
    "convert them as ToTensor does, to float tensors (C, H, W) in 0..1: give the Dataset the transform "
    "torchvision.transforms.v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]), "
    "or apply torchvision.transforms.functional.to_tensor(image)"
)


def _image_array(value: Any, what: str) -> np.ndarray:
    """``value``, an image (or a batch) as an array; a PIL image is an error naming the conversion:
    ``np.asarray`` would read it as ``(H, W, C)`` in 0..255, not the ``(C, H, W)`` the contract takes."""
    pil = sys.modules.get("PIL.Image")  # not imported: then no value is a PIL image
    if pil is not None and isinstance(value, pil.Image):
        raise InvalidArgument(
            f"Expected {what} as an array or tensor (C, H, W) but got a PIL image (mode {value.mode}, size {value.size}): {TO_TENSOR}"
        )
    return _to_numpy(value)


class EvalData:
    """Labelled evaluation samples.

    Args:
        x: samples, shape ``(N, *sample_shape)``, in the model's raw input units.
        y: integer labels ``0 .. K-1``, shape ``(N,)``.
        name: a name for reports (``None``: ``"data"``).
    """

    def __init__(self, x: Any, y: Any, *, name: str | None = None) -> None:
        x = _to_numpy(x)
        y = _to_numpy(y)
        if x.ndim < 2 or len(x) == 0:
            raise InvalidArgument(
                f"Expected x of shape (N, ...) with N >= 1 samples but got an array of shape {x.shape}"
            )
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise InvalidArgument(f"Expected x to hold real numbers but got dtype {x.dtype}")
        if y.ndim != 1 or len(y) != len(x):
            hint = ": one-hot labels? pass y.argmax(axis=1)" if y.ndim == 2 and y.shape[0] == len(x) and y.shape[1] > 1 else ""
            raise InvalidArgument(f"Expected y of shape ({len(x)},), one label per sample, but got shape {y.shape}{hint}")
        y = _integer_labels(y)
        if y.min() < 0:
            raise InvalidArgument(f"Expected class labels 0..K-1 in y but got a label {int(y.min())}")
        x = x.astype(np.float32, copy=False)
        if not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))[0])
            raise InvalidArgument(f"Expected finite values in x but sample {bad} holds NaN or inf")
        self.x = x
        self.y = y.astype(np.int64)
        self.name = name or "data"

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x.shape[1:])

    @property
    def n_classes(self) -> int:
        return max(2, int(self.y.max()) + 1)

    def value_range(self) -> tuple[float, float]:
        """The observed (min, max); ``(0, 1)``, ``(0, 255)`` or ``(-1, 1)`` when the data fits one."""
        low, high = float(self.x.min()), float(self.x.max())
        for candidate in ((0.0, 1.0), (0.0, 255.0), (-1.0, 1.0)):
            if candidate[0] <= low and high <= candidate[1]:
                return candidate
        return (low, high if high > low else low + 1.0)

    def subset_index(self, n: int | None, seed: int) -> np.ndarray:
        """The indices of :meth:`subset`'s samples, in data order."""
        if n is None or n >= self.n:
            return np.arange(self.n)
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(self.n, size=n, replace=False))

    def take(self, index: np.ndarray) -> EvalData:
        """The samples at ``index``, as data of the same kind (a task's data keep their own fields)."""
        return EvalData(self.x[index], self.y[index], name=self.name)

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value of the samples."""
        return float(np.nanmin(self.x)), float(np.nanmax(self.x))

    def subset(self, n: int | None, seed: int) -> EvalData:
        """A seeded subset of ``n`` samples (all of them if ``n`` is ``None`` or too large), in data order."""
        if n is None or n >= self.n:
            return self
        return self.take(self.subset_index(n, seed))

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"EvalData(name={self.name!r}, n={self.n}, sample_shape={self.sample_shape})"


def _integer_labels(y: np.ndarray) -> np.ndarray:
    """Integer labels; float labels that are all whole numbers are used as int64, with a
    :class:`~pytest_mlguard.errors.ContractWarning` (``y.astype("float32")`` is a slip, not a choice)."""
    if np.issubdtype(y.dtype, np.integer):
        return y
    if np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and np.all(y == np.round(y)):
        warnings.warn(
            f"Expected integer class labels in y but got dtype {y.dtype}: the labels are whole numbers, so they "
            "are used as int64; pass integer labels (y.astype(int)) to silence this warning",
            ContractWarning,
            stacklevel=3,
        )
        return y.astype(np.int64)
    shown = f"dtype {y.dtype}"
    if np.issubdtype(y.dtype, np.floating):
        odd = y[~np.isfinite(y) | (y != np.round(y))]
        shown += f" with values that are not whole numbers, such as {float(odd[0]):g}"
    raise InvalidArgument(f"Expected integer class labels in y but got {shown}")


def _read_loader(loader: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The ``(x, y)`` of the batches of a ``DataLoader`` (:func:`_read_loader_batches`), labels flattened."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for batch in _read_loader_batches(loader):
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise InvalidArgument.expected("batches of (x, y)", "a DataLoader batch", batch)
        xs.append(_image_array(batch[0], "the images of a DataLoader batch"))
        ys.append(_to_numpy(batch[1]).reshape(-1))
    return xs, ys


def _read_loader_batches(loader: Any) -> list[Any]:
    """The batches of a ``DataLoader``, in a defined order: its dataset's, not the order the loader
    shuffles into (the seeded subset would follow a different order on every run).

    A map-style dataset is read at the indices its sampler draws, sorted (all of them: ``drop_last``
    is for training); a sampler that draws an index twice (with replacement) or a dataset without
    indices is read as the loader yields it, and the former with a warning.
    """
    dataset: Any = getattr(loader, "dataset", None)
    batch_sampler: Any = getattr(loader, "batch_sampler", None)
    sampler: Any = getattr(loader, "sampler", None)
    indexed = dataset is not None and hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")
    if indexed and type(loader).__name__ == "DataLoader" and (sampler is not None or batch_sampler is not None):
        import torch.utils.data as tud

        if type(sampler).__name__ == "SequentialSampler" and type(batch_sampler).__name__ == "BatchSampler":
            indices = None  # in order already
        elif type(batch_sampler).__name__ == "BatchSampler":
            indices = [int(i) for i in sampler]
        else:
            indices = [int(i) for batch in batch_sampler for i in batch]
        if indices is not None and len(set(indices)) != len(indices):
            warnings.warn(
                f"the DataLoader of mlguard_data draws samples with replacement ({type(sampler).__name__}): the "
                "evaluation data change from run to run; give a loader without a sampler (or an EvalData)",
                ContractWarning,
                stacklevel=4,
            )
        elif indices is not None:
            loader = tud.DataLoader(
                tud.Subset(dataset, sorted(indices)),
                batch_size=loader.batch_size or 1,
                shuffle=False,
                num_workers=loader.num_workers,
                collate_fn=loader.collate_fn,
                worker_init_fn=loader.worker_init_fn,
            )
    try:
        return list(loader)
    except TypeError as exc:  # default_collate cannot stack PIL images
        if "PIL" not in str(exc):
            raise
        raise InvalidArgument(f"Expected the DataLoader of mlguard_data to yield tensors but its Dataset gives PIL images ({exc}): {TO_TENSOR}") from None


def as_data(obj: Any) -> EvalData:
    """Turn what ``mlguard_data`` returned into :class:`EvalData`."""
    if isinstance(obj, EvalData):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2:
        return EvalData(*obj)
    expected = "an EvalData or TableData, a pair (x, y) or (DataFrame, y), a torch Dataset of (x, y) pairs, or a DataLoader"
    if type(obj).__name__ == "DataLoader" or (hasattr(obj, "__iter__") and hasattr(obj, "batch_size")):
        xs, ys = _read_loader(obj)
        if not xs:
            raise InvalidArgument("Expected a DataLoader with at least one batch but it yielded none")
        return EvalData(np.concatenate(xs), np.concatenate(ys))
    if hasattr(obj, "__getitem__") and hasattr(obj, "__len__") and not isinstance(obj, (str, bytes, np.ndarray)):
        items: Sequence[Any] = [obj[i] for i in range(len(obj))]
        if not items or not all(isinstance(item, (tuple, list)) and len(item) >= 2 for item in items):
            raise InvalidArgument.expected(expected, "mlguard_data", obj)
        return EvalData(np.stack([_image_array(item[0], f"sample {i}") for i, item in enumerate(items)]), np.array([_to_numpy(item[1]) for item in items]))
    raise InvalidArgument.expected(expected, "mlguard_data", obj)
