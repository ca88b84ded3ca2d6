"""Determinism of a model as plain functions, and the ``determinism`` checks' measurements.

Each function returns, per sample, the largest absolute probability difference between the outputs
being compared (``inf`` where a call raised or returned NaN) and whether its top-1 class changed
(:class:`Differences`). A sample matches (:func:`matching`) when its top-1 class stayed and its
probabilities differ by no more than the tolerance, or by no more than float rounding of its logits
can move them (:func:`rounding_tolerance`): what a user acts on, not the last bits of a saturated
softmax.

Example:
    >>> from pytest_mlguard.contract import CallableModel
    >>> model = CallableModel(lambda x: np.tile([0.2, 0.8], (len(x), 1)), input_shape=(2,), n_classes=2)
    >>> repeat_diff(model, np.zeros((4, 2), np.float32)).diff.tolist()
    [0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..._messages import exception_text
from ...checks._base import CheckSpec, Measurement, early_stop_measurement
from ...contract._data import EvalData
from .._compare import at_once, per_sample_diff
from .._modes import in_each_mode
from ._device import name_pitfalls

if TYPE_CHECKING:
    from ...checks._evaluation import Evaluation
    from ...contract._model import Model

__all__ = ["ROUNDING_ULPS", "Differences", "batch_diff", "concurrent_diff", "matching", "repeat_diff", "rounding_tolerance", "run_check"]

#: units in the last place of a sample's largest logit that kernels chosen by batch shape or thread
#: count may round its logits apart (summation order; 16 ulps is a few ulps of each partial sum)
ROUNDING_ULPS = 16


class Differences(NamedTuple):
    """Per sample: the largest absolute probability difference (``inf``: a call raised or returned
    NaN), and whether the top-1 class changed."""

    diff: np.ndarray
    flipped: np.ndarray

    @classmethod
    def none(cls, n: int) -> Differences:
        return cls(np.zeros(n), np.zeros(n, dtype=bool))

    def worst(self, first: Any, other: Any) -> Differences:
        """These differences, or those of ``other`` against ``first`` where they are larger."""
        first, other = np.asarray(first), np.asarray(other)
        flipped = self.flipped | (first.argmax(axis=1) != other.argmax(axis=1))
        return Differences(np.maximum(self.diff, per_sample_diff(first, other)), flipped)


def _precision(model: Model, scores: np.ndarray) -> float:
    """The machine epsilon of the logits: of their dtype, or of the lowest-precision floating
    parameter of a torch module (a bfloat16 module's logits are bfloat16 values cast to float32)."""
    eps = float(np.finfo(scores.dtype).eps) if np.issubdtype(scores.dtype, np.floating) else float(np.finfo(np.float32).eps)
    module = getattr(model, "module", None)
    if module is not None and hasattr(module, "parameters"):
        import torch

        for parameter in module.parameters():
            if parameter.is_floating_point():
                eps = max(eps, float(torch.finfo(parameter.dtype).eps))
    return eps


def rounding_tolerance(model: Model, x: np.ndarray) -> np.ndarray:
    """Per sample of ``x``, the most float rounding of the model's logits moves a probability:
    half (the softmax's largest slope) of :data:`ROUNDING_ULPS` units in the last place of the
    sample's largest logit, ``0.5 * 16 * eps * max|logit|``; 0 for models whose outputs are
    probabilities or log-probabilities.

    Example:
        >>> from pytest_mlguard.contract import CallableModel
        >>> model = CallableModel(lambda x: np.full((len(x), 2), 900.0, np.float32), input_shape=(1,), n_classes=2, output="logits")
        >>> float(rounding_tolerance(model, np.zeros((1, 1), np.float32))[0])  # doctest: +ELLIPSIS
        0.000858...
    """
    if getattr(model, "output", None) != "logits" or not len(x):
        return np.zeros(len(x))
    x = np.asarray(x, dtype=np.float32)
    size = max(1, int(getattr(model, "batch_size", len(x)) or len(x)))
    parts = [np.asarray(model._scores(x[start : start + size])) for start in range(0, len(x), size)]  # model._scores: the logits predict_proba turns into probabilities
    scores = np.concatenate(parts)
    largest = np.abs(scores.reshape(len(x), -1).astype(np.float64)).max(axis=1)
    return 0.5 * ROUNDING_ULPS * _precision(model, scores) * np.where(np.isfinite(largest), largest, 0.0)


def matching(differences: Differences, tolerance: float, model: Model, x: np.ndarray) -> np.ndarray:
    """Per sample, whether its outputs match: the same top-1 class, and probabilities within
    ``tolerance`` or within :func:`rounding_tolerance` of its logits (asked of the model only for the
    samples beyond ``tolerance``). ``tolerance = 0`` demands bit-identical outputs."""
    diff, flipped = differences
    match = (diff <= tolerance) & ~flipped
    if tolerance > 0:
        candidates = np.flatnonzero(~match & ~flipped & np.isfinite(diff))
        if len(candidates):
            match[candidates] = diff[candidates] <= rounding_tolerance(model, x[candidates])
    return match


def repeat_diff(model: Model, x: np.ndarray, repeats: int = 3) -> Differences:
    """Per sample, the largest difference between the first call on ``x`` and ``repeats - 1`` more."""
    first = model.predict_proba(x)
    differences = Differences.none(len(x))
    for _ in range(repeats - 1):
        differences = differences.worst(first, model.predict_proba(x))
    return differences


def concurrent_diff(
    model: Model, x: np.ndarray, *, threads: int = 8, request_size: int = 1
) -> tuple[Differences, list[str]]:
    """Per sample, the difference between requests sent from ``threads`` threads at once and the same
    requests sent one after another; and the errors concurrent requests raised.

    ``x`` is cut into requests of ``request_size`` samples. Every thread waits at a barrier, then
    sends its share of the requests (request ``i`` goes to thread ``i % threads``). Meanwhile the
    interpreter switches threads every few microseconds (``sys.setswitchinterval``) rather than every
    5 ms, so that requests interleave as they do on a busy server.
    """
    requests = [slice(start, min(start + request_size, len(x))) for start in range(0, len(x), request_size)]
    serial = [model.predict_proba(x[r]) for r in requests]
    errors: list[tuple[int, str]] = []
    diff = np.full(len(x), np.inf)
    flipped = np.zeros(len(x), dtype=bool)

    def client(first: int) -> None:
        for index in range(first, len(requests), threads):
            request = requests[index]
            try:
                diff[request], flipped[request] = Differences.none(request.stop - request.start).worst(serial[index], model.predict_proba(x[request]))
            except Exception as exc:  # noqa: BLE001 - a crash under concurrency is what this check finds
                errors.append((index, f"request {index}: {exception_text(exc)}"))

    at_once(client, threads)
    return Differences(diff, flipped), [message for _, message in sorted(errors)]


def batch_diff(model: Model, x: np.ndarray, rng: np.random.Generator, batch_size: int | None = None) -> Differences:
    """Per sample, the largest difference between its output alone (a batch of one) and its output in
    batches of ``batch_size`` (default: the model's) in data order, in reverse order and shuffled."""
    size = batch_size or model.batch_size
    alone = np.concatenate([model.predict_proba(x[i : i + 1]) for i in range(len(x))])
    differences = Differences.none(len(x))
    for order in (np.arange(len(x)), np.arange(len(x))[::-1], rng.permutation(len(x))):
        proba = np.empty_like(alone)
        proba[order] = model.predict_proba(x[order], batch_size=size)
        differences = differences.worst(alone, proba)
    return differences


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The check on the model in each mode it may run in (:func:`~pytest_mlguard.production._modes.in_each_mode`);
    a segmenter's or a detector's with the task's agreement (:mod:`._tasks`)."""
    if getattr(evaluation.model, "task", "classification") != "classification":
        from ._tasks import measure

        return in_each_mode(spec, evaluation, lambda: measure(spec, evaluation), unchanged="every image matched")
    return in_each_mode(spec, evaluation, lambda: _measure(spec, evaluation), unchanged="every sample matched")


def _measure(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    model, data = evaluation.model, evaluation.data
    limit = evaluation.sample_limit(data.n)  # fewer under --mlguard-budget: the data are in random order
    if limit < data.n:
        data = EvalData(data.x[:limit], data.y[:limit], name=data.name)
    tolerance = spec.param("tolerance")
    details: dict[str, Any] = {"tolerance": tolerance}
    errors: list[str] = []
    stopper = None
    if spec.name == "threads":  # one burst of concurrent requests: it does not stop early
        threads, size = spec.param("threads"), spec.param("request_size")
        found, errors = concurrent_diff(model, data.x, threads=threads, request_size=size)
        matched = matching(found, tolerance, model, data.x)
        details.update(threads=threads, request_size=size, errors=errors[:10], n_errors=len(errors))
        what = f"requests of {size} sample{'s' if size > 1 else ''} from {threads} threads at once against the same requests one by one"
        per_sample = 2
    else:
        found, matched, stopper, what, per_sample = _looked(spec, evaluation, data, details)
    message = _mismatches(found, matched, details, what, tolerance, errors)
    message = name_pitfalls(message, details, str(getattr(model, "active_device", "cpu")))  # TF32, cuDNN benchmark, ...
    if stopper is not None:
        return early_stop_measurement(stopper, details, message, per_sample=per_sample)
    n = len(found.diff)
    return Measurement(value=float(matched.mean()), n=n, details=details, message=message, successes=int(matched.sum()), evaluations=per_sample * n)


def _looked(spec: CheckSpec, evaluation: Evaluation, data: EvalData, details: dict[str, Any]) -> tuple[Differences, np.ndarray, Any, str, int]:
    """Repeat and batch checks compare each sample on its own: look by look, stopping once a mismatch
    decides. The differences found, which samples matched, the stop, what was compared, the model
    evaluations per sample."""
    model, tolerance = evaluation.model, spec.param("tolerance")
    if spec.name == "repeat":
        details["repeats"] = spec.param("repeats")
        what, per_sample = "repeated calls on the same inputs", spec.param("repeats")

        def differences(x: np.ndarray) -> Differences:
            return repeat_diff(model, x, spec.param("repeats"))

    else:
        details["batch_size"] = model.batch_size
        what, per_sample = f"each sample alone against batches of {model.batch_size} in data, reverse and shuffled order", 4
        rng = evaluation.rng(spec)

        def differences(x: np.ndarray) -> Differences:
            return batch_diff(model, x, rng)

    looked: list[Differences] = []

    def matches(rows: slice) -> np.ndarray:
        looked.append(differences(data.x[rows]))
        return matching(looked[-1], tolerance, model, data.x[rows])

    # batch: looks of two batches at least, so that batch boundaries and compositions still vary
    seen, stopper = evaluation.looks(spec, data.n, matches, min_look=2 * model.batch_size if spec.name == "batch" else 1)
    found = Differences(np.concatenate([d.diff for d in looked]), np.concatenate([d.flipped for d in looked]))
    return found, np.asarray(seen, dtype=bool), stopper, what, per_sample


def _mismatches(found: Differences, matched: np.ndarray, details: dict[str, Any], what: str, tolerance: float, errors: list[str]) -> str:
    """The samples that did not match, in ``details`` (the first ten: changed classes first, then by
    difference), and the failure message that names them (empty if all matched)."""
    diff = found.diff
    n = len(diff)
    mismatched = np.flatnonzero(~matched)
    worst = mismatched[np.lexsort((-diff[mismatched], ~found.flipped[mismatched]))][:10]  # changed classes first, then by difference
    finite = diff[np.isfinite(diff)]
    details.update(
        max_proba_diff=float(finite.max()) if len(finite) else None,
        mismatched=[
            {"index": int(i), "max_diff": None if not np.isfinite(diff[i]) else float(diff[i]), "top1_changed": bool(found.flipped[i])} for i in worst
        ],
        n_mismatched=int(len(mismatched)),
        n_top1_changed=int(found.flipped.sum()),
    )
    if not len(mismatched):
        return ""
    largest = "a call raised" if not np.isfinite(diff[mismatched]).all() else f"probabilities differ by up to {diff[mismatched].max():.3g}"
    changed = f"the top-1 class changed on {int(found.flipped.sum())}; " if found.flipped.any() else ""
    message = (
        f"{len(mismatched)} of {n} samples changed between {what} ({changed}{largest}; tolerance {tolerance:g}, "
        f"or float rounding of the logits); first ones: samples {', '.join(str(int(i)) for i in worst[:5])}"
    )
    if errors:
        message += f"\nconcurrent requests raised: {errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    return message
