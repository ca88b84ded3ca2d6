"""On a CUDA device the determinism checks name torch's settings that make outputs vary (TF32, cuDNN
benchmark mode, non-deterministic kernels). Without a GPU, the device the model runs on is faked."""

from __future__ import annotations

import pytest
import torch
import zoo

from pytest_mlguard import check_model
from pytest_mlguard.production.determinism import _device

CHECK = "determinism[batch]"


@pytest.fixture
def risky_torch():
    """torch set up the way a training script tuned for speed leaves it (restored afterwards: torch's
    backend flags are properties that monkeypatch cannot delete)."""
    flags = [(torch.backends.cudnn, "benchmark", True), (torch.backends.cuda.matmul, "allow_tf32", True),
             (torch.backends.cudnn, "allow_tf32", True), (torch.backends.cudnn, "deterministic", False)]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in flags]
    for owner, name, value in flags:
        setattr(owner, name, value)
    yield
    for owner, name, value in saved:
        setattr(owner, name, value)


def test_each_setting_that_makes_outputs_vary_is_named_on_cuda(risky_torch):
    settings = _device.device_settings("cuda:1")
    assert settings == {
        "cudnn.benchmark": True, "deterministic_algorithms": False, "cudnn.deterministic": False, "matmul.allow_tf32": True, "cudnn.allow_tf32": True,
    }
    assert [name.split(" (")[0] for name in _device.pitfalls(settings)] == [
        "cuDNN benchmark mode", "non-deterministic kernels allowed", "non-deterministic cuDNN algorithms", "TF32 matrix products", "TF32 convolutions",
    ]


def test_a_failure_on_cuda_names_the_pitfalls_and_the_fix(risky_torch, monkeypatch):
    monkeypatch.setattr(_device, "is_cuda", lambda device: True)  # as if the model ran on a GPU
    result = check_model(zoo.batch_dependent_model(), zoo.digits(), CHECK, settings={"samples": 64})
    assert not result[0].passed
    assert "torch settings set here that can make outputs vary: cuDNN benchmark mode (torch.backends.cudnn.benchmark = True); non-deterministic kernels" in result[0].message
    assert "TF32 convolutions" in result[0].message and "torch.use_deterministic_algorithms(True)" in result[0].message
    assert result[0].details["device_settings"]["cudnn.benchmark"] is True


def test_on_cpu_the_failure_stays_as_it_was(risky_torch):
    result = check_model(zoo.batch_dependent_model(), zoo.digits(), CHECK, settings={"samples": 64})
    assert not result[0].passed and "can make outputs vary" not in result[0].message
    assert "device_settings" not in result[0].details


def test_a_pass_on_cuda_records_the_settings_without_a_message(risky_torch, monkeypatch):
    monkeypatch.setattr(_device, "is_cuda", lambda device: True)
    result = check_model(zoo.good_model(), zoo.digits(), CHECK, settings={"samples": 64})
    assert result[0].passed and result[0].message == ""
    assert result[0].details["device_settings"]["matmul.allow_tf32"] is True


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_the_settings_are_read_on_the_device():
    result = check_model(zoo.good_model(), zoo.digits(), CHECK, settings={"samples": 64, "device": "cuda"})
    assert set(result[0].details["device_settings"]) == {"cudnn.benchmark", "deterministic_algorithms", "cudnn.deterministic", "matmul.allow_tf32", "cudnn.allow_tf32"}


# -- the device of ART's estimators ---------------------------------------------------------------------------
def test_the_detection_attacks_build_arts_estimator_on_the_models_device(monkeypatch):
    """The detection attacks used to build ART's PyTorchObjectDetector with device_type='cpu', which moves a
    model on a GPU back to the CPU; it now follows the model (a parameter on a GPU, faked)."""
    from art.estimators import object_detection

    from pytest_mlguard.attacks import _art
    from pytest_mlguard.detection import _attack

    built, placed = {}, {}

    class Detector:
        def __init__(self, model, **options):
            built.update(options)
            self._device, self._model = torch.device("cpu"), model

    monkeypatch.setattr(object_detection, "PyTorchObjectDetector", Detector)
    monkeypatch.setattr(_art, "art_device", lambda module: ("gpu", torch.device("cuda", 1)))
    monkeypatch.setattr(torch.nn.Module, "to", lambda module, device: placed.setdefault("device", device))
    estimator = _attack.detector_estimator(torch.nn.Linear(2, 2), torch.zeros((1, 3, 8, 8)).numpy(), _attack.FASTER_RCNN_LOSSES)
    assert built["device_type"] == "gpu" and estimator._device == torch.device("cuda", 1) and placed["device"] == torch.device("cuda", 1)


@pytest.mark.parametrize(("device", "expected"), [("cpu", "cpu"), ("meta", "cpu")])
def test_art_device_follows_the_modules_parameters(device, expected):
    from pytest_mlguard.attacks._art import art_device

    device_type, where = art_device(torch.nn.Linear(2, 2, device=device))
    assert device_type == expected and where == torch.device(device)
