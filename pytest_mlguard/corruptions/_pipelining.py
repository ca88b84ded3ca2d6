"""Corrupting the evaluation data in chunks while the model predicts: the corruption family's
pipeline, below :func:`~pytest_mlguard.corruptions._run.run_check`.

The evaluation data is corrupted in chunks, by background threads while the model predicts the
previous chunk where inference leaves the CPU free (a GPU, a remote model), so that corrupting and
inference overlap. Image ``i`` of the data is corrupted with its own generator, seeded from the
check's seed and ``i``: the result does not depend on the chunking or on the number of workers.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from . import _functional as F
from ._registry import get

if TYPE_CHECKING:
    from ..contract._model import Model

T = TypeVar("T")
R = TypeVar("R")

MAX_SAVED = 16  # corrupted inputs saved when a check fails


def corrupt_batch(
    images: np.ndarray, name: str, severity: int, rng: np.random.Generator, *, scale: float | None = None
) -> np.ndarray:
    """Corrupt a batch of HWC images in [0, 1], one parameter draw per image from ``rng``.

    Example:
        >>> out = corrupt_batch(np.zeros((2, 8, 8, 1), np.float32), "gaussian_noise", 3, np.random.default_rng(0))
        >>> out.shape, out.dtype
        ((2, 8, 8, 1), dtype('float32'))
    """
    corruption = get(name)
    return np.stack([corruption(image, severity, rng, scale) for image in images])


def corrupt_images(
    images: np.ndarray, name: str, severity: int, seed: int, *, start: int = 0, scale: float | None = None, ids: np.ndarray | None = None
) -> np.ndarray:
    """Corrupt HWC images in [0, 1]; image ``i`` with the generator seeded ``[seed, start + i]``, or
    ``[seed, ids[i]]`` where ``ids`` are given (a shard's samples: their places in the unsharded data).

    So a chunk ``images[a:b]`` corrupted with ``start=a`` equals rows ``a:b`` of the whole batch.

    Example:
        >>> x = np.random.default_rng(0).random((4, 8, 8, 1), np.float32)
        >>> whole = corrupt_images(x, "shot_noise", 2, seed=7)
        >>> bool((corrupt_images(x[2:], "shot_noise", 2, seed=7, start=2) == whole[2:]).all())
        True
    """
    corruption = get(name)
    out = np.empty_like(images, dtype=np.float32)
    for i, image in enumerate(images):
        out[i] = corruption(image, severity, np.random.default_rng([seed, int(ids[i]) if ids is not None else start + i]), scale)
    return out


def pipelined(tasks: Iterable[T], produce: Callable[[T], R], workers: int) -> Generator[R, None, None]:
    """``produce(task)`` for each task, in order, computed by ``workers`` threads ahead of the consumer.

    At most ``workers + 1`` results are in flight, so memory stays bounded; ``workers=0`` produces
    each result when the consumer asks for it.
    """
    if workers <= 0:
        yield from map(produce, tasks)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlguard-corrupt") as pool:
        remaining = iter(tasks)
        pending: deque[Future[R]] = deque()
        try:
            for task in remaining:
                pending.append(pool.submit(produce, task))
                if len(pending) > workers:
                    break
            while pending:
                result = pending.popleft().result()
                for task in remaining:
                    pending.append(pool.submit(produce, task))
                    break
                yield result
        finally:
            for future in pending:
                future.cancel()


class CorruptedPredictions:
    """The model's probabilities on the corrupted data, and how much the corruption changed it."""

    def __init__(
        self, proba: np.ndarray, mean_abs_change: float, corrupted: dict[int, np.ndarray], inference: tuple[float, float] = (0.0, 0.0)
    ) -> None:
        self.proba = proba
        self.mean_abs_change = mean_abs_change
        self.corrupted = corrupted  # kept inputs (raw units), by sample index
        self.inference_wall, self.inference_cpu = inference  # seconds in model.predict_proba: wall, process CPU


#: the fewest input values worth a separate inference call: below it, per-call overhead dominates
MIN_CHUNK_VALUES = 2**20

Chunk = tuple[int, np.ndarray, float]  # start, corrupted samples in raw units, sum of |change| in [0, 1] units


def chunk_size(model: Model, n: int) -> int:
    """Images per chunk: the model's batch size, or smaller (down to about ``MIN_CHUNK_VALUES`` input
    values, at most 8 chunks) so that corrupting one chunk overlaps inference on the previous one.

    Example:
        >>> from pytest_mlguard.contract import CallableModel
        >>> digits = CallableModel(lambda x: x, input_shape=(1, 8, 8), n_classes=10, batch_size=256)
        >>> chunk_size(digits, 360)  # tiny inputs: as few calls as the batch size allows
        180
        >>> photos = CallableModel(lambda x: x, input_shape=(3, 224, 224), n_classes=10, batch_size=256)
        >>> chunk_size(photos, 64)  # 64 x 150528 values: 8 chunks
        8
    """
    values = n * math.prod(model.input_shape)
    chunks = max(math.ceil(n / model.batch_size), min(8, values // MIN_CHUNK_VALUES), 1)
    return max(1, math.ceil(n / chunks))


def check_chunk(model: Model, n: int, early_stop: bool) -> int:
    """Images per chunk of a check: :func:`chunk_size`, or smaller with early stopping, so that the
    verdict is looked at about ``LOOKS`` times (:func:`~pytest_mlguard._verdicts.sequential.look_size`)."""
    from .._verdicts.sequential import look_size

    chunk = chunk_size(model, n)
    return min(chunk, look_size(n)) if early_stop else chunk


def corrupt_chunk(
    model: Model, x: np.ndarray, name: str, severity: int, seed: int, start: int, scale: float | None, ids: np.ndarray | None = None
) -> Chunk:
    """Samples ``x`` (raw units), the chunk of the data from index ``start``, corrupted (``ids``: see :func:`corrupt_images`)."""
    clean = F.to_unit_hwc(x, model.value_range)
    corrupted = corrupt_images(clean, name, severity, seed, start=start, scale=scale, ids=ids)
    change = float(np.abs(corrupted - clean).sum(dtype=np.float64))
    return start, F.from_unit_hwc(corrupted, model.value_range, model.input_shape), change


def corrupted_predictions(
    model: Model,
    x: np.ndarray,
    name: str,
    severity: int,
    seed: int,
    *,
    scale: float | None = None,
    workers: int = 1,
    chunk: int | None = None,
    first: Future[Chunk] | None = None,
    keep: Callable[[int, int], bool] | None = None,
    stop: Callable[[int, np.ndarray], bool] | None = None, ids: np.ndarray | None = None,
) -> CorruptedPredictions:
    """Corrupt ``x`` (raw units, the model's input shape) in chunks while the model predicts.

    Args:
        model: the model adapter (inside ``model.running(...)`` where it has state).
        x: the clean samples.
        name, severity, seed, ids: the corruption, its severity, the seed of image generators and the id seeding each sample's (default: its index in ``x``; see :func:`corrupt_images`).
        scale: multiplies spatial parameters; ``None``: the image's shorter side / 224.
        workers: background threads corrupting ahead of inference (0: none).
        chunk: images per chunk (default :func:`chunk_size`).
        first: the first chunk, already being corrupted (by :class:`Prefetcher`).
        keep: ``keep(index, predicted_class)``: keep that sample's corrupted input? (at most ``MAX_SAVED``)
        stop: ``stop(done, proba_so_far)`` after each chunk: stop there? (early stopping; the result
            then holds the probabilities of the first ``done`` samples only)
    """
    n = len(x)
    chunk = chunk or chunk_size(model, n)
    prefetched = first.result() if first is not None else None
    if prefetched is not None and len(prefetched[1]) > n:  # prefetched for more samples than a budget left
        prefetched = None
    starts = range(len(prefetched[1]) if prefetched is not None else 0, n, chunk)

    def produce(start: int) -> Chunk:
        return corrupt_chunk(model, x[start : start + chunk], name, severity, seed, start, scale, None if ids is None else ids[start : start + chunk])

    produced = pipelined(starts, produce, workers)
    chunks: Iterator[Chunk] = itertools.chain([prefetched], produced) if prefetched is not None else produced
    try:
        return _predict_chunks(model, chunks, n, x[:1].size, keep, stop)
    finally:
        produced.close()  # its threads end now, also when inference raised (a kept traceback holds this frame)


def _predict_chunks(
    model: Model, chunks: Iterator[Chunk], n: int, sample_size: int,
    keep: Callable[[int, int], bool] | None, stop: Callable[[int, np.ndarray], bool] | None,
) -> CorruptedPredictions:
    """The model's predictions on the corrupted ``chunks``, for :func:`corrupted_predictions`."""
    proba = np.empty((n, model.n_classes, *(model.input_shape[1:] if model.task == "segmentation" else ())), np.float32)  # segmentation: (N, C, H, W)
    kept: dict[int, np.ndarray] = {}
    total_change = wall = cpu = 0.0
    done = 0
    for start, corrupted, change in chunks:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        proba[start : start + len(corrupted)] = model.predict_proba(corrupted)
        wall, cpu = wall + time.perf_counter() - wall0, cpu + time.process_time() - cpu0
        total_change += change
        done = start + len(corrupted)
        if keep is not None:
            predicted = proba[start:done].argmax(axis=1)
            for offset in range(len(corrupted)):
                if len(kept) < MAX_SAVED and keep(start + offset, int(predicted[offset])):
                    kept[start + offset] = corrupted[offset].copy()
        if stop is not None and done < n and stop(done, proba[:done]):
            break
    size = max(1, sample_size) * max(1, done)
    return CorruptedPredictions(proba[:done], total_change / size, kept, (wall, cpu))
