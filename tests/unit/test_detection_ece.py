"""The detection ECE's interval resamples images: where the boxes of one image are correlated, the interval
that redraws every box on its own (the calibration family's consistency resampling) undercovers, and the
one that draws image-level noise (:mod:`pytest_mlguard.detection._ece`) does not by much."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlguard.calibration.inference import binary_calibration_inference
from pytest_mlguard.detection._ece import clustered_ece_inference, clustered_inference, image_bins

BINS = 15
CONFIDENCE = 0.9


def _images(rng: np.random.Generator, n: int, spread: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``n`` images of about 12 boxes, scores uniform in [0.3, 1]; a box is a true positive with probability
    ``0.8 * score + u``, ``u ~ N(0, spread)`` shared by the boxes of an image (its lighting, its clutter)."""
    sizes = rng.poisson(12, n) + 1
    scores = [rng.uniform(0.3, 1.0, size) for size in sizes]
    shifts = rng.normal(0.0, spread, n)
    return scores, [rng.random(len(s)) < np.clip(0.8 * s + u, 0, 1) for s, u in zip(scores, shifts)]


def _true_ece(spread: float) -> float:
    """The population's binned ECE: per bin, the mean probability of a true positive less the mean score."""
    rng = np.random.default_rng(123)
    scores = rng.uniform(0.3, 1.0, 1_000_000)
    chance = np.clip(0.8 * scores + rng.normal(0.0, spread, len(scores)), 0, 1)
    bins = np.minimum((scores * BINS).astype(int), BINS - 1)
    return float(np.abs(np.bincount(bins, chance, BINS) - np.bincount(bins, scores, BINS)).sum() / len(scores))


def _coverage(spread: float, repeats: int) -> tuple[float, float]:
    truth = _true_ece(spread)
    rng = np.random.default_rng(0)
    boxwise = imagewise = 0
    for repeat in range(repeats):
        scores, hits = _images(rng, 60, spread)
        old = binary_calibration_inference(np.concatenate(scores), np.concatenate(hits), BINS, confidence=CONFIDENCE, resamples=300, rng=np.random.default_rng(repeat))
        new = clustered_inference(image_bins(scores, hits, BINS), confidence=CONFIDENCE, resamples=300, rng=np.random.default_rng(repeat))
        boxwise += old.low <= truth <= old.high
        imagewise += new.low <= truth <= new.high
    return boxwise / repeats, imagewise / repeats


def test_with_boxes_correlated_within_an_image_the_boxwise_interval_undercovers_and_the_imagewise_one_does_not():
    boxwise, imagewise = _coverage(spread=0.3, repeats=150)
    assert boxwise < 0.8  # nominal 0.9: it sees the noise of 780 independent boxes, not of 60 images
    assert imagewise >= 0.84


def test_with_independent_boxes_both_cover():
    boxwise, imagewise = _coverage(spread=0.0, repeats=100)
    assert boxwise >= 0.82 and imagewise >= 0.82


def test_the_plugin_value_is_torchmetrics_detection_ece_and_the_estimate_lies_in_the_interval():
    from pytest_mlguard.detection._metrics import detection_ece

    rng = np.random.default_rng(4)
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0], [40.0, 0.0, 50.0, 10.0]], np.float32)
    targets = [{"boxes": boxes[: 1 + i % 3], "labels": np.ones(1 + i % 3, int)} for i in range(30)]
    predictions = [
        {"boxes": boxes + rng.normal(0, 3, boxes.shape).astype(np.float32), "labels": np.ones(3, int), "scores": rng.uniform(0.2, 1.0, 3).astype(np.float32)} for _ in range(30)
    ]
    found = clustered_ece_inference(predictions, targets, BINS, resamples=200, seed=0)
    assert found is not None and found.plugin == pytest.approx(detection_ece(predictions, targets, n_bins=BINS)[0], abs=1e-6)
    assert 0 <= found.low <= found.estimate <= found.high <= 1 and found.images == 30
    assert sum(found.reliability["count"]) == 90
    assert clustered_ece_inference(predictions[:1], targets[:1], BINS) is None  # one image: nothing to resample
