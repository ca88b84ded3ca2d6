"""The segmentation example: a compact segmenter of shapes drawn on photographs (segmenter.py), declared
with its task, ``TorchSegmentationModel``, and ``task = "segmentation"`` in pyproject.toml.

``pytest --mlguard examples/segmentation`` runs the suite planned for a segmentation model: the clean
mIoU (``accuracy``), the corruptions with their mPC and rPC, PGD and FGSM on the per-pixel loss
(robust mIoU), the pixel-level ECE and the eval-mode contract check (docs/segmentation.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_mlguard import Pipeline
from pytest_mlguard.contract import SegmentationData, TorchSegmentationModel

sys.path.insert(0, str(Path(__file__).parent))

from segmenter import CLASS_NAMES, SIZE, VOID, load_model, scenes


@pytest.fixture(scope="session")
def mlguard_model():
    return TorchSegmentationModel(
        load_model(),
        input_shape=(3, SIZE, SIZE),  # one image, channels first
        value_range=(0.0, 1.0),  # raw pixel units; attack epsilons are in these units
        class_names=CLASS_NAMES,
        name="shapes",
    )


@pytest.fixture(scope="session")
def mlguard_data():
    x, y = scenes(200, seed=1)  # the test split: scenes drawn from seed 1 (training: seed 0)
    return SegmentationData(x, y, ignore_index=VOID, name="shapes-test")


@pytest.fixture(scope="session")
def mlguard_pipeline():
    """The service as production runs it, image file bytes in (segmentation_service.py): the inputs checks."""
    from segmentation_service import InvalidImage, SegmentationService

    return Pipeline(SegmentationService().predict, rejects=InvalidImage, input="image-bytes", name="segmentation-service")
