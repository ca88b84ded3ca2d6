"""The determinism and drift checks of a segmenter and a detector: pixel- and box-level agreement; each zoo
model fails exactly its check where the examples' models pass them all (run through ``check_model``)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import zoo

from pytest_mlguard.checks.api import check_model

CHECKS = ["determinism[repeat]", "determinism[batch]", "determinism[threads]", "drift[bfloat16]", "drift[threads]"]


def _failed(model, data, task: str, checks=CHECKS, **settings) -> list[str]:
    results = check_model(model, data, checks, settings={"task": task, "determinism.threads": 4, **settings})
    assert [result.id for result in results] == checks
    return [result.id for result in results if not result.passed]


@pytest.mark.parametrize(
    ("make", "fails"),
    [
        (lambda: zoo.segmentation_example()[0], []),
        (zoo.batch_dependent_segmenter, ["determinism[batch]"]),
        (zoo.bfloat16_fragile_segmenter, ["drift[bfloat16]"]),
    ],
    ids=["good", "batch-dependent", "bfloat16-fragile"],
)
def test_each_zoo_segmenter_fails_exactly_its_production_check(make, fails):
    data = zoo.segmentation_example()[1].take(np.arange(24))
    assert _failed(make(), data, "segmentation") == fails


def test_segmentation_drift_of_exported_variants_is_pixel_level():
    model, data = zoo.segmentation_example()
    results = check_model(model, data.take(np.arange(8)), ["drift[torchscript]", "drift[export]"], settings={"task": "segmentation"})
    assert [(r.value, r.details["agreement_of"]) for r in results] == [(1.0, "pixels"), (1.0, "pixels")]


@pytest.mark.slow  # about a minute a detector on the shared 2-core machine
@pytest.mark.parametrize(
    ("make", "checks", "fails"),
    [
        ("good_detector", [*CHECKS[:3], "drift[threads]", "drift[torchscript]", "drift[int8]"], []),
        ("batch_moving_detector", [*CHECKS[:3], "drift[threads]", "drift[int8]"], ["determinism[batch]"]),
    ],
    ids=["good", "moves-in-batches"],
)
def test_each_zoo_detector_fails_exactly_its_production_check(make, checks, fails):
    pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")
    import zoo_detection

    # bfloat16 moves a few confident boxes of the example's detector (box-level agreement 0.98 on 24 scenes)
    assert _failed(getattr(zoo_detection, make)(), zoo_detection.scenes(24), "detection", checks, **{"drift.floor": 0.95}) == fails


def test_detection_drift_torchscript_runs_the_scripted_torchvision_detector_without_its_scripting_warning():
    """torchvision warns that a scripted RCNN returns (losses, detections), which the check reads as it expects:
    no warning reaches the run (a few seconds: 2 scenes)."""
    pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")
    import warnings

    import zoo_detection

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (result,) = check_model(zoo_detection.good_detector(), zoo_detection.scenes(2), ["drift[torchscript]"], settings={"task": "detection"})
    assert [str(w.message) for w in caught if "script" in str(w.message).lower()] == []
    assert result.passed and result.details["agreement_of"] == "boxes"


def test_detection_drift_in_bfloat16_reads_a_detector_whose_boxes_come_out_in_bfloat16():
    import torch

    from pytest_mlguard.contract import DetectionData, TorchDetectionModel

    class Linear(torch.nn.Module):  # under autocast, its boxes and scores are bfloat16 tensors
        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Linear(3, 4)
            torch.nn.init.constant_(self.head.weight, 1.0)

        def forward(self, images):
            boxes = [torch.cumsum(self.head(image.mean(dim=(1, 2))[None]).abs(), dim=1) for image in images]
            return [{"boxes": box, "labels": torch.ones(1, dtype=torch.int64), "scores": torch.sigmoid(box[:, 0])} for box in boxes]

    targets = [{"boxes": np.array([[0.0, 0.0, 2.0, 2.0]]), "labels": np.array([1])}] * 4
    data = DetectionData([np.full((3, 4, 4), v, np.float32) for v in (0.1, 0.2, 0.3, 0.4)], targets)
    result = check_model(TorchDetectionModel(Linear(), n_classes=2), data, ["drift[bfloat16]"], settings={"task": "detection"})[0]
    assert result.details["agreement_of"] == "boxes" and result.value == 1.0 and result.n == 4


GATE = ["gate[agreement]", "gate[accuracy]"]
GATED = {"gate.checks": ["agreement", "accuracy"]}  # gate[robustness] gated too reruns every planned check on both


def test_segmentation_gate_compares_pixels_and_each_class_iou(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the disagreements are saved under the output directory
    baseline, data = zoo.segmentation_example()
    data = data.take(np.arange(24))
    same = check_model(zoo.segmentation_example()[0], data, GATE, settings={"task": "segmentation", **GATED}, extras={"baseline_model": baseline})
    assert [(r.passed, r.details["rollback"]["indicated"]) for r in same] == [(True, False), (True, False)]
    lost = check_model(zoo.never_triangles_segmenter(), data, GATE, settings={"task": "segmentation", **GATED}, extras={"baseline_model": baseline})
    assert [r.passed for r in lost] == [True, False]  # the triangles' pixels are few: the pixel-level agreement stays above 0.9
    assert lost[1].details["per_class"]["triangle"]["candidate"] == 0.0 and lost[0].details["rollback"]["indicated"]


ROBUSTNESS = {"task": "segmentation", "corruption.corruptions": ["gaussian_noise", "defocus_blur"], "corruption.severities": [3], "gate.compare": ["accuracy", "corruption"]}


def test_segmentation_gate_robustness_reruns_the_task_checks_and_fails_a_candidate_that_collapses_under_noise(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    baseline, data = zoo.segmentation_example()
    data, checks = data.take(np.arange(16)), [*GATE, "gate[robustness]"]
    same = check_model(zoo.segmentation_example()[0], data, checks, settings=ROBUSTNESS, extras={"baseline_model": baseline})
    assert [r.passed for r in same] == [True, True, True] and same[2].value == 0.0
    # the same clean masks as the baseline (agreement 1, no class drop), until the images are noisy
    collapsed = check_model(zoo.noise_collapsing_segmenter(), data, checks, settings=ROBUSTNESS, extras={"baseline_model": baseline})
    assert [r.passed for r in collapsed] == [True, True, False] and collapsed[0].value == 1.0
    rows = {row["id"]: row for row in collapsed[2].details["metrics"]}
    assert set(rows) == {"accuracy", "corruption[gaussian_noise-3]", "corruption[defocus_blur-3]"}
    assert [rows[i]["decision"] for i in sorted(rows)] == ["within", "within", "regressed"]
    noise = rows["corruption[gaussian_noise-3]"]
    assert noise["metric"] == "miou" and noise["candidate"] < 0.3 < noise["baseline"] and noise["paired_n"] == 16
    assert noise["interval"][1] < -noise["tolerance"] and rows["accuracy"]["interval"] == [0.0, 0.0]  # the same images: paired
    assert all(r.details["rollback"]["indicated"] for r in collapsed)


@pytest.mark.slow  # about a minute on the shared 2-core machine
def test_detection_gate_compares_boxes_and_each_class_ap(tmp_path, monkeypatch):
    pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")
    import zoo_detection

    monkeypatch.chdir(tmp_path)
    scenes, baseline = zoo_detection.scenes(24), zoo_detection.good_detector()
    same = check_model(zoo_detection.good_detector(), scenes, GATE, settings={"task": "detection", **GATED}, extras={"baseline_model": baseline})
    moved = check_model(zoo_detection.batch_moving_detector(), scenes, GATE, settings={"task": "detection", **GATED}, extras={"baseline_model": baseline})
    assert [r.passed for r in same] == [True, True] and [r.passed for r in moved] == [False, False]
    assert moved[0].details["agreement_of"] == "boxes" and moved[1].details["class_metric"] == "ap"


@pytest.mark.slow  # about a minute on the shared 2-core machine
def test_detection_gate_robustness_pairs_the_map_of_the_same_scenes_and_fails_a_candidate_shifted_by_jpeg(tmp_path, monkeypatch):
    pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")
    import zoo_detection

    monkeypatch.chdir(tmp_path)
    settings = {**ROBUSTNESS, "task": "detection", "corruption.corruptions": ["jpeg_compression", "defocus_blur"]}
    extras = {"baseline_model": zoo_detection.good_detector()}
    shifted = check_model(zoo_detection.jpeg_shifted_detector(), zoo_detection.scenes(24), [*GATE, "gate[robustness]"], settings=settings, extras=extras)
    assert [r.passed for r in shifted] == [True, True, False]  # the same boxes as the baseline's on clean scenes
    rows = {row["id"]: row for row in shifted[2].details["metrics"]}
    assert {i for i, row in rows.items() if row["decision"] == "regressed"} == {"corruption[jpeg_compression-3]"}
    jpeg = rows["corruption[jpeg_compression-3]"]
    assert jpeg["metric"] == "map" and jpeg["paired_n"] == 24 and jpeg["interval"][1] < -jpeg["tolerance"]
    assert rows["corruption[defocus_blur-3]"]["interval"] == [0.0, 0.0] and rows["corruption[defocus_blur-3]"]["decision"] == "within"
