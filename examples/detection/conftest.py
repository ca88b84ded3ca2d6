"""The detection example's model contract: the shapes detector of detector.py on the frozen test scenes.

``pytest --mlguard examples/detection`` runs the families' checks of a detector (``task = "detection"`` in
pyproject.toml) with the floors there: ``accuracy[map]`` (clean mAP) and ``accuracy[map_50]``, ``corruption[...]``
(mAP under corruptions, mPC / rPC in the corruption summary), ``attack[...]`` (mAP under FGSM and PGD through
ART), ``calibration[ece]`` (the detection ECE), and the contract's eval-mode check.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_mlguard import Pipeline
from pytest_mlguard.contract import DetectionData, TorchDetectionModel

sys.path.insert(0, str(Path(__file__).parent))

from detector import CLASS_NAMES, load_detector, load_test_split


@pytest.fixture(scope="session")
def mlguard_model():
    return TorchDetectionModel(load_detector(), class_names=CLASS_NAMES, value_range=(0.0, 1.0), name="shapes", batch_size=50)


@pytest.fixture(scope="session")
def mlguard_data():
    images, targets = load_test_split()
    return DetectionData(list(images), targets, name="scenes-test")


@pytest.fixture(scope="session")
def mlguard_pipeline():
    """The service as production runs it, image file bytes in (detection_service.py): the inputs checks."""
    from detection_service import DetectionService, InvalidImage

    return Pipeline(DetectionService().predict, rejects=InvalidImage, input="image-bytes", name="detection-service")
