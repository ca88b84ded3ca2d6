"""The resources checks on a CUDA device: the model is served on the device, and the memory budgets are
of GPU memory (torch.cuda.max_memory_allocated). Without a GPU, the device string is followed into the
measuring process with torch's ``meta`` device, and the GPU's figures are faked."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import zoo

from pytest_mlguard import check_model
from pytest_mlguard.checks.api import check_spec, resolve_settings
from pytest_mlguard.production._resources import run as resources_run
from pytest_mlguard.production._server import machine

BUDGET = {"device": "cuda:1", "resources.memory_mb": {"load": 500, "inference": 600}, "samples": 20}


def _measured(asked):
    def measure(model, x, **options):
        asked.update(options)
        return {
            "threads": 1, "device": options["device"], "runtime": {"peak_mb": 310.0}, "machine": machine(),
            "after_load": {"peak_mb": 900.0, "gpu_mb": 45.0, "gpu_peak_mb": 45.0},
            "after_inference": {"peak_mb": 950.0, "gpu_mb": 45.0, "gpu_peak_mb": 700.0},
        }

    return measure


@pytest.mark.parametrize(("check", "expected"), [("resources[memory-load]", 45.0), ("resources[memory-inference]", 700.0)])
def test_on_cuda_the_memory_budgets_are_of_gpu_memory(monkeypatch, check, expected):
    asked = {}
    monkeypatch.setattr(resources_run, "measure_resources", _measured(asked))
    settings = resolve_settings(BUDGET)
    evaluation = SimpleNamespace(settings=settings, model=zoo.good_model(), data=zoo.digits(), memo=lambda key, make: make())
    measurement = resources_run.run_check(check_spec(check, settings)[1], evaluation)
    assert asked["device"] == "cuda:1"  # served on the run's device
    assert measurement.value == expected and measurement.details["memory"] == "gpu"
    assert measurement.message.startswith(f"peak GPU memory torch allocated after {'loading' if 'load' in check else 'serving'}: {expected:.0f} MB")
    assert "on cuda:1, measured on" in measurement.message


def test_the_device_reaches_the_measuring_process():
    x = zoo.digits().x[:4]
    result = resources_run.measure_resources(zoo.good_model(), x, requests=2, warmup=0, device="meta")
    assert result["device"] == "meta"  # the model ran on torch's meta device over there, which has no values to return
    assert result["error"]["phase"] == "inference" and "meta" in result["error"]["message"].lower(), result["error"]


def test_on_cpu_the_budget_stays_resident_memory():
    result = check_model(zoo.good_model(), zoo.digits(), "resources[memory-load]", settings={**BUDGET, "device": "cpu", "resources.memory_mb": {"load": 4000}, "resources.requests": 5})[0]
    assert "gpu_peak_mb" not in str(result.details) and result.message.startswith("peak resident memory after loading")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_the_memory_is_measured_there():
    settings = {**BUDGET, "device": "cuda", "resources.memory_mb": {"load": 4000, "inference": 4000}, "resources.requests": 5}
    results = check_model(zoo.good_model(), zoo.digits(), ["resources[memory-load]", "resources[memory-inference]"], settings=settings)
    assert all(r.details["memory"] == "gpu" and 0 < r.value < 100 for r in results), [r.message for r in results]
