"""The agreement of two outputs of a segmenter (pixel-level) or a detector (box-level), per image."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlguard.production._agreement import agreements, box_agreements, mask_of, pixel_agreement, pixel_agreements


def _det(boxes, labels, scores):
    return {"boxes": np.asarray(boxes, np.float32).reshape(-1, 4), "labels": np.asarray(labels, np.int64), "scores": np.asarray(scores, np.float32)}


def test_pixel_agreement_counts_equal_argmax_pixels_without_the_ignored_ones():
    rng = np.random.default_rng(0)
    scores = rng.random((3, 4, 5, 6))
    other = scores.copy()
    other[0, :, 0, :] = other[0, ::-1, 0, :]  # a row of image 0 whose classes likely change
    expected_0 = float((scores[0].argmax(0) == other[0].argmax(0)).mean())
    found = pixel_agreements(scores, other)
    assert found[0] == pytest.approx(expected_0) and expected_0 < 1.0
    assert found[1:].tolist() == [1.0, 1.0]
    targets = np.zeros((3, 5, 6), np.int64)
    targets[0, 0, :] = 255
    assert pixel_agreements(scores, other, targets=targets, ignore_index=255).tolist() == [1.0, 1.0, 1.0]


def test_pixel_agreement_of_masks_of_other_sizes_and_of_every_pixel_ignored():
    assert pixel_agreement(np.zeros((2, 2), int), np.zeros((3, 3), int)) == 0.0
    ignored = np.full((2, 2), 7)
    assert pixel_agreement(np.zeros((2, 2), int), np.ones((2, 2), int), target=ignored, ignore_index=7) == 1.0
    assert mask_of(np.array([[[0.2]], [[0.8]]])).tolist() == [[1]]


def test_pixel_tolerance_forgives_a_tie_broken_by_rounding_only():
    first = np.array([[[0.5000001]], [[0.4999999]]])
    second = first[::-1]
    assert pixel_agreement(first, second) == 0.0
    assert pixel_agreement(first, second, tolerance=1e-5) == 1.0
    assert pixel_agreement(np.array([[[0.9]], [[0.1]]]), np.array([[[0.1]], [[0.9]]]), tolerance=1e-5) == 0.0


def test_box_agreement_matches_labels_at_iou_one_half_both_ways():
    a = _det([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 2], [0.9, 0.9])
    moved = _det([[3, 0, 13, 10], [20, 20, 30, 30]], [1, 2], [0.9, 0.9])  # IoU 7/13 > 0.5
    far = _det([[6, 0, 16, 10], [20, 20, 30, 30]], [1, 2], [0.9, 0.9])  # IoU 4/16 < 0.5
    relabelled = _det([[0, 0, 10, 10], [20, 20, 30, 30]], [3, 2], [0.9, 0.9])
    extra = _det([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], [1, 2, 1], [0.9, 0.9, 0.8])
    found = box_agreements([a, a, a, a, a], [a, moved, far, relabelled, extra])
    assert found.tolist() == [1.0, 1.0, 0.5, 0.5, pytest.approx(4 / 5)]
    low = _det([[40, 40, 50, 50]], [1], [0.3])  # below the score that counts
    assert box_agreements([_det([], [], [])], [low]).tolist() == [1.0]


def test_agreements_dispatch_on_the_task():
    assert agreements("segmentation", np.zeros((1, 2, 2), int), np.zeros((1, 2, 2), int)).tolist() == [1.0]
    det = _det([[0, 0, 10, 10]], [1], [0.9])
    assert agreements("detection", [det], [_det([], [], [])]).tolist() == [0.0]
    with pytest.raises(ValueError, match="classification"):
        agreements("classification", [], [])
