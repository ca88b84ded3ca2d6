"""The detection ECE's estimate and interval by resampling images (clusters), not boxes.

The boxes of one image share its lighting, clutter and scale: whether they are true positives is
correlated within an image, so a resampling that redraws every box's outcome on its own (the calibration
family's consistency resampling, :func:`~pytest_mlguard.calibration.inference.binary_calibration_inference`)
sees less noise than there is, and its interval is too narrow. Here each image's boxes are binned once
(per bin: count, summed score, summed true positives, torchmetrics' ``binary_calibration_error`` binning),
a bootstrap resample of images is a weighted sum of those rows, and:

* the estimate is the plug-in ECE less the bootstrap's estimate of its bias,
  ``2 * plugin - mean(resampled plug-in)``, at least 0 (the plug-in ECE is biased up by every bin's noise,
  which the resamples of images carry with its within-image correlation);
* the interval is the estimate less the quantiles of the resampled plug-in values around their mean
  (a basic bootstrap), clipped to [0, 1].

Example:
    >>> rng = np.random.default_rng(0)
    >>> binned = image_bins([rng.uniform(0.2, 1, 5) for _ in range(40)], [rng.random(5) < 0.6 for _ in range(40)], 10)
    >>> found = clustered_inference(binned, resamples=200, rng=np.random.default_rng(1))
    >>> 0 <= found.low <= found.estimate <= found.high <= found.plugin + 1
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._metrics import Detections, scores_and_hits


@dataclass(frozen=True)
class ClusteredEce:
    """The plug-in ECE, its bootstrap-debiased ``estimate`` and the interval ``low``, ``high`` at ``confidence``."""

    plugin: float
    estimate: float
    low: float
    high: float
    confidence: float
    resamples: int
    images: int
    reliability: dict[str, Any]

    def details(self) -> dict[str, Any]:
        """JSON-safe, for a check's details."""
        return {
            "method": "bootstrap over images (clusters of boxes): plug-in less its bootstrap bias, basic interval",
            "plugin": round(self.plugin, 12),
            "debiased": round(self.estimate, 12),
            "resamples": self.resamples,
            "images": self.images,
        }


def image_bins(scores: Sequence[np.ndarray], hits: Sequence[np.ndarray], n_bins: int = 15) -> np.ndarray:
    """Per image and score bin, the boxes' count, summed score and true positives: ``(N, 3, n_bins)``,
    binned as torchmetrics bins (``bucketize(score, linspace(0, 1, n_bins + 1), right=True) - 1``)."""
    import torch

    edges = torch.linspace(0, 1, n_bins + 1)
    out = np.zeros((len(scores), 3, n_bins))
    for i, (score, hit) in enumerate(zip(scores, hits)):
        score = np.asarray(score, np.float32).reshape(-1)
        index = (torch.bucketize(torch.from_numpy(score), edges, right=True) - 1).clamp(0, n_bins - 1).numpy()
        for row, weights in enumerate((np.ones(len(score)), score.astype(np.float64), np.asarray(hit, np.float64).reshape(-1))):
            out[i, row] = np.bincount(index, weights=weights, minlength=n_bins)
    return out


def _ece(gaps: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The L1 ECE of per-bin gaps ``(..., bins)`` (true positives less scores, per box) weighted by ``count``."""
    return (np.abs(gaps) * count).sum(axis=-1) / max(float(count.sum()), 1.0)


def _debiased_gaps(gaps: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Kumar et al.'s (2019) debiased ``|gap|`` of each bin: ``2 |gap| - E|N(gap, spread^2)|``, which may be negative."""
    from ..calibration.inference import _folded_mean

    return 2 * np.abs(gaps) - _folded_mean(gaps, np.broadcast_to(spread, gaps.shape))


def _debiased(gaps: np.ndarray, count: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """The debiased ECE: the bins' debiased ``|gap|`` weighted by ``count``, at least 0."""
    return np.maximum(0.0, (_debiased_gaps(gaps, spread) * count).sum(axis=-1) / max(float(count.sum()), 1.0))


def _reliability(summed: np.ndarray) -> dict[str, Any]:
    count, score, hit = summed
    safe = np.maximum(count, 1.0)
    edges = np.linspace(0, 1, summed.shape[1] + 1).tolist()
    return {"binning": "equal-width", "edges": edges, "count": count.tolist(), "accuracy": (hit / safe).tolist(), "confidence": (score / safe).tolist()}


def _gaps(binned: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The summed bins, each bin's gap, each image's part of it less the bin's mean, and its cluster-robust spread."""
    total = binned.sum(axis=0)
    safe = np.maximum(total[0], 1.0)
    gap = (total[2] - total[1]) / safe
    noise = binned[:, 2] - binned[:, 1] - binned[:, 0] * gap[None, :]  # each image's part of each bin's gap, less the bin's mean
    return total, gap, noise, np.sqrt((noise**2).sum(axis=0)) / safe


def debiased_ece(binned: np.ndarray) -> float:
    """The debiased ECE of the images' binned boxes (:func:`image_bins`) alone, without resampling: each bin's
    ``|gap|`` less the bias its cluster-robust noise adds (Kumar et al. 2019)."""
    total, gap, _, spread = _gaps(binned)
    return float(_debiased(gap, total[0], spread))


def clustered_inference(binned: np.ndarray, *, confidence: float = 0.95, resamples: int = 1000, rng: np.random.Generator) -> ClusteredEce:
    """The estimate and interval of the ECE of the images' binned boxes ``binned`` (:func:`image_bins`),
    from ``resamples`` draws of image-level noise."""
    from ..calibration.inference import tail_quantile

    n = len(binned)
    if n < 2 or resamples < 2 or not 0 < confidence < 1:
        raise ValueError(f"expected at least two images, resamples >= 2 and a confidence in (0, 1), got {n}, {resamples} and {confidence}")
    total, gap, noise, spread = _gaps(binned)
    count, safe = total[0], np.maximum(total[0], 1.0)
    draws = np.concatenate([rng.standard_normal((min(4096, resamples - start), n)) @ noise / safe for start in range(0, resamples, 4096)])
    plugin, estimate = float(_ece(gap, count)), float(_debiased(gap, count, spread))
    null = _ece(draws, count)  # perfect calibration: no gap, the images' noise
    shrunk = np.sign(gap) * np.maximum(0.0, _debiased_gaps(gap, spread))  # the model the estimate's error is drawn around
    error = _debiased(shrunk + draws, count, spread) - float(_ece(shrunk, count))
    alpha = 1 - confidence
    low = estimate - tail_quantile(error, 1 - alpha / 2)
    high = plugin - tail_quantile(error - error.mean(), alpha / 2)
    if plugin <= tail_quantile(null, 1 - alpha / 2):  # perfect calibration is not rejected: the interval reaches 0
        low = 0.0
    low, high = min(max(0.0, low), estimate), min(1.0, max(high, estimate))
    return ClusteredEce(plugin, estimate, float(low), float(high), confidence, resamples, n, _reliability(total))


def clustered_ece_inference(
    predictions: Sequence[Detections], targets: Sequence[Detections], n_bins: int = 15, *, resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> ClusteredEce | None:
    """:func:`clustered_inference` of the detection ECE (scores against true positives at IoU 0.5) of
    ``predictions``; ``None`` with fewer than two boxes or two images."""
    scores, hits = scores_and_hits(predictions, targets)
    if sum(len(s) for s in scores) < 2 or len(scores) < 2:
        return None
    return clustered_inference(image_bins(scores, hits, n_bins), confidence=confidence, resamples=resamples, rng=np.random.default_rng(seed))
