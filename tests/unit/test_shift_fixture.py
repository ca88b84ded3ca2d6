"""The ``mlguard`` fixture's class runs the shift checks of a custom test: on what ``mlguard_production``
returns, or on a sample the test builds (``production=``), each measured on its own sample."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks.api import resolve_settings
from pytest_mlguard.contract import CallableModel, EvalData
from pytest_mlguard.errors import NotApplicable
from pytest_mlguard.fixture import MlguardFixture


def _fixture(production):
    def predict(x):
        p = np.clip(x.reshape(len(x), -1).mean(axis=1), 0.05, 0.95)
        return np.stack([1 - p, p], axis=1)

    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, size=(400, 1, 2, 2))
    y = (rng.uniform(size=400) < x.reshape(400, -1).mean(axis=1)).astype(int)
    model = CallableModel(predict, input_shape=(1, 2, 2), n_classes=2, name="bright")
    evaluation = Evaluation(model, EvalData(x, y), resolve_settings({"shift.checks": ["classes", "inputs"]}))
    asked: list[str] = []
    fixture = MlguardFixture(lambda: evaluation, fixture=lambda need: asked.append(need) or production)
    return fixture, asked


def test_a_custom_test_measures_the_projects_sample_and_the_samples_it_builds():
    rng = np.random.default_rng(3)
    logged = rng.uniform(0, 1, size=(300, 1, 2, 2))
    mlguard, asked = _fixture(logged)
    assert mlguard.measure("shift[inputs]").passed and asked == ["production"]
    brighter = mlguard.measure("shift[inputs]", production=np.clip(logged + 0.25, 0, 1))
    assert not brighter.passed and "brightness" in brighter.message
    assert mlguard.measure("shift[inputs]").passed  # not the brighter sample's tests again
    with pytest.raises(AssertionError, match=r"shift\[classes\]"):
        mlguard.check("shift[classes]", production=np.clip(logged + 0.25, 0, 1))


def test_without_a_sample_the_shift_checks_of_a_custom_test_do_not_apply():
    mlguard, _ = _fixture(None)
    with pytest.raises(NotApplicable, match="define a fixture mlguard_production"):
        mlguard.measure("shift[inputs]")
