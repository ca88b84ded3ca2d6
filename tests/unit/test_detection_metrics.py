"""The detection metrics (mAP, true positives, detection ECE, bootstrap intervals, box agreement) and
the corruption of detection scenes, on hand-made boxes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pytest_mlguard.detection._corrupt import corrupt_images, performance_under_corruption
from pytest_mlguard.detection._metrics import box_agreement, detection_ece, mean_average_precision, true_positives
from pytest_mlguard.detection import _resample as resample
from pytest_mlguard.detection._resample import Matches, map_interval
from pytest_mlguard.errors import InvalidArgument

pytest.importorskip("pycocotools")


def _det(boxes: list[list[float]], labels: list[int], scores: list[float] | None = None) -> dict[str, np.ndarray]:
    out = {"boxes": np.asarray(boxes, np.float32).reshape(-1, 4), "labels": np.asarray(labels, np.int64)}
    if scores is not None:
        out["scores"] = np.asarray(scores, np.float32)
    return out


TARGET = _det([[0, 0, 10, 10], [20, 20, 40, 40]], [1, 2])

TRUE_POSITIVE_CASES = [
    # (prediction, expected true positives)
    (_det([[0, 0, 10, 10]], [1], [0.9]), [True]),
    (_det([[0, 0, 10, 10]], [2], [0.9]), [False]),  # right place, wrong label
    (_det([[5, 0, 15, 10]], [1], [0.9]), [False]),  # IoU 1/3 < 0.5
    (_det([[0, 0, 10, 10], [0, 0, 10, 9]], [1, 1], [0.5, 0.9]), [False, True]),  # a duplicate: the higher score matches
    (_det([[20, 20, 40, 40], [0, 0, 10, 10]], [2, 1], [0.1, 0.2]), [True, True]),
    (_det([], [], []), []),
]


@pytest.mark.parametrize(("prediction", "expected"), TRUE_POSITIVE_CASES)
def test_true_positives_match_greedily_by_score_within_a_label(prediction, expected):
    assert true_positives(prediction, TARGET).tolist() == expected


def test_map_is_one_for_perfect_boxes_and_falls_with_a_shifted_box():
    perfect = {**TARGET, "scores": np.array([0.9, 0.8], np.float32)}
    assert mean_average_precision([perfect], [TARGET]) == {"map": 1.0, "map_50": 1.0}
    shifted = {**perfect, "boxes": perfect["boxes"] + np.array([[3, 0, 3, 0], [0, 0, 0, 0]], np.float32)}
    found = mean_average_precision([shifted], [TARGET])
    assert found["map_50"] == 1.0  # IoU 7/13 still matches at 0.5
    assert found["map"] < 1.0  # but not at the stricter thresholds


MALFORMED = [
    # (predictions, targets, what the message says)
    ([], [TARGET], "one prediction per target"),
    ([{**TARGET, "scores": np.array([0.9], np.float32)}], [TARGET], r"Expected predictions\[0\] with one label and score per box .* scores of 1 values"),
    ([{**TARGET, "scores": np.array([0.9, 0.8])}], [{**TARGET, "labels": np.array([1])}], r"Expected targets\[0\] with one label per box .* labels of 1 values"),
    ([{**TARGET, "scores": np.array([0.9, 0.8])}], [{"boxes": np.zeros((1, 3)), "labels": np.array([1])}], r"targets\[0\] .* boxes of 3 values"),
    ([dict(TARGET)], [TARGET], r"Expected a dict with 'boxes', 'labels', 'scores' but got predictions\[0\]="),
    ([{**TARGET, "scores": np.array([0.9, 0.8])}], [np.zeros(4)], r"Expected a dict with 'boxes', 'labels' but got targets\[0\]="),
]


@pytest.mark.parametrize(("predictions", "targets", "message"), MALFORMED)
def test_map_rejects_predictions_and_targets_it_cannot_pair_naming_the_image(predictions, targets, message):
    with pytest.raises(InvalidArgument, match=message):
        mean_average_precision(predictions, targets)


def _ece_by_hand(scores: np.ndarray, hits: np.ndarray, n_bins: int) -> float:
    """ECE written out: equal-width bins over [0, 1], |mean hit - mean score| weighted by the bin's share."""
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (scores > low) & (scores <= high)
        if inside.any():
            total += inside.mean() * abs(hits[inside].mean() - scores[inside].mean())
    return total


