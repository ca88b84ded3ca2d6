"""Estimates and intervals of binned calibration errors that keep their error rates.

The plug-in ECE of n samples is biased upward: every bin's ``|accuracy - confidence|`` adds the
absolute value of its sampling noise, so a perfectly calibrated model shows an ECE of 0.004 to 0.04
at n = 360, and a percentile bootstrap adds the same bias a second time. Here, for the ECE, the MCE
and the class-wise ECE:

* **debiased estimate** (Kumar, Liang and Ma 2019, "Verified uncertainty calibration", NeurIPS): the
  plug-in value minus its bias, the bias measured by redrawing every sample's outcome from its own
  bin's observed accuracy (a parametric bootstrap around the binned model) and comparing the
  redrawn errors with the plug-in one: ``2 * plugin - mean(redrawn)``, at least 0;
* **a test of perfect calibration** by consistency resampling (Broecker and Smith 2007, "Increasing
  the reliability of reliability diagrams", Weather and Forecasting 22): labels drawn from the model's
  own predicted probabilities give the distribution of the plug-in error under perfect calibration,
  at this n and with these confidences. The interval's low end is 0 unless the observed error lies
  above that null distribution's ``1 - alpha/2`` quantile;
* **the interval** otherwise: the debiased estimate minus the quantiles of the redrawn errors around
  their mean (a basic parametric bootstrap), clipped to [0, 1].

Resampling is vectorised (numpy only); tail quantiles that ``resamples`` cannot resolve (the
Bonferroni share of a run of many checks) use the Cornish-Fisher expansion of the resampled
moments. Functions take the probabilities ``(N, K)`` and labels, like :mod:`.metrics`, and a seeded
generator.

Example:
    >>> rng = np.random.default_rng(0)
    >>> confidence = rng.uniform(0.5, 1.0, 2000)
    >>> proba = np.stack([confidence, 1 - confidence], axis=1)
    >>> labels = (rng.random(2000) >= confidence).astype(int)  # calibrated by construction
    >>> result = calibration_inference(proba, labels, "ece", rng=np.random.default_rng(1))
    >>> result.low, result.estimate < result.plugin
    (0.0, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from ..errors import InvalidArgument
from .metrics import Binning, _bin_index, _check, _check_bins

__all__ = ["BINNED_METRICS", "CalibrationInference", "binary_calibration_inference", "calibration_inference", "debiased_error", "tail_quantile"]

BinnedMetric = Literal["ece", "mce", "classwise_ece"]
BINNED_METRICS: tuple[str, ...] = ("ece", "mce", "classwise_ece")

#: resampled labels held in memory at once (resamples x samples x columns)
_CHUNK = 2_000_000


@dataclass(frozen=True)
class CalibrationInference:
    """What :func:`calibration_inference` found: ``estimate`` (debiased), ``plugin``, the interval
    ``low``, ``high`` at ``confidence``, and the consistency test: ``null_quantile`` (the plug-in value
    below which perfect calibration is not rejected at ``1 - (1 - confidence) / 2``) and ``p_calibrated``
    (the share of the null resamples at least as large as the plug-in value)."""

    metric: str
    plugin: float
    estimate: float
    low: float
    high: float
    confidence: float
    null_quantile: float
    p_calibrated: float
    resamples: int

    def details(self) -> dict[str, Any]:
        """JSON-safe, for a check's details."""
        return {
            "method": "debiased (Kumar et al. 2019) + consistency resampling (Broecker and Smith 2007)",
            "plugin": round(self.plugin, 12),
            "debiased": round(self.estimate, 12),
            "null_quantile": round(self.null_quantile, 12),
            "p_calibrated": round(self.p_calibrated, 6),
            "resamples": self.resamples,
        }


