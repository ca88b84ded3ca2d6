"""Calibration metrics as plain numpy functions over predicted probabilities and integer labels.

Every function takes ``proba`` of shape ``(N, K)`` (rows are probability vectors) and ``labels``
of shape ``(N,)`` in ``0 .. K-1``.

Binning conventions (the reliability diagram, ECE, MCE and class-wise ECE):

* ``"equal-width"``: bin ``i`` of ``n`` holds confidences in ``[i/n, (i+1)/n)``, and the last bin is
  closed, ``[(n-1)/n, 1]``, so a confidence of exactly 1.0 falls in the last bin. (torchmetrics puts
  exactly 1.0 in an extra bin of its own, so the two differ only when some confidence is exactly
  1.0.) Empty bins have count 0 and accuracy and confidence 0; they carry no weight in the ECE and
  never raise the MCE.
* ``"equal-mass"`` (adaptive binning, Nguyen & O'Connor 2015; Nixon et al. 2019): the samples sorted
  by confidence (stable sort) are split into ``min(n, N)`` consecutive groups whose sizes differ by
  at most one, so samples of equal confidence may fall in neighbouring bins. Edges lie halfway
  between neighbouring groups, with 0 and 1 at the ends.

Example:
    >>> proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4]])
    >>> labels = np.array([0, 1, 0])
    >>> round(expected_calibration_error(proba, labels, n_bins=10), 4)
    0.4
    >>> round(brier_score(proba, labels), 4)
    0.6533
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

import numpy as np

from ..errors import InvalidArgument

__all__ = [
    "BINNINGS",
    "NLL_EPS",
    "Binning",
    "brier_score",
    "classwise_calibration_error",
    "expected_calibration_error",
    "maximum_calibration_error",
    "negative_log_likelihood",
    "reliability_bins",
]

Binning = Literal["equal-width", "equal-mass"]
BINNINGS: tuple[str, ...] = ("equal-width", "equal-mass")
NLL_EPS = 1e-15


def _check(proba: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    proba = np.asarray(proba, dtype=np.float64)
    labels = np.asarray(labels)
    if proba.ndim != 2 or labels.ndim != 1 or len(proba) != len(labels) or len(labels) == 0:
        raise InvalidArgument(
            f"Expected proba of shape (N, K) and labels of shape (N,) with N >= 1 but got shapes "
            f"{proba.shape} and {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= proba.shape[1]:
        raise InvalidArgument(f"Expected integer labels in 0..{proba.shape[1] - 1} but got labels={labels!r}")
    return proba, labels


def _check_bins(n_bins: Any, binning: Any) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise InvalidArgument.expected("an int >= 1", "n_bins", n_bins)
    if binning not in BINNINGS:
        raise InvalidArgument.expected(f"one of {BINNINGS}", "binning", binning)


def _bin_index(confidence: np.ndarray, n_bins: int, binning: Binning) -> tuple[np.ndarray, np.ndarray]:
    """The bin of each confidence, and the bin edges."""
    if binning == "equal-width":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        index = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, n_bins - 1)
        return index, edges
    n_bins = min(n_bins, len(confidence))
    order = np.argsort(confidence, kind="stable")
    index = np.empty(len(confidence), dtype=np.int64)
    groups = np.array_split(order, n_bins)
    for i, group in enumerate(groups):
        index[group] = i
    inner = [(confidence[a[-1]] + confidence[b[0]]) / 2 for a, b in itertools.pairwise(groups)]
    return index, np.array([0.0, *inner, 1.0])


def _binned(confidence: np.ndarray, hits: np.ndarray, n_bins: int, binning: Binning) -> dict[str, np.ndarray]:
    """Count, mean of ``hits`` and mean confidence per bin."""
    index, edges = _bin_index(confidence, n_bins, binning)
    size = len(edges) - 1
    count = np.bincount(index, minlength=size).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.nan_to_num(np.bincount(index, weights=hits, minlength=size) / count)
        mean_conf = np.nan_to_num(np.bincount(index, weights=confidence, minlength=size) / count)
    return {"edges": edges, "count": count, "accuracy": accuracy, "confidence": mean_conf}


def _top_label(proba: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return proba.max(axis=1), (proba.argmax(axis=1) == labels).astype(np.float64)


def reliability_bins(
    proba: np.ndarray, labels: np.ndarray, n_bins: int = 15, *, binning: Binning = "equal-width"
) -> dict[str, Any]:
    """Per-bin data of a reliability diagram of top-1 confidence (see the module docstring for bins).

    Returns:
        JSON-safe ``binning``, ``edges`` (one more than the bins), and per bin ``count``,
        ``accuracy`` and ``confidence`` (0 for an empty bin).

    Example:
        >>> bins = reliability_bins(np.array([[1.0, 0.0], [0.55, 0.45]]), np.array([0, 1]), n_bins=2)
        >>> bins["count"], bins["accuracy"]
        ([0.0, 2.0], [0.0, 0.5])
    """
    proba, labels = _check(proba, labels)
    _check_bins(n_bins, binning)
    bins = _binned(*_top_label(proba, labels), n_bins, binning)
    return {"binning": binning, **{name: values.tolist() for name, values in bins.items()}}


def _gaps(bins: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return np.abs(bins["accuracy"] - bins["confidence"]), bins["count"]


def _top_label_gaps(proba: Any, labels: Any, n_bins: int, binning: Binning) -> tuple[np.ndarray, np.ndarray]:
    """``|accuracy - confidence|`` and the count of each top-1 confidence bin."""
    proba, labels = _check(proba, labels)
    _check_bins(n_bins, binning)
    return _gaps(_binned(*_top_label(proba, labels), n_bins, binning))


def expected_calibration_error(
    proba: np.ndarray, labels: np.ndarray, n_bins: int = 15, *, binning: Binning = "equal-width"
) -> float:
    """Expected calibration error (L1) of top-1 confidence (Guo et al., 2017).

    The mean over bins, weighted by the fraction of samples in each, of ``|accuracy - confidence|``.
    Other families call it on corrupted and adversarial predictions (calibration under shift), so
    its name and leading arguments stay stable.

    Example:
        >>> expected_calibration_error(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1]), n_bins=10)
        0.4
    """
    gap, count = _top_label_gaps(proba, labels, n_bins, binning)
    return float(np.round((gap * count).sum() / count.sum(), 12))


def maximum_calibration_error(
    proba: np.ndarray, labels: np.ndarray, n_bins: int = 15, *, binning: Binning = "equal-width"
) -> float:
    """Maximum calibration error: the largest ``|accuracy - confidence|`` over non-empty bins.

    Example:
        >>> maximum_calibration_error(np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1]), n_bins=10)
        0.6
    """
    gap, count = _top_label_gaps(proba, labels, n_bins, binning)
    return float(np.round(gap[count > 0].max(), 12))


def classwise_calibration_error(
    proba: np.ndarray, labels: np.ndarray, n_bins: int = 15, *, binning: Binning = "equal-width"
) -> float:
    """Class-wise ECE (Kull et al., 2019): the mean over classes ``k`` of the ECE of the
    probability of ``k``, over every sample, against whether the label is ``k``.

    Example:
        >>> classwise_calibration_error(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1]), n_bins=10)
        0.4
    """
    proba, labels = _check(proba, labels)
    _check_bins(n_bins, binning)
    errors = []
    for k in range(proba.shape[1]):
        gap, count = _gaps(_binned(proba[:, k], (labels == k).astype(np.float64), n_bins, binning))
        errors.append((gap * count).sum() / count.sum())
    return float(np.round(np.mean(errors), 12))


def brier_score(proba: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class Brier score: the mean over samples of ``sum_k (p_k - [y = k])^2``, in [0, 2].

    Example:
        >>> brier_score(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([0, 1]))
        0.25
    """
    proba, labels = _check(proba, labels)
    onehot = np.eye(proba.shape[1])[labels]
    return float(np.round(((proba - onehot) ** 2).sum(axis=1).mean(), 12))


def negative_log_likelihood(proba: np.ndarray, labels: np.ndarray, eps: float = NLL_EPS) -> float:
    """Mean negative log-likelihood of the labels (natural log); probabilities below ``eps`` count
    as ``eps``, so a zero probability on the label costs ``-log(eps)`` (34.5) instead of infinity.

    Example:
        >>> round(negative_log_likelihood(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([0, 0])), 4)
        0.3993
    """
    proba, labels = _check(proba, labels)
    picked = np.clip(proba[np.arange(len(labels)), labels], eps, 1.0)
    return float(np.round(-np.log(picked).mean(), 12))