def test_detection_ece_matches_an_independent_binning():
    rng = np.random.default_rng(0)
    predictions, targets, all_scores, all_hits = [], [], [], []
    for _ in range(40):
        boxes = rng.uniform(0, 50, (3, 2))
        target = _det(np.hstack([boxes, boxes + 10]).tolist(), [1, 1, 1])
        scores = rng.uniform(0.05, 1, 3)
        hit = rng.random(3) < scores**2  # overconfident: hits rarer than the scores say
        moved = target["boxes"] + np.where(hit, 0, 60)[:, None]  # misses are moved away
        predictions.append(_det(moved.tolist(), [1, 1, 1], scores.tolist()))
        targets.append(target)
        all_scores.append(scores)
        all_hits.append(true_positives(predictions[-1], target))
    scores, hits = np.concatenate(all_scores), np.concatenate(all_hits)
    ece, n = detection_ece(predictions, targets, n_bins=10)
    assert n == 120
    assert ece == pytest.approx(_ece_by_hand(scores, hits, 10), abs=1e-5)
    assert ece > 0.1


def test_map_interval_holds_the_value_and_narrows_with_more_images():
    rng = np.random.default_rng(1)

    def scenes(n: int) -> tuple[list, list]:
        targets = [_det([[10, 10, 30, 30]], [1]) for _ in range(n)]
        predictions = [_det([[10 + rng.integers(0, 8), 10, 30, 30]], [1], [0.9]) for _ in range(n)]
        return predictions, targets

    small, large = scenes(20), scenes(200)
    value = mean_average_precision(*small)["map"]
    low, high = map_interval(*small, resamples=50)
    assert low <= value <= high and low < high
    low_large, high_large = map_interval(*large, resamples=50)
    assert high_large - low_large < high - low


def test_box_agreement_counts_confident_boxes_matched_both_ways():
    a = [_det([[0, 0, 10, 10], [20, 20, 40, 40]], [1, 2], [0.9, 0.9])]
    assert box_agreement(a, a) == 1.0
    moved = [_det([[0, 0, 10, 10], [30, 30, 50, 50]], [1, 2], [0.9, 0.9])]
    assert box_agreement(a, moved) == 0.5
    quiet = [_det([[0, 0, 10, 10], [30, 30, 50, 50]], [1, 2], [0.9, 0.1])]  # the moved box is below 0.5
    assert box_agreement(a, quiet) == pytest.approx(2 / 3)


def test_corrupted_scenes_are_reproducible_and_a_subset_is_corrupted_as_in_the_whole():
    images = np.random.default_rng(2).random((4, 3, 24, 24)).astype(np.float32)
    once = np.stack(corrupt_images(images, "shot_noise", 2, seed=3))
    assert np.array_equal(once, np.stack(corrupt_images(images, "shot_noise", 2, seed=3)))
    assert not np.array_equal(once, np.stack(corrupt_images(images, "shot_noise", 2, seed=4)))
    assert np.array_equal(once[:2], np.stack(corrupt_images(list(images[:2]), "shot_noise", 2, seed=3)))
    assert not np.array_equal(once, images) and once.shape == images.shape


def test_mpc_is_the_mean_over_cells_and_rpc_its_ratio_to_clean():
    cells = {("fog", 1): 0.5, ("fog", 5): 0.1, ("jpeg_compression", 3): 0.3}
    assert performance_under_corruption(cells, clean=0.6) == {"mPC": pytest.approx(0.3), "rPC": pytest.approx(0.5)}
    assert performance_under_corruption({}, clean=0.6) == {"mPC": None, "rPC": None}
    assert performance_under_corruption(cells, clean=0.0)["rPC"] is None


