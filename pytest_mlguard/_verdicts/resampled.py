"""Two models measured on the same images by a metric of the whole set (mIoU, mAP): the paired bootstrap of its change.

A segmenter's mIoU or a detector's mAP is no mean of per-image outcomes, so the paired interval of two
proportions (:mod:`.paired`) does not apply to it. Its check keeps the statistic it bootstraps
(:func:`keep_statistic`: ``rows -> value`` over the indices of its images, in the check's order of
images), and the model-version gate, which reruns the check on the model in production on the same
images, draws each resample of images once and computes both models' metric on it
(:func:`paired_bootstrap_regression`): the percentile interval of the change keeps what the images
share between the two models, as the paired interval does for proportions.

Example:
    >>> rng = np.random.default_rng(0)
    >>> scores = rng.random(200)
    >>> baseline = Resampled(lambda rows: scores[rows].mean(), 200)
    >>> candidate = Resampled(lambda rows: (scores[rows] - 0.1).mean(), 200)
    >>> out = paired_bootstrap_regression(baseline, candidate, tolerance=0.02, resamples=200, rng=rng)
    >>> out["decision"], [round(v, 3) for v in out["interval"]]
    ('regressed', [-0.1, -0.1])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from .paired import judge

_MEMO_KEY = ("paired", "resampled-statistics")


@dataclasses.dataclass(frozen=True)
class Resampled:
    """A check's metric as a function of the indices of its ``n`` images (``batched``: of every resample's
    indices at once, ``(resamples, n)``, as :func:`~.intervals.bootstrap_interval` takes it)."""

    statistic: Callable[[np.ndarray], Any]
    n: int
    batched: bool = False

    def values(self, rows: np.ndarray) -> np.ndarray:
        """The metric on each row of ``rows`` ``(resamples, n)``."""
        if self.batched:
            return np.asarray(self.statistic(rows), dtype=np.float64)
        return np.array([self.statistic(row) for row in rows], dtype=np.float64)


def keep_statistic(evaluation: Any, check_id: str, statistic: Callable[[np.ndarray], Any], n: int, *, batched: bool = False) -> None:
    """Keep ``check_id``'s metric over its ``n`` images in ``evaluation`` (anything with ``memo(key, compute)``)."""
    evaluation.memo(_MEMO_KEY, dict)[check_id] = Resampled(statistic, n, batched)


def kept_statistic(evaluation: Any, check_id: str) -> Resampled | None:
    """What :func:`keep_statistic` kept for ``check_id`` in ``evaluation``, or ``None``."""
    kept: dict[str, Resampled] = evaluation.memo(_MEMO_KEY, dict)
    return kept.get(check_id)


def paired_bootstrap_regression(
    baseline: Resampled,
    candidate: Resampled,
    *,
    tolerance: float,
    kind: Literal["floor", "ceiling"] = "floor",
    confidence: float = 0.95,
    resamples: int = 1000,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Did the candidate's metric regress from the baseline's by more than ``tolerance``, on the same images?

    Each of ``resamples`` resamples of the ``n`` images (drawn with replacement) gives both models'
    metric; ``interval`` is the percentile interval of their difference (candidate minus baseline) at
    ``confidence``, and ``decision`` ``regressed`` (the whole interval lies beyond the tolerance: a fall
    of a floor metric, a rise of a ceiling one), ``within`` (none of it does) or ``inconclusive``.

    Raises:
        ValueError: the two were measured on different numbers of images.
    """
    if baseline.n != candidate.n or baseline.n < 2:
        raise ValueError(f"expected both models measured on the same n >= 2 images, got n={baseline.n} (baseline) and n={candidate.n} (candidate)")
    rows = rng.integers(0, baseline.n, size=(resamples, baseline.n))
    change = candidate.values(rows) - baseline.values(rows)
    alpha = 1 - confidence
    low, high = (float(v) for v in np.quantile(change, [alpha / 2, 1 - alpha / 2]))
    regressed, within = judge(low, high, tolerance, kind)
    decision = "regressed" if regressed else "within" if within else "inconclusive"
    return {"interval": (low, high), "n": baseline.n, "decision": decision}
