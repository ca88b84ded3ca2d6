"""A colour example of pytest-mlguard's model contract: which of eight photos a 32x32 patch comes from.

pytest-mlguard reads these fixtures (docs/model-contract.md):

* ``mlguard_model``: a small ResNet (photos_model.py) with its input spec and normalisation;
* ``mlguard_data``: the 800 held-out patches, in raw [0, 1] pixel units;
* ``mlguard_baseline_model``: the plain CNN in production before it, which the gate checks compare it with.

``pytest --mlguard examples/photos`` runs the suite with the floors of ``pyproject.toml``;
``--mlguard-profile nightly`` runs every corruption at every severity.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from pytest_mlguard import EvalData, TorchModel

sys.path.insert(0, str(Path(__file__).parent))

from photos_model import CLASS_NAMES, MEAN, STD, load_baseline, load_model, load_test_split


def declare(net: torch.nn.Module, name: str) -> TorchModel:
    """A network of photos_model.py as pytest-mlguard sees it (corruption_table.py declares them so too)."""
    return TorchModel(
        net,
        input_shape=(3, 32, 32),  # one RGB patch, channels first
        value_range=(0.0, 1.0),  # raw pixel units; attack epsilons are in these units
        mean=MEAN,
        std=STD,  # per channel, of the training patches: applied by mlguard before the network
        class_names=CLASS_NAMES,
        name=name,
    )


@pytest.fixture(scope="session")
def mlguard_model():
    return declare(load_model(), "photos")


@pytest.fixture(scope="session")
def mlguard_data():
    x, y = load_test_split()
    return EvalData(x, y, name="photos-test")


@pytest.fixture(scope="session")
def mlguard_baseline_model():
    """The model in production now (a plain CNN, photos_model.PlainCNN), which the gate checks compare the
    candidate ``mlguard_model`` with."""
    return declare(load_baseline(), "photos-v1")
