"""pytest-xdist on a machine with GPUs: ``-n auto`` starts one worker per GPU and each worker sees its
own GPU through CUDA_VISIBLE_DEVICES, set before the project's conftest.py is imported (faked GPUs:
a plugin that makes torch.cuda.device_count() answer 3)."""

from __future__ import annotations

import textwrap

from conftest import run_pytest

CONFTEST = """
import os
with open("seen.txt", "a") as log:  # at import time: what CUDA would read if the conftest touched it
    log.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'controller')} {os.environ.get('CUDA_VISIBLE_DEVICES', '-')}\\n")
"""
FAKE_GPUS = """
import torch
torch.cuda.device_count = lambda: 3
"""


def _seen(pytester):
    return dict(line.split() for line in (pytester.path / "seen.txt").read_text().splitlines())


def test_n_auto_starts_one_worker_per_gpu_each_pinned_before_its_conftest(pytester, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):  # this test itself may run on an xdist worker
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(textwrap.dedent(CONFTEST))
    pytester.makepyfile(fakegpus=FAKE_GPUS, test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "fakegpus", "-p", "no:cacheprovider", "--mlguard", "--mlguard-device", "cuda", "-n", "auto")
    result.assert_outcomes(passed=1)
    assert _seen(pytester) == {"controller": "-", "gw0": "0", "gw1": "1", "gw2": "2"}


def test_a_worker_maps_onto_the_gpus_the_user_listed(pytester, monkeypatch):
    from pytest_mlguard import _gpus

    monkeypatch.setattr(_gpus, "cuda_initialised", lambda: False)  # on a GPU machine an earlier test of this process may have initialised it
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")  # this process plays worker gw1
    pytester.makeconftest(textwrap.dedent(CONFTEST))
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = run_pytest(pytester, "-p", "no:cacheprovider", "--mlguard", "--mlguard-device", "cuda")
    result.assert_outcomes(passed=1)
    assert _seen(pytester) == {"gw1": "6"}
    result.stdout.fnmatch_lines(["mlguard: *device=cuda (gw1 pinned to GPU 6 (CUDA_VISIBLE_DEVICES=6, of 4,6))*"])


def test_a_device_with_an_index_leaves_the_workers_alone(pytester, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    pytester.makeconftest(textwrap.dedent(CONFTEST))
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = run_pytest(pytester, "-p", "no:cacheprovider", "--mlguard", "--mlguard-device", "cuda:1")
    result.assert_outcomes(passed=1)
    assert _seen(pytester) == {"gw1": "4,6"}
