"""Determinism of a model as plain functions, and the ``determinism`` checks' measurements.

Each function returns, per sample, the largest absolute probability difference between the outputs
being compared (``inf`` where a call raised or returned NaN); a sample matches when that difference
is within the tolerance.

Example:
    >>> from pytest_mlguard.contract import CallableModel
    >>> model = CallableModel(lambda x: np.tile([0.2, 0.8], (len(x), 1)), input_shape=(2,), n_classes=2)
    >>> repeat_diff(model, np.zeros((4, 2), np.float32)).tolist()
    [0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ...checks.base import CheckSpec, Measurement
from ...contract.data import EvalData
from ..compare import per_sample_diff
from ..modes import in_each_mode

if TYPE_CHECKING:
    from ...checks.evaluation import Evaluation
    from ...contract.model import Model

__all__ = ["batch_diff", "concurrent_diff", "repeat_diff", "run_check"]

_SWITCH_INTERVAL_S = 1e-5


def repeat_diff(model: Model, x: np.ndarray, repeats: int = 3) -> np.ndarray:
    """Per sample, the largest difference between the first call on ``x`` and ``repeats - 1`` more."""
    first = model.predict_proba(x)
    diff = np.zeros(len(x))
    for _ in range(repeats - 1):
        diff = np.maximum(diff, per_sample_diff(first, model.predict_proba(x)))
    return diff


def concurrent_diff(
    model: Model, x: np.ndarray, *, threads: int = 8, request_size: int = 1
) -> tuple[np.ndarray, list[str]]:
    """Per sample, the difference between requests sent from ``threads`` threads at once and the same
    requests sent one after another; and the errors concurrent requests raised.

    ``x`` is cut into requests of ``request_size`` samples. Every thread waits at a barrier, then
    sends its share of the requests (request ``i`` goes to thread ``i % threads``). Meanwhile the
    interpreter switches threads every few microseconds (``sys.setswitchinterval``) rather than every
    5 ms, so that requests interleave as they do on a busy server.
    """
    requests = [slice(start, min(start + request_size, len(x))) for start in range(0, len(x), request_size)]
    serial = [model.predict_proba(x[r]) for r in requests]
    barrier = threading.Barrier(threads)
    errors: list[tuple[int, str]] = []
    diff = np.full(len(x), np.inf)

    def client(first: int) -> None:
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:  # pragma: no cover - another client failed to start
            pass
        for index in range(first, len(requests), threads):
            request = requests[index]
            try:
                diff[request] = per_sample_diff(serial[index], model.predict_proba(x[request]))
            except Exception as exc:  # noqa: BLE001 - a crash under concurrency is what this check finds
                errors.append((index, f"request {index}: {type(exc).__name__}: {exc}"))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, _SWITCH_INTERVAL_S))  # switch threads often, as on a busy server
    try:
        with ThreadPoolExecutor(threads, thread_name_prefix="mlguard-client") as pool:
            list(pool.map(client, range(threads)))
    finally:
        sys.setswitchinterval(interval)
    return diff, [message for _, message in sorted(errors)]


def batch_diff(model: Model, x: np.ndarray, rng: np.random.Generator, batch_size: int | None = None) -> np.ndarray:
    """Per sample, the largest difference between its output alone (a batch of one) and its output in
    batches of ``batch_size`` (default: the model's) in data order, in reverse order and shuffled."""
    size = batch_size or model.batch_size
    alone = np.concatenate([model.predict_proba(x[i : i + 1]) for i in range(len(x))])
    diff = np.zeros(len(x))
    for order in (np.arange(len(x)), np.arange(len(x))[::-1], rng.permutation(len(x))):
        proba = np.empty_like(alone)
        proba[order] = model.predict_proba(x[order], batch_size=size)
        diff = np.maximum(diff, per_sample_diff(alone, proba))
    return diff


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The check on the model in each mode it may run in (:func:`~pytest_mlguard.production.modes.in_each_mode`)."""
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
        diff, errors = concurrent_diff(model, data.x, threads=threads, request_size=size)
        details.update(threads=threads, request_size=size, errors=errors[:10], n_errors=len(errors))
        what = f"requests of {size} sample{'s' if size > 1 else ''} from {threads} threads at once against the same requests one by one"
        per_sample = 2
    else:  # repeat and batch compare each sample on its own: look by look, stopping once a mismatch decides
        if spec.name == "repeat":
            details["repeats"] = spec.param("repeats")
            what, per_sample = "repeated calls on the same inputs", spec.param("repeats")

            def differences(x: np.ndarray) -> np.ndarray:
                return repeat_diff(model, x, spec.param("repeats"))

        else:
            details["batch_size"] = model.batch_size
            what, per_sample = f"each sample alone against batches of {model.batch_size} in data, reverse and shuffled order", 4
            rng = evaluation.rng(spec)

            def differences(x: np.ndarray) -> np.ndarray:
                return batch_diff(model, x, rng)

        looked: list[np.ndarray] = []

        def matches(rows: slice) -> np.ndarray:
            looked.append(differences(data.x[rows]))
            return looked[-1] <= tolerance

        # batch: looks of two batches at least, so that batch boundaries and compositions still vary
        _, stopper = evaluation.looks(spec, data.n, matches, min_look=2 * model.batch_size if spec.name == "batch" else 1)
        diff = np.concatenate(looked)
    n = len(diff)
    matching = diff <= tolerance
    mismatched = np.flatnonzero(~matching)
    worst = mismatched[np.argsort(-diff[mismatched], kind="stable")][:10]
    finite = diff[np.isfinite(diff)]
    details.update(
        max_proba_diff=float(finite.max()) if len(finite) else None,
        mismatched=[{"index": int(i), "max_diff": None if not np.isfinite(diff[i]) else float(diff[i])} for i in worst],
        n_mismatched=int(len(mismatched)),
    )
    message = ""
    if len(mismatched):
        largest = "a call raised" if not np.isfinite(diff[worst[0]]) else f"probabilities differ by up to {diff[worst[0]]:.3g}"
        message = (
            f"{len(mismatched)} of {n} samples changed between {what} ({largest}; tolerance {tolerance:g}); "
            f"first ones: samples {', '.join(str(int(i)) for i in worst[:5])}"
        )
        if errors:
            message += f"\nconcurrent requests raised: {errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    if stopper is not None:
        return stopper.measurement(details, message, per_sample=per_sample)
    return Measurement(value=float(matching.mean()), n=n, details=details, message=message, successes=int(matching.sum()), evaluations=per_sample * n)
