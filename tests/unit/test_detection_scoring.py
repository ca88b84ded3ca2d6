"""What scoring a detector's checks costs, without changing a value: the clean mAP is computed once per
evaluation, and torchmetrics' mAP runs on the faster-coco-eval backend where it is installed, whose every
value equals the pycocotools backend's (on the example's detector and the zoo's, clean and corrupted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")

import zoo_detection as zoo

from pytest_mlguard.checks.api import check_model
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
