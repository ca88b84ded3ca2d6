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
    "detection[map]",
    "detection[gaussian_noise-3]",
    "detection[motion_blur-3]",
    "detection[fog-3]",
    "detection[jpeg_compression-3]",
    "detection[mpc]",
    "detection[ece]",
]
SETTINGS = {
    "task": "detection",
    "detection.floor": 0.6,
    "detection.corruptions": ["gaussian_noise", "motion_blur", "fog", "jpeg_compression"],
    "detection.corruption_floor": "0.6*clean",
    "detection.mpc_floor": "0.5*clean",
    "detection.ece_ceiling": 0.2,
    "detection.resamples": 50,
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
        (zoo.jpeg_shifted_detector, ["detection[jpeg_compression-3]"]),
        (zoo.train_mode_detector, ["contract[eval-mode]"]),
    ],
    ids=["good", "jpeg-shifted", "train-mode"],
)
def test_each_zoo_detector_fails_exactly_its_check(make, fails):
    assert _failed(make()) == fails
