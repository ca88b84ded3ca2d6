"""Comparing two sets of predictions of the same samples, and running a model with a thread count.

Plain functions over numpy arrays, shared by the determinism, drift and gate families.

Example:
    >>> p = np.array([[0.9, 0.1], [0.4, 0.6]])
    >>> q = np.array([[0.8, 0.2], [0.6, 0.4]])
    >>> top1_agreement(p, q), round(max_proba_diff(p, q), 3)
    (0.5, 0.2)
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..errors import CheckError

#: how often the interpreter switches threads while clients send requests at once (on a busy server: often)
_SWITCH_INTERVAL_S = 1e-5


class NotDeployable(CheckError):
    """The model cannot be deployed as a drift variant (torch.jit could not trace or script it, torch.export
    could not export it): the check fails with the exporter's reason (docs/production.md), it is not an error."""


class PrefixPredictions:
    """Predictions of the first samples of ``x``, made as far as they are asked for: a check that
    stops early does not predict the rest, and a later check that needs every sample predicts only
    those still missing.

    Example:
        >>> calls = []
        >>> prefix = PrefixPredictions(lambda batch: calls.append(len(batch)) or batch * 2, np.arange(5.0))
        >>> prefix.upto(2).tolist(), prefix.upto(5).tolist(), calls
        ([0.0, 2.0], [0.0, 2.0, 4.0, 6.0, 8.0], [2, 3])
    """

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> None:
        self.predict, self.x = predict, x
        self.proba: np.ndarray | None = None

    def upto(self, k: int) -> np.ndarray:
        done = 0 if self.proba is None else len(self.proba)
        if k > done:
            more = np.asarray(self.predict(self.x[done:k]))
            self.proba = more if self.proba is None else np.concatenate([self.proba, more])
        assert self.proba is not None
        return self.proba[:k]


def _pair(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.ndim != 2 or p.shape != q.shape or len(p) == 0:
        raise ValueError(f"expected two probability arrays of the same shape (N, K), N >= 1, got {p.shape} and {q.shape}")
    return p, q


def per_sample_diff(p: Any, q: Any) -> np.ndarray:
    """The largest absolute probability difference of each sample, shape ``(N,)`` (NaN counts as inf)."""
    p, q = _pair(p, q)
    diff = np.abs(p - q).max(axis=1)
    return np.where(np.isnan(diff), np.inf, diff)


def max_proba_diff(p: Any, q: Any) -> float:
    """The largest absolute probability difference over every sample and class."""
    return float(per_sample_diff(p, q).max())


def top1_agreement(p: Any, q: Any) -> float:
    """The fraction of samples whose top-1 class is the same in ``p`` and ``q``."""
    p, q = _pair(p, q)
    return float((p.argmax(axis=1) == q.argmax(axis=1)).mean())


def compare_predictions(reference: Any, other: Any, *, examples: int = 10) -> dict[str, Any]:
    """Agreement, probability differences and the samples that changed most, JSON-safe.

    Example:
        >>> compare_predictions(np.eye(2), np.eye(2)[::-1])["flipped"]
        [{'index': 0, 'reference': 0, 'other': 1, 'max_diff': 1.0}, {'index': 1, 'reference': 1, 'other': 0, 'max_diff': 1.0}]
    """
    p, q = _pair(reference, other)
    diff = per_sample_diff(p, q)
    top_p, top_q = p.argmax(axis=1), q.argmax(axis=1)
    flipped = np.flatnonzero(top_p != top_q)
    worst = flipped[np.argsort(-diff[flipped], kind="stable")][:examples]
    finite = diff[np.isfinite(diff)]
    return {
        "agreement": float((top_p == top_q).mean()),
        "max_proba_diff": float(diff.max()) if np.isfinite(diff.max()) else None,
        "mean_proba_diff": float(finite.mean()) if len(finite) else None,
        "n_flipped": int(len(flipped)),
        "flipped": [
            {"index": int(i), "reference": int(top_p[i]), "other": int(top_q[i]), "max_diff": round(float(diff[i]), 6)}
            for i in worst
        ],
    }


@contextlib.contextmanager
def thread_count(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` torch intra-op threads (and BLAS threads, where threadpoolctl is installed).

    ``None`` leaves the count as it is; the previous count is restored on exit.
    """
    if threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    limits: Any = contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=threads)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass
    torch.set_num_threads(threads)
    try:
        with limits:
            yield
    finally:
        torch.set_num_threads(previous)


def at_once(client: Callable[[int], None], threads: int) -> None:
    """``client(0)`` .. ``client(threads - 1)``, each in a thread of its own, started together at a barrier,
    while the interpreter switches threads every few microseconds (``sys.setswitchinterval``) rather than
    every 5 ms, so that requests interleave as they do on a busy server."""
    barrier = threading.Barrier(threads)

    def started(first: int) -> None:
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:  # pragma: no cover - another client failed to start
            pass
        client(first)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, _SWITCH_INTERVAL_S))  # switch threads often, as on a busy server
    try:
        with ThreadPoolExecutor(threads, thread_name_prefix="mlguard-client") as pool:
            list(pool.map(started, range(threads)))
    finally:
        sys.setswitchinterval(interval)