def tail_quantile(values: np.ndarray, q: float) -> float:
    """The ``q`` quantile of resampled ``values``: empirical where at least 10 resamples lie beyond
    it, else the Cornish-Fisher expansion of their mean, spread and skewness."""
    values = np.asarray(values, dtype=np.float64)
    if min(q, 1 - q) * len(values) >= 10:
        return float(np.quantile(values, q))
    from scipy.stats import norm

    mean, spread = float(values.mean()), float(values.std())
    if spread == 0:
        return mean
    skew = float(((values - mean) ** 3).mean() / spread**3)
    z = float(norm.ppf(q))
    return mean + spread * (z + (z * z - 1) * skew / 6)


def _folded_mean(mean: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """``E|X|`` for ``X ~ N(mean, spread**2)`` (``|mean|`` where ``spread`` is 0)."""
    from scipy.special import ndtr

    safe = np.where(spread > 0, spread, 1.0)
    ratio = mean / safe
    folded = safe * np.sqrt(2 / np.pi) * np.exp(-0.5 * ratio * ratio) + mean * (1 - 2 * ndtr(-ratio))
    return np.where(spread > 0, folded, np.abs(mean))


class _Binned:
    """The fixed binning of the columns (one for top-label metrics, one per class for class-wise)."""

    def __init__(self, columns: np.ndarray, n_bins: int, binning: Binning) -> None:
        from scipy import sparse

        self.n, self.width = columns.shape
        index = np.empty(columns.shape, dtype=np.int64)
        self.size = 0
        for j in range(self.width):
            bins, edges = _bin_index(columns[:, j], n_bins, binning)
            self.size = max(self.size, len(edges) - 1)
            index[:, j] = bins
        flat = (np.arange(self.width)[None, :] * self.size + index).ravel()  # sample-major, like (r, n, J).reshape(r, -1)
        self.onehot = sparse.csr_matrix((np.ones(flat.size), (np.arange(flat.size), flat)), shape=(flat.size, self.width * self.size))
        self.count = np.asarray(self.onehot.sum(axis=0)).ravel()
        self.confidence_sum = self.sums(columns[None])[0]
        # the spread of a bin's accuracy under perfect calibration: sum of c (1 - c) over the bin, / count^2
        self.spread = np.sqrt(self.sums((columns * (1 - columns))[None])[0]) / np.maximum(self.count, 1)
        self.index = index

    def sums(self, outcomes: np.ndarray) -> np.ndarray:
        """Per resample, the sums of ``outcomes`` ``(r, n, J)`` in every (column, bin): ``(r, J * bins)``."""
        return np.asarray(self.onehot.T.dot(outcomes.reshape(len(outcomes), -1).T.astype(np.float64)).T)

    def gaps(self, sums: np.ndarray) -> np.ndarray:
        """Per resample and bin, accuracy - confidence (0 for an empty bin)."""
        return (sums - self.confidence_sum[None, :]) / np.maximum(self.count, 1)[None, :]

    def debiased_gaps(self, gaps: np.ndarray) -> np.ndarray:
        """Per bin, ``|gap|`` less the bias its noise adds: ``2 |gap| - E|N(gap, spread^2)|`` (Kumar et
        al. 2019, with the expectation in closed form), which may be negative."""
        return 2 * np.abs(gaps) - _folded_mean(gaps, self.spread[None, :])

    def statistic(self, metric: str, per_bin: np.ndarray) -> np.ndarray:
        """The metric from per-bin absolute gaps (``|gap|`` or debiased), per resample."""
        if metric == "mce":
            return np.where(self.count[None, :] > 0, per_bin, -np.inf).max(axis=1)
        weighted = (per_bin * self.count[None, :]).reshape(len(per_bin), self.width, self.size).sum(axis=2) / self.n
        return weighted.mean(axis=1)

    def plugin(self, metric: str, sums: np.ndarray) -> np.ndarray:
        return self.statistic(metric, np.abs(self.gaps(sums)))

    def debiased(self, metric: str, sums: np.ndarray) -> np.ndarray:
        return np.maximum(0.0, self.statistic(metric, self.debiased_gaps(self.gaps(sums))))


def _columns(proba: np.ndarray, labels: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities whose calibration the metric measures, and their outcomes, ``(N, J)``."""
    if metric == "classwise_ece":
        return proba, (labels[:, None] == np.arange(proba.shape[1])[None, :])
    return proba.max(axis=1, keepdims=True), (proba.argmax(axis=1) == labels)[:, None]


def _draws(binned: _Binned, resamples: int, draw: Any) -> np.ndarray:
    """The statistic sums of ``resamples`` draws, in chunks that keep memory bounded."""
    chunk = max(1, _CHUNK // max(1, binned.n * binned.width))
    parts = [binned.sums(draw(min(chunk, resamples - start))) for start in range(0, resamples, chunk)]
    return np.concatenate(parts)


def debiased_error(
    proba: Any, labels: Any, metric: BinnedMetric = "ece", n_bins: int = 15, *, binning: Binning = "equal-width"
) -> float:
    """The debiased estimate of a binned calibration error alone (no resampling): per bin,
    ``2 |gap| - E|N(gap, s^2)|``, ``s^2`` the variance of the bin's accuracy under perfect
    calibration, then the metric's weighting, at least 0.

    Example:
        >>> proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4]])
        >>> round(debiased_error(proba, np.array([0, 1, 0]), n_bins=10), 4)
        0.3586
    """
    proba, labels = _check(proba, labels)
    _check_bins(n_bins, binning)
    if metric not in BINNED_METRICS:
        raise ValueError(f"expected metric one of {BINNED_METRICS}, got {metric!r}")
    columns, outcomes = _columns(proba, labels, metric)
    binned = _Binned(columns, n_bins, binning)
    return float(binned.debiased(metric, binned.sums(outcomes[None]))[0])


def _null_labels(proba: np.ndarray, columns: np.ndarray, binned: _Binned, metric: str, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    """Consistency resampling: ``r`` draws of the outcomes with labels drawn from the model's own
    probabilities (perfect calibration)."""
    if metric == "classwise_ece":
        cumulative = np.cumsum(proba, axis=1)
        cumulative[:, -1] = np.inf

        def classes(r: int) -> np.ndarray:
            drawn = (rng.random((r, binned.n, 1)) >= cumulative[None]).sum(axis=2)
            return drawn[:, :, None] == np.arange(proba.shape[1])[None, None, :]

        return classes

    def top(r: int) -> np.ndarray:
        return rng.random((r, binned.n, 1)) < columns[None]

    return top


def _estimate_error(binned: _Binned, columns: np.ndarray, observed: np.ndarray, metric: str, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The error of the debiased estimate on a model with the debiased gaps: every outcome redrawn at
    its probability moved by its bin's debiased gap (a parametric bootstrap of the binned model, with
    the small gaps of a nearly calibrated model, where the estimate is still biased up), the estimate
    recomputed, less the truth of that model."""
    gap = binned.gaps(observed)[0]
    shrunk = np.sign(gap) * np.maximum(0.0, binned.debiased_gaps(gap[None])[0])
    moved = np.clip(columns + shrunk.reshape(binned.width, binned.size)[np.arange(binned.width)[None, :], binned.index], 0.0, 1.0)
    truth = float(binned.plugin(metric, binned.sums(moved[None]))[0])
    redrawn = binned.debiased(metric, _draws(binned, resamples, lambda r: rng.random((r, binned.n, binned.width)) < moved[None]))
    return np.asarray(redrawn - truth)


