"""A model that torch.jit cannot trace or script fails drift[torchscript] with the exporter's reason
(docs/production.md), as a check result: before, the check raised CheckError ('could not run'), an error
of the run, for any such user model (the JPEG zoo detector was one; it scripts now, as its failing only its JPEG
cells needs)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import zoo
import zoo_detection
from pytest_mlguard import check_model
from pytest_mlguard.contract import TorchDetectionModel, TorchModel


class RefusesTracing(nn.Module):
    """The zoo's linear digits model eagerly; tracing it raises, as Python-side code torch.jit cannot record does."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing():
            raise RuntimeError("a Python callback torch.jit cannot record")
        return self.inner(x)


class NumpyScores(nn.Module):
    """The example's detector with its scores post-processed in numpy, which torch.jit.script cannot compile."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, images):
        return [{**found, "scores": torch.from_numpy(np.clip(found["scores"].numpy(), 0.0, 1.0))} for found in self.inner(images)]


def test_a_detector_that_cannot_be_scripted_fails_drift_torchscript_with_the_reason():
    model = TorchDetectionModel(NumpyScores(zoo_detection.load_detector()).eval(), class_names=zoo_detection.CLASS_NAMES, name="numpy-scores")
    (result,) = check_model(model, zoo_detection.scenes(4), ["drift[torchscript]"], settings={"task": "detection"})
    assert result.id == "drift[torchscript]" and not result.passed
    assert result.details["failure"].startswith("the detector cannot be deployed with torchscript (torch.jit.script): NotSupportedError: Dict expansion")
    assert result.details["deployable"] is False


def test_a_classifier_that_cannot_be_traced_fails_drift_torchscript_with_the_reason():
    linear = zoo.linear_model()
    model = TorchModel(RefusesTracing(linear.module), input_shape=(1, 8, 8), n_classes=10, name="refuses-tracing")
    (result,) = check_model(model, zoo.digits(), ["drift[torchscript]"], settings={"samples": 40})
    assert not result.passed
    assert result.details["failure"] == "the model cannot be deployed with torchscript: RuntimeError: a Python callback torch.jit cannot record"
