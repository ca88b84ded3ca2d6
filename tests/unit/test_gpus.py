"""One GPU per pytest-xdist worker (pytest_mlguard._gpus), tested by faking the environment and the GPU count."""

from __future__ import annotations

import pytest

from pytest_mlguard import _gpus
from pytest_mlguard._gpus import auto_workers, gpu_for_worker, pin_worker

# (environment, visible GPU count, CUDA_VISIBLE_DEVICES the worker gets)
PINS = [
    ({"PYTEST_XDIST_WORKER": "gw0"}, 2, "0"),
    ({"PYTEST_XDIST_WORKER": "gw1"}, 2, "1"),
    ({"PYTEST_XDIST_WORKER": "gw2"}, 2, "0"),  # more workers than GPUs: they share, round robin
    ({"PYTEST_XDIST_WORKER": "gw1", "CUDA_VISIBLE_DEVICES": "4,6"}, 8, "6"),  # the user's list
    ({"PYTEST_XDIST_WORKER": "gw2", "CUDA_VISIBLE_DEVICES": "4, 6"}, 8, "4"),
    ({"PYTEST_XDIST_WORKER": "gw1", "CUDA_VISIBLE_DEVICES": "GPU-5e1f,GPU-77a0"}, 2, "GPU-77a0"),
    ({"PYTEST_XDIST_WORKER": "gw0", "CUDA_VISIBLE_DEVICES": ""}, 2, None),  # the user hid every GPU
    ({"PYTEST_XDIST_WORKER": "gw0"}, 0, None),  # no GPU
    ({}, 2, None),  # not a worker
    ({"PYTEST_XDIST_WORKER": "master"}, 2, None),
]


@pytest.mark.parametrize(("environ", "count", "expected"), PINS)
def test_each_worker_gets_its_gpu_from_its_number(environ, count, expected):
    assert gpu_for_worker(environ, lambda: count) == expected


def test_pinning_sets_cuda_visible_devices_from_torch_device_count(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)  # on a GPU machine an earlier test may have initialised it
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw5")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert pin_worker("cuda") == "gw5 pinned to GPU 1 (CUDA_VISIBLE_DEVICES=1)"
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"


@pytest.mark.parametrize("device", ["cpu", "cuda:1", "mps"])
def test_a_device_with_an_index_or_no_gpu_pins_nothing(device):
    environ = {"PYTEST_XDIST_WORKER": "gw1"}
    assert pin_worker(device, environ, lambda: 4) is None
    assert environ == {"PYTEST_XDIST_WORKER": "gw1"}


def test_pinning_onto_the_users_list_names_it(monkeypatch):
    monkeypatch.setattr(_gpus, "cuda_initialised", lambda: False)
    environ = {"PYTEST_XDIST_WORKER": "gw1", "CUDA_VISIBLE_DEVICES": "2,3"}
    assert pin_worker("cuda", environ, lambda: 2) == "gw1 pinned to GPU 3 (CUDA_VISIBLE_DEVICES=3, of 2,3)"
    assert environ["CUDA_VISIBLE_DEVICES"] == "3"


def test_cuda_initialised_already_is_said_not_hidden(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    environ = {"PYTEST_XDIST_WORKER": "gw1"}
    assert pin_worker("cuda", environ, lambda: 2) == "gw1 not pinned: CUDA was initialised before pytest-mlguard could set CUDA_VISIBLE_DEVICES=1"
    assert "CUDA_VISIBLE_DEVICES" not in environ


@pytest.mark.parametrize(
    ("device", "environ", "count", "expected"),
    [("cuda", {}, 3, 3), ("cuda", {"CUDA_VISIBLE_DEVICES": "1,5"}, 8, 2), ("cuda", {}, 0, None), ("cuda:0", {}, 3, None), ("cpu", {}, 3, None)],
)
def test_auto_workers_is_one_per_visible_gpu(device, environ, count, expected):
    assert auto_workers(device, environ, lambda: count) == expected
