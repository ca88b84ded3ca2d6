"""The ``corruption`` check's measurement: accuracy (and ECE) on the corrupted evaluation data.

The evaluation data is corrupted in chunks, by ``corruption.workers`` background threads while the
model predicts the previous chunk where inference leaves the CPU free (a GPU, a remote model), so
that corrupting and inference overlap; benchmarks/bench_corruptions.py measures threads against
worker processes and against no overlap at all. Image ``i`` of the data is corrupted
with its own generator, seeded from the run's seed, the check and ``i``: the result does not depend
on the chunking, on the number of workers or on which other checks ran.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..checks.base import CheckSpec, Measurement
from ..errors import CheckError, NotApplicable
from . import functional as F
from .references import Scale
from .registry import get

if TYPE_CHECKING:
    from ..checks.evaluation import Evaluation
    from ..contract.model import Model

__all__ = [
    "AutoWorkers",
    "CorruptedPredictions",
    "Prefetcher",
    "check_applies",
    "check_seed",
    "check_chunk",
    "chunk_size",
    "corrupt_batch",
    "corrupt_chunk",
    "corrupt_images",
    "corrupted_predictions",
    "image_scale",
    "pipelined",
    "run_check",
    "workers_for",
]

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
    images: np.ndarray, name: str, severity: int, seed: int, *, start: int = 0, scale: float | None = None
) -> np.ndarray:
    """Corrupt HWC images in [0, 1]; image ``i`` with the generator seeded ``[seed, start + i]``.

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
        out[i] = corruption(image, severity, np.random.default_rng([seed, start + i]), scale)
    return out


def pipelined(tasks: Iterable[T], produce: Callable[[T], R], workers: int) -> Iterator[R]:
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
    verdict is looked at about ``LOOKS`` times (:func:`~pytest_mlguard.verdicts.sequential.look_size`)."""
    from ..verdicts.sequential import look_size

    chunk = chunk_size(model, n)
    return min(chunk, look_size(n)) if early_stop else chunk


def corrupt_chunk(model: Model, x: np.ndarray, name: str, severity: int, seed: int, start: int, scale: float | None) -> Chunk:
    """Samples ``x`` (raw units), the chunk of the data from index ``start``, corrupted."""
    clean = F.to_unit_hwc(x, model.value_range)
    corrupted = corrupt_images(clean, name, severity, seed, start=start, scale=scale)
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
    stop: Callable[[int, np.ndarray], bool] | None = None,
) -> CorruptedPredictions:
    """Corrupt ``x`` (raw units, the model's input shape) in chunks while the model predicts.

    Args:
        model: the model adapter (inside ``model.running(...)`` where it has state).
        x: the clean samples.
        name, severity, seed: the corruption, its severity and the seed of image generators.
        scale: multiplies spatial parameters; ``None``: the image's shorter side / 224.
        workers: background threads corrupting ahead of inference (0: none).
        chunk: images per chunk (default :func:`chunk_size`).
        first: the first chunk, already being corrupted (by :class:`Prefetcher`).
        keep: ``keep(index, predicted_class)``: whether to keep that sample's corrupted input (for
            artefacts); at most ``MAX_SAVED`` are kept.
        stop: ``stop(done, proba_so_far)`` after each chunk: whether to stop there (early stopping);
            the result then holds the probabilities of the first ``done`` samples only.
    """
    n = len(x)
    chunk = chunk or chunk_size(model, n)
    prefetched = first.result() if first is not None else None
    if prefetched is not None and len(prefetched[1]) > n:  # prefetched for more samples than a budget left
        prefetched = None
    starts = range(len(prefetched[1]) if prefetched is not None else 0, n, chunk)

    def produce(start: int) -> Chunk:
        return corrupt_chunk(model, x[start : start + chunk], name, severity, seed, start, scale)

    chunks: Iterator[Chunk] = pipelined(starts, produce, workers)
    if prefetched is not None:
        chunks = itertools.chain([prefetched], chunks)
    proba = np.empty((n, model.n_classes), np.float32)
    total_change = 0.0
    kept: dict[int, np.ndarray] = {}
    wall = cpu = 0.0
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
    size = max(1, x[:1].size) * max(1, done)
    return CorruptedPredictions(proba[:done], total_change / size, kept, (wall, cpu))


class Prefetcher:
    """Corrupts the first chunk of the next planned check in a background thread while the current
    check's model predicts, so that consecutive checks overlap as well as the chunks of one check.

    It prefetches only while the checks run in plan order (a plain ``pytest --mlguard`` run): after
    a check that was not the previous one's successor (``-k``, an xdist worker's share), it waits for
    the next in-order check before prefetching again, so little work is ever thrown away.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlguard-prefetch")
        self._pending: dict[str, Future[Chunk]] = {}
        self._last: str | None = None

    def take(self, check_id: str) -> Future[Chunk] | None:
        return self._pending.pop(check_id, None)

    def drain(self) -> None:
        """Wait for the prefetches in flight (a benchmark stops its clock after them)."""
        for future in list(self._pending.values()):
            future.exception()

    def after(self, spec: CheckSpec, evaluation: Evaluation) -> None:
        """``spec`` is about to run: prefetch its successor's first chunk if the run is in order."""
        plan = [s for s in _planned(evaluation) if s.family == spec.family]
        ids = [s.id for s in plan]
        index = ids.index(spec.id) if spec.id in ids else None
        in_order = index is not None and (index == 0 or self._last == ids[index - 1])
        self._last = spec.id
        for stale in [key for key in self._pending if key != spec.id]:  # a prefetch the run skipped
            self._pending.pop(stale).cancel()
        if not in_order or index is None or index + 1 >= len(plan):
            return
        following = plan[index + 1]
        model, data = evaluation.model, evaluation.data
        try:
            check_applies(model, following.param("corruption"))
        except (CheckError, NotApplicable):
            return
        chunk = check_chunk(model, data.n, _stops_early(following, evaluation))
        self._pending[following.id] = self._pool.submit(
            corrupt_chunk,
            model,
            data.x[:chunk],
            following.param("corruption"),
            following.param("severity"),
            check_seed(following, evaluation),
            0,
            image_scale(evaluation),
        )


