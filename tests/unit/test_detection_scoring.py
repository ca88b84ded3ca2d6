"""What scoring a detector's checks costs, without changing a value: the clean mAP is computed once per
evaluation, and torchmetrics' mAP runs on the faster-coco-eval backend where it is installed, whose every
value equals the pycocotools backend's (on the example's detector and the zoo's, clean and corrupted)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")

import zoo_detection as zoo

from pytest_mlguard.checks.api import check_model
from pytest_mlguard.contract import DetectionData
from pytest_mlguard.detection import _metrics, _run
from pytest_mlguard.detection._corrupt import corrupt_images

SETTINGS = {"task": "detection", "verdict.bootstrap": 20, "attack.samples": 16, "attack.steps": 1}


def test_the_clean_map_is_computed_once_for_the_accuracy_corruption_and_attack_checks(monkeypatch):
    scored: list[int] = []
    real = _run.mean_average_precision

    def spy(predictions, targets):
        scored.append(len(predictions))
        return real(predictions, targets)

    monkeypatch.setattr(_run, "mean_average_precision", spy)
    checks = ["accuracy[map]", "accuracy[map_50]", "corruption[fog-1]", "attack[fgsm-linf-1/255]"]
    results = {result.id: result for result in check_model(zoo.good_detector(), zoo.scenes(16), checks, settings=SETTINGS)}
    # the clean detections once (16 images; the attack's 16 are the same images), the fog cell once, the attack once
    assert scored == [16, 16, 16]
    clean = _metrics.mean_average_precision(list(zoo.good_detector().predict(zoo.scenes(16).images)), zoo.scenes(16).targets)
    assert (results["accuracy[map]"].value, results["accuracy[map_50]"].value) == (clean["map"], clean["map_50"])
    assert results["corruption[fog-1]"].details["clean_map"] == results["attack[fgsm-linf-1/255]"].details["clean_map"] == clean["map"]


def _every_value(predictions, targets, backend: str) -> dict:
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(iou_type="bbox", backend=backend, class_metrics=True)
    metric.update(_metrics._tensors(predictions), _metrics._tensors(targets))
    return {key: value.tolist() for key, value in metric.compute().items()}


@pytest.mark.parametrize("make", [zoo.good_detector, zoo.jpeg_shifted_detector, zoo.train_mode_detector], ids=["example", "jpeg-shifted", "train-mode"])
def test_faster_coco_eval_gives_every_value_pycocotools_gives(make):
    pytest.importorskip("faster_coco_eval", reason="the faster COCO backend of the detection extra: pip install -e '.[test]'")
    model, data = make(), zoo.scenes(100)
    sets = {"clean": data.images, **{name: corrupt_images(data.images, name, 3, seed=0) for name in ("gaussian_noise", "jpeg_compression")}}
    for name, images in sets.items():
        predictions = list(model.predict(images))
        ours, reference = _every_value(predictions, data.targets, "faster_coco_eval"), _every_value(predictions, data.targets, "pycocotools")
        assert ours == reference, name  # map, map_50, map_75, the sizes', mar_*, map_per_class, mar_100_per_class, classes
        assert 0.05 < reference["map"] < 0.95 and len(reference["map_per_class"]) == 3, name  # scores that can differ


def test_without_faster_coco_eval_the_map_runs_on_pycocotools_and_gives_the_same(monkeypatch):
    data = zoo.scenes(16)
    predictions = list(zoo.jpeg_shifted_detector().predict(corrupt_images(data.images, "jpeg_compression", 3, seed=0)))
    installed = _metrics.mean_average_precision(predictions, data.targets)  # faster-coco-eval's where installed
    monkeypatch.setitem(sys.modules, "faster_coco_eval", None)  # import faster_coco_eval raises ImportError
    _metrics.coco_backend.cache_clear()
    try:
        assert _metrics.coco_backend() == "pycocotools"
        assert _metrics.mean_average_precision(predictions, data.targets) == installed
        assert installed == {key: round(value, 6) for key, value in _every_value(predictions, data.targets, "pycocotools").items() if key in ("map", "map_50")}
    finally:
        _metrics.coco_backend.cache_clear()  # found again once faster_coco_eval imports again


def _torchmetrics_map(predictions, targets, backend: str | None = None) -> dict[str, float]:
    """torchmetrics' ``MeanAveragePrecision`` itself, updated and computed, as ``mean_average_precision`` called it
    before it converted the targets once: the value every check's mAP must stay."""
    found = _every_value(predictions, targets, backend or _metrics.coco_backend())
    return {key: round(found[key], 6) for key in ("map", "map_50")}