def calibration_inference(
    proba: Any,
    labels: Any,
    metric: BinnedMetric = "ece",
    n_bins: int = 15,
    *,
    binning: Binning = "equal-width",
    confidence: float = 0.95,
    resamples: int = 1000,
    rng: np.random.Generator,
) -> CalibrationInference:
    """Debiased estimate, interval and test of perfect calibration of a binned calibration error.

    Args:
        proba, labels: the model's probabilities ``(N, K)`` and the integer labels.
        metric: ``"ece"``, ``"mce"`` or ``"classwise_ece"``, with ``n_bins`` bins of ``binning``, as in
            :mod:`.metrics` (the plug-in value equals those functions').
        confidence: the two-sided level of the interval.
        resamples: label draws for each of the two resampled distributions.
        rng: the generator the draws come from.
    """
    proba, labels = _check(proba, labels)
    _check_bins(n_bins, binning)
    if metric not in BINNED_METRICS:
        raise ValueError(f"expected metric one of {BINNED_METRICS}, got {metric!r}")
    if not 0 < confidence < 1 or resamples < 2:
        raise ValueError(f"expected a confidence in (0, 1) and resamples >= 2, got {confidence} and {resamples}")
    columns, outcomes = _columns(proba, labels, metric)
    binned = _Binned(columns, n_bins, binning)
    return _inference(binned, columns, outcomes, metric, _null_labels(proba, columns, binned, metric, rng), confidence=confidence, resamples=resamples, rng=rng)