#: inference that keeps less than this share of one core busy is waiting on something else
BUSY_FOR_THREADS = 0.5


class AutoWorkers:
    """``corruption.workers = "auto"``: the first check of an evaluation runs without threads; later
    checks corrupt in one thread ahead of inference if the model runs on an accelerator or if its
    inference kept less than half of one core busy (a black box behind an API), and without
    threads otherwise: on CPU, inference keeps the cores busy and a corrupting thread competes with it
    (benchmarks/bench_corruptions.py measures both)."""

    def __init__(self) -> None:
        self.workers: int | None = None
        self.busy: float | None = None  # cores inference kept busy, on average, in the first check

    def record(self, result: CorruptedPredictions, model: Model) -> None:
        if self.workers is not None or result.inference_wall <= 0:
            return
        self.busy = result.inference_cpu / result.inference_wall
        accelerator = str(getattr(model, "active_device", "cpu")).split(":")[0] not in ("cpu", "")
        self.workers = 1 if accelerator or self.busy < BUSY_FOR_THREADS else 0


def workers_for(evaluation: Evaluation) -> tuple[int, AutoWorkers | None]:
    """The threads of the next check: ``corruption.workers``, or the :class:`AutoWorkers` choice."""
    setting = evaluation.settings.get("corruption.workers")
    if setting is not None:
        return int(setting), None
    auto = evaluation.memo(("corruption-auto-workers",), AutoWorkers)
    return (auto.workers or 0), auto


def _planned(evaluation: Evaluation) -> list[CheckSpec]:
    from . import FAMILY

    return evaluation.memo(("corruption-plan",), lambda: FAMILY.plan(evaluation.settings))


def check_seed(spec: CheckSpec, evaluation: Evaluation) -> int:
    """The seed of the image generators of a check, from the run's seed, the model and the check."""
    return int(evaluation.rng(spec).integers(0, 2**63 - 1))


def _channels(input_shape: tuple[int, ...]) -> int:
    return input_shape[0] if F.image_layout(input_shape) == "CHW" else 1


def check_applies(model: Model, name: str) -> None:
    """Raise ``CheckError`` if the model does not take images, ``NotApplicable`` if ``name`` cannot
    change its images (saturation of a gray image)."""
    if F.image_layout(model.input_shape) is None:
        raise CheckError(
            f"corruptions apply to images, shape (C, H, W) or (H, W); model {model.name!r} takes {model.input_shape}: "
            "disable them with [tool.mlguard.corruption] enabled = false"
        )
    if get(name).colour_only and _channels(model.input_shape) == 1:
        raise NotApplicable(f"{name} changes colour only and model {model.name!r} takes gray images")


def image_scale(evaluation: Evaluation) -> float:
    """The spatial scale of the check, carrying its published parameter set (``corruption.reference``):
    ``corruption.scale``, or the shorter image side / the set's side."""
    shape = evaluation.model.input_shape
    scale = F.default_scale(shape[-2], shape[-1], evaluation.settings.get("corruption.reference"))
    setting = evaluation.settings.get("corruption.scale")
    return scale if setting is None else Scale(float(setting), scale.reference)


