"""The detection zoo fails exactly its check, where the example's detector passes them all (run through
``check_model``, as the suite runs them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")

import zoo_detection as zoo

from pytest_mlguard.checks.api import check_model

CHECKS = [
    "contract[eval-mode]",
    "accuracy[map]",
    "corruption[gaussian_noise-3]",
    "corruption[motion_blur-3]",
    "corruption[fog-3]",
    "corruption[jpeg_compression-3]",
    "calibration[ece]",
    "drift[torchscript]",  # the example's suite deploys the detector with torch.jit.script: the JPEG zoo one scripts too
]
SETTINGS = {
    "task": "detection",
    "accuracy.floor": 0.6,
    "corruption.floor": "0.6*clean",
    "calibration.ece_ceiling": 0.2,
    "verdict.bootstrap": 50,
}


def _failed(model) -> list[str]:
    results = check_model(model, zoo.scenes(100), CHECKS, settings=SETTINGS)
    assert [result.id for result in results] == CHECKS
    return [result.id for result in results if not result.passed]


@pytest.mark.slow  # about a minute a detector on the shared 2-core machine
@pytest.mark.parametrize(
    ("make", "fails"),
    [
        (zoo.good_detector, []),
        (zoo.jpeg_shifted_detector, ["corruption[jpeg_compression-3]"]),
        (zoo.train_mode_detector, ["contract[eval-mode]"]),
    ],
    ids=["good", "jpeg-shifted", "train-mode"],
)
def test_each_zoo_detector_fails_exactly_its_check(make, fails):
    assert _failed(make()) == fails