def binary_calibration_inference(
    scores: Any, outcomes: Any, n_bins: int = 15, *, binning: Binning = "equal-width", confidence: float = 0.95, resamples: int = 1000, rng: np.random.Generator
) -> CalibrationInference:
    """:func:`calibration_inference` of the ECE of binary events: each ``scores`` value in [0, 1] the predicted
    probability of its ``outcomes`` value being true, binned as it is (the plug-in value is torchmetrics'
    ``binary_calibration_error``, L1). Outcomes are redrawn independently of each other.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> scores = rng.uniform(0.1, 1.0, 500)
        >>> found = binary_calibration_inference(scores, rng.random(500) < scores, 10, rng=np.random.default_rng(1))
        >>> found.low, found.estimate < found.plugin
        (0.0, True)
    """
    columns, events = np.asarray(scores, np.float64).reshape(-1, 1), np.asarray(outcomes).reshape(-1, 1)
    if len(columns) == 0 or events.shape != columns.shape or not ((columns >= 0) & (columns <= 1)).all() or not np.isin(events, (0, 1)).all():
        raise InvalidArgument(f"Expected scores in [0, 1] and as many outcomes in {{0, 1}}, N >= 1, but got shapes {columns.shape} and {events.shape}")
    _check_bins(n_bins, binning)
    if not 0 < confidence < 1 or resamples < 2:
        raise ValueError(f"expected a confidence in (0, 1) and resamples >= 2, got {confidence} and {resamples}")
    binned = _Binned(columns, n_bins, binning)
    return _inference(binned, columns, events.astype(bool), "ece", _null_labels(columns, columns, binned, "ece", rng), confidence=confidence, resamples=resamples, rng=rng)


def _inference(
    binned: _Binned, columns: np.ndarray, outcomes: np.ndarray, metric: str, null_draw: Callable[[int], np.ndarray], *, confidence: float, resamples: int, rng: np.random.Generator
) -> CalibrationInference:
    """The estimate, interval and test of :func:`calibration_inference` from the binned columns and outcomes."""
    observed = binned.sums(outcomes[None])
    plugin = float(binned.plugin(metric, observed)[0])
    estimate = float(binned.debiased(metric, observed)[0])

    null_values = binned.plugin(metric, _draws(binned, resamples, null_draw))
    error = _estimate_error(binned, columns, observed, metric, resamples, rng)

    alpha = 1 - confidence
    low = estimate - tail_quantile(error, 1 - alpha / 2)
    # the high end from the plug-in value, which is biased up, and the spread alone: on the safe side
    high = plugin - tail_quantile(error - error.mean(), alpha / 2)
    null_quantile = tail_quantile(null_values, 1 - alpha / 2)
    if plugin <= null_quantile:  # perfect calibration is not rejected: the interval reaches 0
        low = 0.0
    low, high = min(max(0.0, low), estimate), min(1.0, max(high, estimate))
    return CalibrationInference(
        metric=metric,
        plugin=plugin,
        estimate=estimate,
        low=float(low),
        high=float(high),
        confidence=confidence,
        null_quantile=float(null_quantile),
        p_calibrated=float((1 + (null_values >= plugin).sum()) / (resamples + 1)),
        resamples=resamples,
    )