def _stops_early(spec: CheckSpec, evaluation: Evaluation) -> bool:
    """Whether a planned check may stop early (and so looks at its verdict after smaller chunks), for
    the prefetcher, which prepares a check's first chunk before the check runs."""
    if spec.kind != "floor" or evaluation.settings.get("verdict.early_stop") == "off":
        return False
    return evaluation.early_stop(spec, evaluation.data.n, clean=evaluation.clean_accuracy()).mode != "off"


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    from ..calibration.metrics import expected_calibration_error
    from ..verdicts.intervals import paired_counts

    model, data = evaluation.model, evaluation.data
    name, severity = spec.param("corruption"), spec.param("severity")
    workers, auto = workers_for(evaluation)
    first = None
    if workers > 0:  # before check_applies: a skipped check keeps the run in order
        prefetcher = evaluation.memo(("corruption-prefetcher",), Prefetcher)
        first = prefetcher.take(spec.id)
        prefetcher.after(spec, evaluation)
    check_applies(model, name)
    corruption = get(name)
    clean_correct = evaluation.clean_correct()
    clean = evaluation.clean_accuracy()
    scale = image_scale(evaluation)
    planned = evaluation.sample_limit(data.n)  # fewer than all under --mlguard-budget
    stopper = evaluation.early_stop(spec, planned, clean=clean)
    stops = spec.kind == "floor" and stopper.mode != "off"
    labels = data.y

    def stop(done: int, proba: np.ndarray) -> bool:
        return stopper.update(int((proba.argmax(axis=1) == labels[:done]).sum()), done)

    result = corrupted_predictions(
        model,
        data.x[:planned],
        name,
        severity,
        check_seed(spec, evaluation),
        scale=scale,
        workers=workers,
        first=first,
        chunk=check_chunk(model, planned, stops),
        keep=lambda i, predicted: bool(clean_correct[i]) and predicted != data.y[i],
        stop=stop if stops else None,
    )
    if auto is not None:
        auto.record(result, model)
    done = len(result.proba)
    labels, clean_correct = data.y[:done], clean_correct[:done]
    predicted = result.proba.argmax(axis=1)
    correct = predicted == labels
    successes = int(correct.sum())
    stopper.update(successes, done)
    accuracy, interval, method = stopper.value_and_interval()
    bins = _bins(evaluation)
    clean_ece = evaluation.memo(("clean_ece", bins), lambda: expected_calibration_error(evaluation.clean_proba, data.y, bins))
    details: dict[str, Any] = {
        "corruption": name,
        "group": corruption.group,
        "severity": severity,
        "held_out": corruption.held_out,
        "clean_accuracy": clean,
        "relative_robustness": accuracy / clean if clean > 0 else None,
        "error": 1.0 - accuracy,
        "ece": expected_calibration_error(result.proba, labels, bins),
        "clean_ece": clean_ece,
        "flipped": int((clean_correct & ~correct).sum()),
        "mean_abs_change": result.mean_abs_change,
        "scale": float(scale),
        "reference": getattr(scale, "reference", "imagenet-c"),
        "workers": workers,
        "early_stop": stopper.details(done),
    }
    if planned < data.n:
        details["budget"] = {"planned_n": data.n, "n": planned}
    message = (
        f"under {name} at severity {severity}: accuracy {accuracy:.4f}, clean {clean:.4f} "
        f"(relative {accuracy / clean if clean else float('nan'):.3f}); "
        f"{details['flipped']} of {int(clean_correct.sum())} correct predictions flipped; ECE {details['ece']:.4f}"
    )
    if stopper.stopped:
        message += f"\nstopped early after {done} of {planned} samples: the verdict was decided ({stopper.mode})"
    if accuracy < spec.threshold.resolve(clean=clean):
        saved, examples = _save_flipped(evaluation, spec, result, clean_correct & ~correct, predicted)
        message += saved
        if examples:
            details["examples"] = examples
    return Measurement(
        value=accuracy,
        n=done,
        clean=clean,
        details=details,
        message=message,
        successes=None if stopper.stopped and stopper.mode == "exact" else successes,
        paired=paired_counts(clean_correct, correct),
        interval=interval,
        interval_method=method,
        evaluations=done,
        evaluations_saved=planned - done,
    )


def _bins(evaluation: Evaluation) -> int:
    """The calibration family's number of ECE bins (15 where it declares none)."""
    try:
        return int(evaluation.settings.get("calibration.bins"))
    except KeyError:
        return 15


def _save_flipped(
    evaluation: Evaluation, spec: CheckSpec, result: CorruptedPredictions, flipped: np.ndarray, predicted: np.ndarray
) -> tuple[str, list[dict[str, str]]]:
    """Save the clean and corrupted inputs whose prediction the corruption flipped (``.npy`` batches
    in raw units, which the HTML report shows as thumbnails)."""
    index = [int(i) for i in np.flatnonzero(flipped) if int(i) in result.corrupted]
    if not index:
        return "", []
    directory = evaluation.artifact_dir(spec)
    data, names = evaluation.data, evaluation.model.class_names
    labels = ", ".join(f"{names[data.y[i]]}->{names[predicted[i]]}" for i in index)
    np.save(directory / "clean.npy", data.x[index])
    np.save(directory / "corrupted.npy", np.stack([result.corrupted[i] for i in index]))
    examples = [
        {"file": str(directory / "clean.npy"), "caption": f"clean inputs {index} (label->prediction under corruption: {labels})"},
        {"file": str(directory / "corrupted.npy"), "caption": f"the same inputs under {spec.name}"},
    ]
    return f"\n{len(index)} clean-correct inputs that the corruption flipped saved in {directory}", examples
