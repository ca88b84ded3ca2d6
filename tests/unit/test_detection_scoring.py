"""What scoring a detector's checks costs, without changing a value: the clean mAP is computed once per
evaluation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")

import zoo_detection as zoo

from pytest_mlguard.checks.api import check_model
from pytest_mlguard.detection import _metrics, _run

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

