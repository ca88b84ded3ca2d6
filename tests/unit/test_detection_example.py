"""examples/detection: its frozen scenes are what train.py draws, its detector loads with weights_only, and
the PGD attack through ART's object-detector estimator agrees with an independent loop on it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

DETECTION = Path(__file__).resolve().parents[2] / "examples" / "detection"

pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")


def _module(name: str, file: str):
    if str(DETECTION) not in sys.path:
        sys.path.insert(0, str(DETECTION))
    spec = importlib.util.spec_from_file_location(name, DETECTION / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def detector():
    return _module("detection_detector", "detector.py")


@pytest.fixture(scope="module")
def scenes(detector):
    images, targets = detector.load_test_split()
    return images[:24], targets[:24]


@pytest.fixture(scope="module")
def model(detector):
    return detector.load_detector()


def _detect(model, images: np.ndarray) -> list[dict[str, np.ndarray]]:
    import torch

    with torch.no_grad():
        return [{key: value.numpy() for key, value in found.items()} for found in model([torch.from_numpy(image) for image in images])]


def test_the_frozen_scenes_are_what_train_py_draws(detector):
    pytest.importorskip("skimage", reason="scikit-image holds the photographs: pip install -e '.[test]'")
    train = _module("detection_train", "train.py")
    images, boxes, labels = train.scenes(5, 100)
    x, targets = detector.load_test_split()
    assert x.shape == (200, 3, detector.SIDE, detector.SIDE) and x.dtype == np.float32
    assert np.array_equal(np.round(x[:5] * 255).astype(np.uint8), images.transpose(0, 3, 1, 2))
    for target, b, lab in zip(targets, boxes, labels):
        assert np.array_equal(target["boxes"], b) and np.array_equal(target["labels"], lab)


def test_the_detector_finds_the_shapes(model, scenes):
    from pytest_mlguard.detection._metrics import mean_average_precision

    found = mean_average_precision(_detect(model, scenes[0]), scenes[1])
    assert found["map_50"] > 0.8 and found["map"] > 0.6


def _size(delta: np.ndarray, norm: str) -> np.ndarray:
    flat = delta.reshape(len(delta), -1)
    return np.abs(flat).max(axis=1) if norm == "linf" else np.linalg.norm(flat, axis=1)


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.01), ("l2", 1.0)])
def test_art_pgd_matches_an_independent_loop_within_half_a_point_of_map(model, scenes, norm, eps):
    from pytest_mlguard.detection._attack import art_pgd, reference_pgd
    from pytest_mlguard.detection._metrics import mean_average_precision

    images, targets = scenes
    clean = mean_average_precision(_detect(model, images), targets)["map"]
    through_art = art_pgd(model, images, targets, eps=eps, eps_step=eps / 4, steps=3, batch_size=8, norm=norm)
    by_hand = reference_pgd(model, images, targets, eps=eps, eps_step=eps / 4, steps=3, batch_size=8, norm=norm)
    for adversarial in (through_art, by_hand):
        assert _size(adversarial - images, norm).max() <= eps * (1 + 1e-5) and adversarial.min() >= 0 and adversarial.max() <= 1
    robust_art = mean_average_precision(_detect(model, through_art), targets)["map"]
    robust_hand = mean_average_precision(_detect(model, by_hand), targets)["map"]
    assert robust_art < clean - 0.1  # the attack works
    assert abs(robust_art - robust_hand) <= 0.005
    assert not model.training  # both leave the detector as they found it


def test_arts_patch_lowers_map_more_than_a_patch_of_noise(detector, model):
    """attack[patch-24] through check_model on 16 scenes: RobustDPatch's patch over the top-left corner
    costs more mAP than uniform noise there (occlusion alone), which costs some of the clean mAP."""
    from pytest_mlguard.checks.api import check_model
    from pytest_mlguard.contract import DetectionData, TorchDetectionModel
    from pytest_mlguard.detection._metrics import mean_average_precision

    images, targets = detector.load_test_split()
    images, targets = images[:16], targets[:16]
    clean = mean_average_precision(_detect(model, images), targets)["map"]
    wrapped = TorchDetectionModel(detector.load_detector(), class_names=detector.CLASS_NAMES, name="shapes")
    settings = {"task": "detection", "attack.checks": ["patch-24"], "attack.samples": 16, "attack.patch_steps": 5, "verdict.bootstrap": 20}
    (result,) = check_model(wrapped, DetectionData(list(images), targets), ["attack[patch-24]"], settings=settings)
    assert result.n == 16 and result.details["side"] == 24
    assert result.value < result.details["random_patch_map"] - 0.05 and result.details["random_patch_map"] <= clean
