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


#: the distribution that provides each third-party module the example imports
DISTRIBUTIONS = {"numpy": "numpy", "torch": "torch", "torchvision": "torchvision", "PIL": "pillow", "skimage": "scikit-image", "pytest": "pytest"}


def test_the_examples_extra_installs_what_the_photos_example_imports():
    """The README installs `.[examples]`, then shows `pytest --mlguard examples/photos` and train.py: every
    module their files import (at the top or inside a function) comes from the package's dependencies or
    that extra. Before, train.py's scikit-image was in the `test` extra only."""
    import ast
    import re

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    project = tomllib.loads((PHOTOS.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    installed = {re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"] + project["optional-dependencies"]["examples"]}
    local = {path.stem for path in PHOTOS.glob("*.py")} | {"pytest_mlguard"}
    imported = set()
    for path in PHOTOS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = sorted(imported - local - set(sys.stdlib_module_names))
    assert "skimage" in third_party and "torch" in third_party  # the walk found the lazy and the top-level imports
    assert all(name in DISTRIBUTIONS for name in third_party), f"map to their distributions: {set(third_party) - set(DISTRIBUTIONS)}"
    assert [name for name in third_party if DISTRIBUTIONS[name] not in installed] == []
