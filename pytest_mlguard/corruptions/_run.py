"""The ``corruption`` check's measurement: accuracy (and ECE) on the corrupted evaluation data.

The evaluation data is corrupted in chunks, by ``corruption.workers`` background threads while the
model predicts the previous chunk where inference leaves the CPU free (a GPU, a remote model), so
that corrupting and inference overlap; benchmarks/bench_corruptions.py measures threads against
worker processes and against no overlap at all. Image ``i`` of the data is corrupted
with its own generator, seeded from the run's seed, the check and ``i`` (its place in the unsharded
data, also on a shard of ``--mlguard-shard``): the result does not depend on the chunking, on the
number of workers, on which other checks ran or on which other samples share its shard.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from .._shard.statistics import keep_statistics
from ..checks._base import CheckSpec, Measurement
from ..errors import CheckError, NotApplicable
from . import _functional as F
from ._pipelining import (
    Chunk,
    CorruptedPredictions,
    check_chunk,
    corrupt_chunk,
    corrupted_predictions,
)
from ._references import Scale
from ._registry import get

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation
    from ..contract._model import Model


class Prefetcher:
    """Corrupts the first chunk of the next planned check in a background thread while the current
    check's model predicts, so that consecutive checks overlap as well as the chunks of one check.

    It prefetches only while the checks run in plan order (a plain ``pytest --mlguard`` run): after
    a check that was not the previous one's successor (``-k``, an xdist worker's share), it waits for
    the next in-order check before prefetching again, so little work is ever thrown away. Each
    prefetch runs in a thread of its own that ends with it: no idle thread waits for the rest of the
    session (an evaluation, and so its prefetcher, lives as long as the session).
    """

    def __init__(self) -> None:
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
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlguard-prefetch")
        self._pending[following.id] = pool.submit(
            corrupt_chunk,
            model,
            data.x[:chunk],
            following.param("corruption"),
            following.param("severity"),
            check_seed(following, evaluation),
            0,
            image_scale(evaluation),
            evaluation.positions[:chunk],
        )
        pool.shutdown(wait=False)  # its thread ends once the chunk is corrupted


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
    """Accuracy under the check's corruption on :attr:`~pytest_mlguard.checks._evaluation.Evaluation.data`,
    looked at chunk by chunk until early stopping decides; when all of it leaves the floor undecided,
    more of the data as ``verdict.more_samples`` says (:meth:`~pytest_mlguard.checks._evaluation.Evaluation.draw_more`)."""
    import dataclasses

    from .._verdicts.intervals import paired_counts
    from .._verdicts.paired import keep_outcomes
    from .._verdicts.sequential import drawn_more

    data, clean = evaluation.data, evaluation.clean_accuracy()
    planned = evaluation.sample_limit(data.n)  # fewer than all under --mlguard-budget
    stopper = evaluation.early_stop(spec, planned, clean=clean)
    result, workers = _predict(spec, evaluation, planned, stopper)
    done = len(result.proba)
    labels, clean_correct = data.y[:done], evaluation.clean_correct()[:done]
    predicted = result.proba.argmax(axis=1)
    correct = predicted == labels
    stopper.update(int(correct.sum()), done)
    outcomes, drawn, test = correct, None, None
    if not stopper.stopped:
        outcomes, drawn, test = _draw_more(spec, evaluation, correct, clean)
    keep_outcomes(evaluation, spec.id, outcomes)  # for the gate's paired comparison with another model
    keep_statistics(evaluation, spec.id, confidence=result.proba.max(axis=1))  # for a merge of --mlguard-shard: the ECE
    accuracy, interval, method = stopper.value_and_interval()
    if test is not None:
        accuracy = float(outcomes.mean())
    details = _details(spec, evaluation, result, accuracy, correct, workers, stopper, planned)
    if drawn is not None:
        details["more_samples"] = drawn
    message = (
        f"under {spec.param('corruption')} at severity {spec.param('severity')}: accuracy {accuracy:.4f}, clean {clean:.4f} "
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
    measurement = Measurement(
        value=accuracy,
        n=len(outcomes),
        clean=clean,
        details=details,
        message=message,
        successes=None if stopper.stopped and stopper.mode == "exact" else int(outcomes.sum()),
        paired=paired_counts(clean_correct, correct),
        interval=interval,
        interval_method=method,
        evaluations=len(outcomes),
        evaluations_saved=planned - done,
    )
    extra = drawn_more(outcomes, drawn or {}, test, data.n)
    if extra:
        extra["message"] = f"{message}\n{extra['message']}"
    return dataclasses.replace(measurement, **extra)


def _predict(spec: CheckSpec, evaluation: Evaluation, planned: int, stopper: Any) -> tuple[CorruptedPredictions, int]:
    """The model's probabilities on the first ``planned`` samples under the check's corruption, chunk
    by chunk until ``stopper`` decides (where the check may stop early), and the threads that corrupted."""
    model, data = evaluation.model, evaluation.data
    name = spec.param("corruption")
    workers, auto = workers_for(evaluation)
    first = None
    if workers > 0:  # before check_applies: a skipped check keeps the run in order
        prefetcher = evaluation.memo(("corruption-prefetcher",), Prefetcher)
        first = prefetcher.take(spec.id)
        prefetcher.after(spec, evaluation)
    check_applies(model, name)
    clean_correct, labels = evaluation.clean_correct(), data.y
    stops = spec.kind == "floor" and stopper.mode != "off"

    def stop(done: int, proba: np.ndarray) -> bool:
        return bool(stopper.update(int((proba.argmax(axis=1) == labels[:done]).sum()), done))

    result = corrupted_predictions(
        model,
        data.x[:planned],
        name,
        spec.param("severity"),
        check_seed(spec, evaluation),
        scale=image_scale(evaluation),
        workers=workers,
        first=first,
        chunk=check_chunk(model, planned, stops),
        keep=lambda i, predicted: bool(clean_correct[i]) and predicted != data.y[i],
        stop=stop if stops else None,
        ids=evaluation.positions[:planned],
    )
    if auto is not None:
        auto.record(result, model)
    return result, workers


def _draw_more(spec: CheckSpec, evaluation: Evaluation, correct: np.ndarray, clean: float) -> tuple[np.ndarray, dict[str, Any], Any]:
    """:meth:`~pytest_mlguard.checks._evaluation.Evaluation.draw_more` for a corruption check: a drawn
    sample is corrupted as sample ``data.n + k`` of the check would be (its own seeded generator), and
    predicted. A relative floor resolves against the clean accuracy of the data, as early stopping does."""
    model, full = evaluation.model, evaluation.full_data
    name, severity, seed, scale = spec.param("corruption"), spec.param("severity"), check_seed(spec, evaluation), image_scale(evaluation)
    position = [evaluation.data.n]

    def more(index: np.ndarray) -> np.ndarray:
        _, corrupted, _ = corrupt_chunk(model, full.x[index], name, severity, seed, position[0], scale)
        position[0] += len(index)
        return model.predict_proba(corrupted).argmax(axis=1) == full.y[index]

    outcomes, details, test = evaluation.draw_more(spec, correct, more, threshold=spec.threshold.resolve(clean=clean))
    return outcomes, details, test


def _details(
    spec: CheckSpec, evaluation: Evaluation, result: CorruptedPredictions, accuracy: float, correct: np.ndarray, workers: int, stopper: Any, planned: int
) -> dict[str, Any]:
    """The report's details of a corruption check (ECE, flips, scale, early stop) on the samples of
    the data it predicted (``correct``)."""
    from ..calibration.metrics import expected_calibration_error

    data, clean = evaluation.data, evaluation.clean_accuracy()
    corruption, done, bins = get(spec.param("corruption")), len(correct), _bins(evaluation)
    clean_ece = evaluation.memo(("clean_ece", bins), lambda: expected_calibration_error(evaluation.clean_proba, data.y, bins))
    details: dict[str, Any] = {
        "corruption": spec.param("corruption"),
        "group": corruption.group,
        "severity": spec.param("severity"),
        "held_out": corruption.held_out,
        "clean_accuracy": clean,
        "relative_robustness": accuracy / clean if clean > 0 else None,
        "error": 1.0 - accuracy,
        "ece": expected_calibration_error(result.proba, data.y[:done], bins),
        "clean_ece": clean_ece,
        "flipped": int((evaluation.clean_correct()[:done] & ~correct).sum()),
        "mean_abs_change": result.mean_abs_change,
        "scale": float(scale := image_scale(evaluation)),
        "reference": getattr(scale, "reference", "imagenet-c"),
        "workers": workers,
        "early_stop": stopper.details(done),
    }
    if planned < data.n:
        details["budget"] = {"planned_n": data.n, "n": planned}
    return details


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
