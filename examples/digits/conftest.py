"""The documented example of pytest-mlguard's model contract.

pytest-mlguard reads three fixtures from this file:

* ``mlguard_model``: the model under test with its input spec;
* ``mlguard_data``: labelled evaluation samples in the model's raw input units;
* ``mlguard_pipeline`` (optional): the production pipeline, raw input -> prediction, with the
  exceptions it declares as clean rejections;
* ``mlguard_baseline_model`` (optional): the model now in production, which the gate checks compare
  ``mlguard_model`` with;
* ``mlguard_production`` (optional): logged production inputs, unlabelled, which the ``shift`` checks
  compare with ``mlguard_data`` (``--mlguard-profile production``; ``DIGITS_PRODUCTION=shifted`` picks
  the sample of a brighter, rotated scanner, see digits_production.py and docs/drift.md; ``DIGITS_PRODUCTION=log``
  a ProductionLog of three days, for ``shift.window``).

``pytest --mlguard`` runs the built-in suite on them, with the floors of ``pyproject.toml``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pytest_mlguard import EvalData, Pipeline, ProductionLog, TorchModel

sys.path.insert(0, str(Path(__file__).parent))

from baseline import load_baseline
from digits_production import logged_days, logged_sample
from model import CLASS_NAMES, MEAN, STD, load_digits_split, load_model
from pipeline import DigitsService, InvalidImage


@pytest.fixture(scope="session")
def digits_net():
    return load_model()


@pytest.fixture(scope="session")
def mlguard_model(digits_net):
    return TorchModel(
        digits_net,
        input_shape=(1, 8, 8),  # one sample, channels first
        value_range=(0.0, 1.0),  # raw pixel units; attack epsilons are in these units
        mean=MEAN,
        std=STD,  # the normalisation the network expects, applied by mlguard
        class_names=CLASS_NAMES,
        name="digits",
    )


@pytest.fixture(scope="session")
def mlguard_data():
    x, y = load_digits_split("test")
    return EvalData(x, y, name="digits-test")


@pytest.fixture(scope="session")
def mlguard_baseline_model():
    """The model in production now (a linear softmax, _baseline.py), which the gate checks compare the
    candidate ``mlguard_model`` with."""
    return TorchModel(load_baseline(), input_shape=(1, 8, 8), class_names=CLASS_NAMES, name="digits-v1")


@pytest.fixture(scope="session")
def mlguard_pipeline(digits_net):
    service = DigitsService(digits_net)
    return Pipeline(service.predict, rejects=InvalidImage, input="image-bytes", name="digits-service", decode=service.decode)


@pytest.fixture(scope="session")
def mlguard_production():
    """Yesterday's logged uploads as model inputs, without labels: the in-distribution sample, or the
    shifted one with ``DIGITS_PRODUCTION=shifted``; with ``DIGITS_PRODUCTION=log`` (or ``log-in-distribution``)
    three days of uploads with their timestamps, the last day shifted (or not), for ``shift.window``."""
    kind = os.environ.get("DIGITS_PRODUCTION", "in-distribution")
    if kind.startswith("log"):
        x, timestamps, _ = logged_days("in-distribution" if kind == "log-in-distribution" else "shifted")
        return ProductionLog(x, timestamps)
    x, _ = logged_sample(kind)
    return x