def _random_scenes(rng: np.random.Generator, n: int) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    predictions, targets = [], []
    for _ in range(n):
        k = int(rng.integers(0, 4))
        corners = rng.uniform(0, 60, (k, 2))
        target = _det(np.hstack([corners, corners + rng.uniform(5, 30, (k, 2))]).tolist(), rng.integers(1, 4, k).tolist())
        jitter = target["boxes"] + rng.normal(0, 1, target["boxes"].shape)
        extra = rng.uniform(0, 60, (2, 2))
        boxes = np.vstack([jitter, np.hstack([extra, extra + 10])])
        labels = np.concatenate([np.where(rng.random(k) < 0.8, target["labels"], 3), rng.integers(1, 5, 2)])
        predictions.append(_det(boxes.tolist(), labels.tolist(), rng.uniform(0.05, 1, len(labels)).tolist()))
        targets.append(target)
    return predictions, targets


def test_a_resample_scores_its_repeated_images_as_copies_matched_on_their_own():
    # the bootstrap repeats each image's matches in place (Matches.average_precision) instead of matching
    # the resampled list again: both must give the same mAP, repeats and ties of a copy with itself included
    rng = np.random.default_rng(11)
    predictions, targets = _random_scenes(rng, 30)
    matches = Matches.of(predictions, targets)
    for _ in range(6):
        rows = rng.integers(0, 30, 30)  # some images twice or more, some left out
        copies = Matches.of([predictions[i] for i in rows], [targets[i] for i in rows])
        assert matches.average_precision(rows) == copies.average_precision(np.arange(30)), rows


def test_resampled_map_on_every_image_once_is_torchmetrics_map():
    predictions, targets = _random_scenes(np.random.default_rng(5), 30)
    expected = mean_average_precision(predictions, targets)
    found = Matches.of(predictions, targets).average_precision(np.arange(30))
    assert 0.1 < expected["map"] < 0.9
    assert found == pytest.approx(expected, abs=1e-6)


def test_a_resample_scores_as_torchmetrics_scores_its_images_listed_with_the_copies():
    # torchmetrics numbers the images it is given, so a resampled list is a dataset whose copies are distinct
    # images; its recall and IoU thresholds are COCO's as float32 numbers (torch.linspace), which move a
    # recall that lands on a threshold, k / positives = j / 100, to one side of it (here up to 0.0008 of mAP)
    rng = np.random.default_rng(11)
    predictions, targets = _random_scenes(rng, 30)
    matches = Matches.of(predictions, targets)
    draws = rng.integers(0, 30, (4, 30))
    found = matches.average_precisions(draws)
    for i, rows in enumerate(draws):
        expected = mean_average_precision([predictions[j] for j in rows], [targets[j] for j in rows])
        assert (found["map"][i], found["map_50"][i]) == pytest.approx((expected["map"], expected["map_50"]), abs=2e-6), rows


def test_the_resamples_use_torchmetrics_thresholds():
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(iou_type="bbox", backend="pycocotools")
    iou, recall = resample.thresholds()
    assert iou.tolist() == metric.iou_thresholds and recall.tolist() == metric.rec_thresholds
    assert recall.tolist() != np.linspace(0, 1, 101).tolist()  # not pycocotools' own float64 grid


