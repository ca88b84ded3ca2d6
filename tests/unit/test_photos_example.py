"""examples/photos: its frozen test split is what train.py cuts from scikit-image's photos, from tiles that
training never sees."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

PHOTOS = Path(__file__).resolve().parents[2] / "examples" / "photos"


@pytest.fixture(scope="module")
def train():
    """examples/photos/train.py, imported under a name of its own (examples/digits has a train.py too)."""
    pytest.importorskip("skimage", reason="scikit-image cuts the photos: pip install -e '.[test]'")
    if str(PHOTOS) not in sys.path:
        sys.path.insert(0, str(PHOTOS))
    spec = importlib.util.spec_from_file_location("photos_train", PHOTOS / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_frozen_test_split_is_cut_from_the_held_out_tiles(train):
    import photos_model

    images = train.photos()
    pixels, labels = train.patches(images, 100, held_out=True, seed=10_000)
    with np.load(photos_model.TEST_SPLIT) as frozen:
        assert frozen["pixels"].shape == (800, 32, 32, 3) and frozen["pixels"].dtype == np.uint8
        assert np.array_equal(frozen["pixels"], pixels) and np.array_equal(frozen["labels"], labels)
    x, y = photos_model.load_test_split()
    assert x.shape == (800, 3, 32, 32) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    assert np.bincount(y).tolist() == [100] * len(photos_model.CLASS_NAMES)


def test_training_and_test_patches_come_from_disjoint_tiles_of_every_photo(train):
    for image in train.photos():
        assert min(image.shape[:2]) == train.BASE and image.shape[2] == 3
        held_out, training = set(train.tiles(image, held_out=True)), set(train.tiles(image, held_out=False))
        assert held_out and training and not held_out & training
        assert 0.2 < len(held_out) / (len(held_out) + len(training)) < 0.3  # a quarter held out