@pytest.mark.parametrize("backend", ["faster_coco_eval", "pycocotools"])
def test_the_map_is_torchmetrics_value_on_crowded_empty_and_unknown_labels(monkeypatch, backend):
    # corrupted detections of the example's detector (more boxes), an image with 130 detections of a label
    # (COCO keeps its best 100), images without targets or without detections, a label no target has, float64
    # boxes and scores (torchmetrics takes float32), ties of scores; on the backend the checks use and the other
    pytest.importorskip(backend.replace("_", "-") if backend == "pycocotools" else backend)
    monkeypatch.setattr(_metrics, "coco_backend", lambda: backend)
    data = zoo.scenes(40)
    predictions = list(zoo.good_detector().predict(corrupt_images(data.images, "gaussian_noise", 3, seed=0)))
    targets = [dict(t) for t in data.targets]
    crowded = np.tile(targets[0]["boxes"][:1], (130, 1)) + np.arange(130)[:, None] / 50
    predictions[0] = {"boxes": crowded.astype(np.float64), "labels": np.repeat(targets[0]["labels"][:1], 130), "scores": np.round(np.linspace(0, 1, 130), 1)}
    predictions[1] = {**predictions[1], "labels": np.full(len(predictions[1]["labels"]), 9)}  # a label of no target
    predictions[2] = {key: value[:0] for key, value in predictions[2].items()}
    targets[3] = {key: value[:0] for key, value in targets[3].items()}
    expected = _torchmetrics_map(predictions, targets, backend)
    assert _metrics.mean_average_precision(predictions, targets) == expected
    assert _metrics.mean_average_precision(predictions, _metrics.CocoTargets(targets)) == expected
    assert 0.05 < expected["map"] < expected["map_50"] < 0.95
    assert _metrics.mean_average_precision([], []) == _torchmetrics_map([], [], backend) == {"map": -1.0, "map_50": -1.0}


def _reference_checks(monkeypatch, model, data, checks: list[str]) -> dict:
    """The checks' results as they were with torchmetrics' ``MeanAveragePrecision`` updated with the targets for
    each mAP, then as they are: {check id: (value, interval, details)} for each."""
    runs = []
    for reference in (True, False):
        with monkeypatch.context() as patch:
            if reference:
                patch.setattr(_run, "coco_targets", lambda evaluation, n: _run._data(evaluation).targets[:n])
                patch.setattr(_run, "mean_average_precision", _torchmetrics_map)
            runs.append({r.id: (r.value, r.interval, r.details) for r in check_model(model, data, checks, settings=SETTINGS)})
    return runs


def test_every_check_reports_the_map_and_interval_torchmetrics_metric_gave(monkeypatch):
    checks = ["accuracy[map]", "accuracy[map_50]", "corruption[gaussian_noise-3]", "corruption[fog-1]", "corruption[jpeg_compression-5]", "attack[fgsm-linf-1/255]"]
    for make in (zoo.good_detector, zoo.jpeg_shifted_detector):
        before, after = _reference_checks(monkeypatch, make(), zoo.scenes(60), checks)
        assert after == before, make.__name__  # every map, map_50, interval bound and detail to the bit
        assert len({value for value, _, _ in after.values()}) == len(checks) and all(interval for _, interval, _ in after.values())


def test_the_targets_are_converted_once_per_evaluation_and_number_of_images(monkeypatch):
    converted: list[tuple[str, int]] = []
    real = _metrics._coco_annotations

    def spy(items, what, *, scored):
        converted.append((what, len(items)))
        return real(items, what, scored=scored)

    monkeypatch.setattr(_metrics, "_coco_annotations", spy)
    checks = ["accuracy[map]", "accuracy[map_50]", "corruption[fog-1]", "corruption[fog-3]", "corruption[gaussian_noise-1]", "attack[fgsm-linf-1/255]"]
    check_model(zoo.good_detector(), zoo.scenes(24), checks, settings=SETTINGS)
    # six mAPs (the clean detections of the 24 images, the three cells', the clean and attacked detections of the
    # attack's 16 images): each set of detections converted once, the 24 images' targets once, the 16's once
    assert sorted(converted) == sorted([("targets", 24), ("targets", 16), *[("predictions", 24)] * 4, *[("predictions", 16)] * 2])


def test_a_second_data_set_is_scored_against_its_own_targets_not_the_first_ones(monkeypatch):
    # the same images, the boxes of the second set's targets moved: a conversion of the targets kept past its
    # data set (say by the number of images) would score the second set's detections against the first's
    first = zoo.scenes(30)
    moved = DetectionData(first.images, [{**t, "boxes": t["boxes"] + np.float32(4)} for t in first.targets], name="moved")
    model = zoo.good_detector()
    predictions = list(model.predict(first.images))
    checks = ["accuracy[map]", "corruption[fog-1]"]
    for data in (first, moved, first):
        found = {r.id: r for r in check_model(model, data, checks, settings=SETTINGS)}
        assert found["accuracy[map]"].value == _torchmetrics_map(predictions, data.targets)["map"], data.name
        assert found["corruption[fog-1]"].details["clean_map"] == found["accuracy[map]"].value
    assert _torchmetrics_map(predictions, moved.targets)["map"] < _torchmetrics_map(predictions, first.targets)["map"] - 0.1
