"""The inputs checks of a segmenter's and a detector's pipeline: graceful failure with the task's outputs
(a mask or per-pixel scores, one dict of boxes) and encoding equivalence with pixel- and box-level
agreement; each zoo pipeline fails exactly its check where the examples' services pass them all."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import zoo

from pytest_mlguard.checks.api import check_model
from pytest_mlguard.inputs.graceful import outcome_of

CHECKS = ["inputs[corrupt-files]", "inputs[odd-modes]", "inputs[same-content]"]
SETTINGS = {
    "inputs.max_examples": 15,
    "inputs.time_budget": 60,
    "inputs.same_content.samples": 4,
    "inputs.same_content.encodings": ["exif-6", "png-rgb16", "jpeg-progressive", "webp-lossless", "png-palette"],
}


def _boxes(labels, scores=None):
    n = len(labels)
    found = {"boxes": np.tile([[1.0, 2.0, 5.0, 6.0]], (n, 1)), "labels": np.array(labels, np.int64)}
    return found if scores is None else {**found, "scores": np.array(scores, np.float64)}


@pytest.mark.parametrize(
    ("task", "output", "expected"),
    [
        ("segmentation", np.full((4, 5, 6), 0.25), "prediction"),
        ("segmentation", np.zeros((1, 4, 5, 6), np.float32), "prediction"),
        ("segmentation", np.ones((5, 6), np.int64), "prediction"),
        ("segmentation", np.zeros((3, 5, 6)), "returned scores of 3 classes per pixel (shape (3, 5, 6)); expected 4"),
        ("segmentation", np.full((4, 5, 6), np.nan), "returned NaN or inf scores"),
        ("segmentation", np.full((5, 6), 4), "returned a mask with class 4, outside 0..3"),
        ("segmentation", np.zeros(4), "returned an array of shape (4,) and dtype float64: expected scores (4, H, W) or a mask (H, W) of class indices"),
        ("segmentation", "disc", "returned str, not per-pixel scores (K, H, W) or a mask (H, W)"),
        ("detection", _boxes([1, 2], [0.9, 0.2]), "prediction"),
        ("detection", [_boxes([], [])], "prediction"),
        ("detection", _boxes([1]), "returned a malformed detection: Expected a dict with 'boxes' (M, 4), 'labels' (M,) and 'scores' (M,) for image 0 but its dict lacks ['scores'] (keys: ['boxes', 'labels'])"),
        ("detection", _boxes([7], [0.9]), "returned label 7, outside 0..3"),
        ("detection", [_boxes([1], [0.9])] * 2, "returned list, not one dict {'boxes': (M, 4), 'labels': (M,), 'scores': (M,)}"),
    ],
)
def test_a_valid_output_of_the_task_or_what_is_wrong_with_it(task, output, expected):
    outcome = outcome_of(lambda raw: output, b"", rejects=(), n_classes=4, task=task)
    assert (outcome.kind if outcome.kind == "prediction" else outcome.detail) == expected
    if outcome.kind == "prediction":
        assert outcome.output is not None


def test_a_segmenter_pipeline_outcome_carries_its_mask():
    scores = np.zeros((4, 2, 3))
    scores[2, 0, 1] = 1.0
    assert outcome_of(lambda raw: scores, b"", rejects=(), n_classes=4, task="segmentation").output.tolist() == [[0, 2, 0], [0, 0, 0]]


def _failed(model, data, pipeline, task: str) -> list[str]:
    results = check_model(model, data, CHECKS, settings={"task": task, **SETTINGS}, pipeline=pipeline)
    assert [result.id for result in results] == CHECKS
    return [result.id for result in results if not result.passed]


@pytest.mark.slow  # about 20 s a pipeline on the shared 2-core machine: each starts an isolated worker
@pytest.mark.parametrize(
    ("make", "fails"),
    [(zoo.segmentation_pipeline, []), (zoo.ignores_exif_segmentation_pipeline, ["inputs[same-content]"])],
    ids=["good", "ignores-exif"],
)
def test_each_zoo_segmentation_pipeline_fails_exactly_its_inputs_check(make, fails, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the failing inputs are saved under the output directory
    model, data = zoo.segmentation_example()
    assert _failed(model, data.take(np.arange(8)), make(), "segmentation") == fails


@pytest.mark.slow  # about 20 s a pipeline on the shared 2-core machine: each starts an isolated worker
@pytest.mark.parametrize(
    ("make", "fails"),
    [("detection_pipeline", []), ("crashes_on_truncated_pipeline", ["inputs[corrupt-files]"])],
    ids=["good", "crashes-on-truncated"],
)
def test_each_zoo_detection_pipeline_fails_exactly_its_inputs_check(make, fails, tmp_path, monkeypatch):
    pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")
    import zoo_detection

    monkeypatch.chdir(tmp_path)
    assert _failed(zoo_detection.good_detector(), zoo_detection.scenes(8), getattr(zoo_detection, make)(), "detection") == fails


def test_the_detection_services_rejections_are_reported_without_memory_addresses(tmp_path, monkeypatch):
    """Pillow quotes the upload's BytesIO with its address in the service's rejections; the report names it
    without, so that two runs with one seed write the same report.json (a few seconds: in-process, 2 scenes)."""
    pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")
    import json
    import re

    import zoo_detection

    monkeypatch.chdir(tmp_path)
    fast = {"task": "detection", "inputs.max_examples": 1, "inputs.isolation": "none"}
    (result,) = check_model(zoo_detection.good_detector(), zoo_detection.scenes(2), ["inputs[corrupt-files]"], settings=fast, pipeline=zoo_detection.detection_pipeline())
    details = json.dumps(result.details)
    assert re.findall(r"\S*0x[0-9a-f]{6,}\S*", details) == []
    assert "cannot identify image file <_io.BytesIO object>" in details  # the type name stays