def _matched_on_its_own(prediction, target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's kept scores, labels and hits (thresholds x detections) as 945ef23 matched them, an image at
    a time: each label's detections by a stable sort of their scores, the IoUs from torchvision's box_iou."""
    import torch
    from torchvision.ops import box_iou

    scores, labels = np.asarray(prediction["scores"], np.float64).reshape(-1), np.asarray(prediction["labels"]).reshape(-1)
    target_labels = np.asarray(target["labels"]).reshape(-1)
    kept = np.array([i for label in np.unique(labels) for i in np.flatnonzero(labels == label)[np.argsort(-scores[labels == label], kind="mergesort")][: resample.MAX_DETECTIONS]], int)
    limits = np.minimum(resample.thresholds()[0], 1 - 1e-10)
    hits = np.zeros((len(limits), len(kept)), bool)
    if len(kept) and len(target_labels):
        boxes, target_boxes = torch.from_numpy(np.asarray(prediction["boxes"], np.float32).reshape(-1, 4)[kept]), torch.from_numpy(np.asarray(target["boxes"], np.float32).reshape(-1, 4))
        overlaps = box_iou(boxes, target_boxes).double().numpy()
        overlaps[labels[kept][:, None] != target_labels[None, :]] = -1.0
        for threshold, limit in enumerate(limits):
            free = np.ones(len(target_labels), bool)
            for row in range(len(kept)):
                candidates = np.where(free, overlaps[row], -1.0)
                if not np.isnan(overlaps[row]).any() and candidates.max() >= limit:
                    hits[threshold, row], free[candidates.argmax()] = True, False
    return scores[kept], labels[kept], hits


@pytest.mark.parametrize("chunk", [1 << 21, 40], ids=["one-chunk", "chunks-of-images"])
def test_every_image_matched_at_once_equals_each_matched_on_its_own(monkeypatch, chunk):
    # ties of scores (rounded to tenths) and of IoUs (the last image), more than 100 detections of a label
    # in an image (pycocotools keeps its best 100), images without targets or without detections, labels
    # without targets, an empty box (NaN IoU: matches nothing); in one step or in chunks of images
    monkeypatch.setattr(resample, "CHUNK", chunk)
    rng = np.random.default_rng(31)
    predictions, targets = _random_scenes(rng, 40)
    predictions = [{**p, "scores": np.round(p["scores"], 1)} if i % 7 else _det([], [], []) for i, p in enumerate(predictions)]
    crowded = _det(np.tile(targets[3]["boxes"][:1], (130, 1)).tolist(), [int(targets[3]["labels"][0])] * 130, np.round(rng.uniform(0, 1, 130), 1).tolist())
    predictions[3] = {key: np.concatenate([predictions[3][key], crowded[key]]) for key in crowded}
    # a detection as close to two targets (IoU 2/3 each) takes the first, and the next one, on the first, misses
    predictions.append(_det([[2, 0, 12, 10], [0, 0, 10, 10]], [1, 1], [0.9, 0.8]))
    targets.append(_det([[0, 0, 10, 10], [4, 0, 14, 10]], [1, 1]))
    predictions[9] = {**predictions[9], "boxes": np.vstack([predictions[9]["boxes"][:-1], [[5, 5, 5, 5]]]).astype(np.float32)}
    matches = Matches.of(predictions, targets)
    reference = [_matched_on_its_own(p, t) for p, t in zip(predictions, targets)]
    assert matches.image.tolist() == [i for i, (scores, _, _) in enumerate(reference) for _ in scores]
    assert matches.scores.tolist() == [score for scores, _, _ in reference for score in scores.tolist()]
    assert matches.labels.tolist() == [label for _, labels, _ in reference for label in labels.tolist()]
    assert np.array_equal(matches.hits, np.concatenate([hits for _, _, hits in reference], axis=1))
    assert matches.hits[:, matches.image == 40][0].tolist() == [True, False]
    crowded_label = crowded["labels"][0]
    assert 0.1 < matches.hits[0].mean() < 0.9 and (matches.image == 3).sum() == 100 + (predictions[3]["labels"] != crowded_label).sum()
    assert {label: counts.tolist() for label, counts in matches.target_counts.items()} == {
        label: [int((t["labels"] == label).sum()) for t in targets] for label in np.unique(np.concatenate([t["labels"] for t in targets])).tolist()
    }


def _repeated_in_place(matches: Matches, images: np.ndarray) -> tuple[float, float]:
    """One resample's unrounded mAP and mAP@0.5 as 0ec6f7b accumulated it: each label's ranked detections
    repeated in place as often as their image was drawn, one precision/recall curve a resample."""
    weights = np.bincount(images, minlength=matches.n_images)
    per_label = []
    for label, counts in matches.target_counts.items():
        positives = int((counts * weights).sum())
        if positives == 0:
            continue
        rows = np.repeat(matches._ranked[label], weights[matches.image[matches._ranked[label]]])
        hits = matches.hits[:, rows]
        if not len(rows):
            per_label.append(np.zeros(len(hits)))
            continue
        true = np.cumsum(hits, axis=1)
        precision = np.maximum.accumulate((true / np.maximum(true + np.cumsum(~hits, axis=1), np.finfo(np.float64).eps))[:, ::-1], axis=1)[:, ::-1]
        at = np.stack([np.searchsorted(row, resample.thresholds()[1], side="left") for row in true / positives])
        found = np.take_along_axis(precision, np.minimum(at, len(rows) - 1), axis=1)
        per_label.append(np.where(at < len(rows), found, 0.0).mean(axis=1))
    table = np.asarray(per_label)
    return (float(table.mean()), float(table[:, 0].mean())) if per_label else (-1.0, -1.0)


@pytest.mark.parametrize(("chunk", "slice_"), [(1 << 21, 0), (7, 1 << 30)], ids=["one-chunk-sliced", "chunk-a-resample"])
def test_all_resamples_accumulated_at_once_equal_each_repeated_in_place(monkeypatch, chunk, slice_):
    # a resample's curves as one weighted cumulative sum over the ranked detections, every resample at once
    # (in chunks of resamples: 7 values a chunk makes one resample a chunk; running sums slice by slice or
    # numpy's), against one repeated curve each: images drawn twice or more or not at all, scores tied across
    # images (rounded to tenths), images without targets or without detections, a label without targets (4)
    monkeypatch.setattr(resample, "CHUNK", chunk)
    monkeypatch.setattr(resample, "SLICE", slice_)
    rng = np.random.default_rng(23)
    predictions, targets = _random_scenes(rng, 40)
    predictions = [{**p, "scores": np.round(p["scores"], 1)} if i % 7 else _det([], [], []) for i, p in enumerate(predictions)]
    matches = Matches.of(predictions, targets)
    empty = next(i for i, target in enumerate(targets) if not len(target["labels"]))
    draws = np.vstack([rng.integers(0, 40, (60, 40)), np.repeat(np.arange(0, 40, 7), 7)[:40][None], np.full((1, 40), empty)])
    found = matches._unrounded(draws)
    expected = np.array([_repeated_in_place(matches, row) for row in draws])
    assert (expected[:, 0] > 0).sum() > 50 and (expected == -1.0).any()  # mostly scored, the last draw has no targets
    assert np.abs(found["map"] - expected[:, 0]).max() < 1e-12 and np.abs(found["map_50"] - expected[:, 1]).max() < 1e-12
    rounded = matches.average_precisions(draws)
    assert rounded["map"].tolist() == [round(value, 6) for value in expected[:, 0]]


def test_each_count_of_true_positives_reaches_cocos_recall_thresholds_of_its_resamples_positives():
    # the accumulation credits each true positive with the recall thresholds its count k newly reaches: those
    # with k / positives >= threshold (pycocotools' searchsorted of its recall on torchmetrics' thresholds),
    # worked out once for each count of positives (3 and 7 twice) and read by each resample's row
    positives = np.array([3, 1, 7, 3, 101, 250, 7, 100])
    reached = resample._recall_thresholds_reached(positives)
    recall_thresholds = resample.thresholds()[1]
    expected = [[np.searchsorted(recall_thresholds, k / total, side="right") for k in range(251)] for total in positives.tolist()]
    assert reached.shape == (8, 251) and reached.tolist() == expected
    assert reached[:, 0].tolist() == [1] * 8 and reached[1, 1] == reached[4, 101] == len(recall_thresholds)


def _scored_detector(n_images: int, score_of, seed: int):
    """A callable detector and its data: two boxes an image, ``score_of(rng, (n_images, 2))`` giving each box's
    score and its probability of being a true positive (on a target box of its label; else on empty ground)."""
    from pytest_mlguard.contract import CallableDetectionModel, DetectionData

    rng = np.random.default_rng(seed)
    scores, truth = score_of(rng, (n_images, 2))
    hits = rng.random((n_images, 2)) < truth
    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    targets = [_det(boxes[hit].tolist(), [1] * int(hit.sum())) for hit in hits]
    empty_ground = boxes + np.array([40, 0, 40, 0], np.float32)
    predictions = [
        {"boxes": np.where(hit[:, None], boxes, empty_ground).astype(np.float32), "labels": np.ones(2, np.int64), "scores": score.astype(np.float32)}
        for score, hit in zip(scores, hits)
    ]
    images = [np.full((3, 80, 80), i / 255, np.float32) for i in range(n_images)]  # the detector reads the image's index off it
    model = CallableDetectionModel(lambda batch: [predictions[round(float(image[0, 0, 0]) * 255)] for image in batch], class_names=["background", "box"], name="scored")
    return model, DetectionData(images, targets)


def _ece_result(model, data):
    from pytest_mlguard.checks.api import check_model

    (result,) = check_model(model, data, ["calibration[ece]"], settings={"task": "detection", "verdict.bootstrap": 400})
    return result


def test_detection_ece_interval_reaches_zero_for_a_calibrated_detector_and_holds_a_miscalibrated_ones_truth():
    """Scores drawn in [0.1, 1], each box a true positive with probability its score: the true ECE is 0, and the
    plug-in ECE of 200 boxes is biased up by its bins' noise, as is a percentile bootstrap around it; the
    debiased estimate's interval reaches 0. Scores of 0.9 with true positives half the time: ECE 0.4."""
    calibrated = _ece_result(*_scored_detector(100, lambda rng, size: [rng.uniform(0.1, 1.0, size)] * 2, seed=3))
    assert calibrated.interval is not None and calibrated.interval[0] == 0.0
    assert calibrated.value < calibrated.details["plugin"] == pytest.approx(calibrated.details["inference"]["plugin"], abs=1e-6)  # torchmetrics' binning
    overconfident = _ece_result(*_scored_detector(100, lambda rng, size: (np.full(size, 0.9), np.full(size, 0.5)), seed=3))
    assert overconfident.interval is not None and overconfident.interval[0] > 0.2 and overconfident.interval[0] <= 0.4 <= overconfident.interval[1]
    assert not overconfident.passed


def test_binary_calibration_inference_plugin_is_torchmetrics_and_bad_inputs_are_rejected():
    import torch
    from torchmetrics.functional.classification import binary_calibration_error

    from pytest_mlguard.calibration.inference import binary_calibration_inference

    rng = np.random.default_rng(0)
    scores = rng.uniform(0.0, 1.0, 300).astype(np.float32)
    outcomes = rng.random(300) < scores**2  # overconfident
    found = binary_calibration_inference(scores, outcomes, 10, resamples=50, rng=np.random.default_rng(1))
    expected = float(binary_calibration_error(torch.from_numpy(scores), torch.from_numpy(outcomes.astype(np.int64)), n_bins=10, norm="l1"))
    assert found.plugin == pytest.approx(expected, abs=1e-6) and found.low > 0
    for bad_scores, bad_outcomes in [(scores, outcomes[:-1]), (scores + 1, outcomes), (scores, outcomes * 2), (scores[:0], outcomes[:0])]:
        with pytest.raises(InvalidArgument, match="Expected scores in"):
            binary_calibration_inference(bad_scores, bad_outcomes, 10, resamples=50, rng=np.random.default_rng(1))


def test_detection_ece_without_intervals_is_the_debiased_estimate_alone():
    from pytest_mlguard.checks.api import check_model

    model, data = _scored_detector(40, lambda rng, size: [rng.uniform(0.1, 1.0, size)] * 2, seed=3)
    (result,) = check_model(model, data, ["calibration[ece]"], settings={"task": "detection", "verdict.bootstrap": 0})
    with_intervals = check_model(model, data, ["calibration[ece]"], settings={"task": "detection", "verdict.bootstrap": 100})[0]
    assert result.interval is None and result.details["boxes"] == 80
    assert result.value == pytest.approx(with_intervals.value, abs=1e-6) and result.value < result.details["plugin"]


def test_detection_ece_defaults_to_the_checks_bins():
    """It binned in 10 where calibration[ece] bins in calibration.bins (15): docs/detection.md's "Without pytest"
    block gave 0.1106 where the check reported the plug-in 0.1143 on the same boxes."""
    import inspect

    from pytest_mlguard.checks._registry import all_keys
    from pytest_mlguard.config import resolve

    default = resolve(keys=all_keys(), environ={}, cli={}).get("calibration.bins")
    assert inspect.signature(detection_ece).parameters["n_bins"].default == default == 15
