"""One GPU per pytest-xdist worker: ``CUDA_VISIBLE_DEVICES`` pinned from ``PYTEST_XDIST_WORKER``.

With ``--mlguard-device cuda`` (a device type without an index) and pytest-xdist, worker ``gwN`` sees
only GPU ``N mod G`` of the ``G`` GPUs visible to the run, through ``CUDA_VISIBLE_DEVICES``, so that
``cuda`` means a different GPU in each worker. Where the user restricted ``CUDA_VISIBLE_DEVICES``
already (``CUDA_VISIBLE_DEVICES=2,3 pytest -n 2 ...``), the workers are mapped onto the listed ones
(``gw0`` -> ``2``, ``gw1`` -> ``3``). A device with an index (``cuda:1``) is the user's choice of GPU:
nothing is pinned, and every worker runs on that GPU.

CUDA reads ``CUDA_VISIBLE_DEVICES`` once, when it initialises in a process, so the pinning is done in
``pytest_load_initial_conftests``: before pytest imports the project's conftest.py files, which import
torch and may touch CUDA. Counting the GPUs with ``torch.cuda.device_count()`` does not initialise CUDA
where NVML answers (torch 2.x).

``-n auto`` with ``--mlguard-device cuda`` starts one worker per visible GPU (:func:`auto_workers`).

Example:
    >>> gpu_for_worker({"PYTEST_XDIST_WORKER": "gw3"}, lambda: 2)
    '1'
    >>> gpu_for_worker({"PYTEST_XDIST_WORKER": "gw1", "CUDA_VISIBLE_DEVICES": "4,6"}, lambda: 8)
    '6'
    >>> gpu_for_worker({}, lambda: 2) is None  # not an xdist worker
    True
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping

import pytest

VISIBLE = "CUDA_VISIBLE_DEVICES"
WORKER = "PYTEST_XDIST_WORKER"
#: the device resolved before the conftest files load, with --mlguard (for ``-n auto``, before ``pytest_configure``)
DEVICE_KEY: pytest.StashKey[str] = pytest.StashKey()
#: what the pinning did in this process, for the report header (``None``: nothing pinned)
PINNED_KEY: pytest.StashKey[str | None] = pytest.StashKey()


def worker_index(environ: Mapping[str, str]) -> int | None:
    """The number of this pytest-xdist worker (``gw3`` -> 3), or ``None`` outside a worker."""
    match = re.fullmatch(r"gw(\d+)", environ.get(WORKER, ""))
    return int(match.group(1)) if match else None


def pins(device: str) -> bool:
    """Whether ``device`` asks for one GPU per worker: ``cuda`` without an index."""
    return device == "cuda"


def gpu_for_worker(environ: Mapping[str, str], count: Callable[[], int]) -> str | None:
    """The ``CUDA_VISIBLE_DEVICES`` value for this xdist worker: GPU ``N mod G`` for worker ``gwN``,
    of the ones the user listed in ``CUDA_VISIBLE_DEVICES``, else of the ``count()`` GPUs visible;
    ``None`` outside a worker, or where no GPU is visible."""
    index = worker_index(environ)
    if index is None:
        return None
    listed = listed_gpus(environ)
    if listed is not None:
        return listed[index % len(listed)] if listed else None
    total = count()
    return str(index % total) if total > 0 else None


def listed_gpus(environ: Mapping[str, str]) -> list[str] | None:
    """The GPUs ``CUDA_VISIBLE_DEVICES`` lists (indices, UUIDs or MIG names), or ``None`` where unset."""
    listed = environ.get(VISIBLE)
    return None if listed is None else [part.strip() for part in listed.split(",") if part.strip()]


def visible_gpus() -> int:
    """The GPUs torch sees (0 without torch or CUDA); NVML answers in torch 2.x without initialising CUDA."""
    try:
        import torch
    except ImportError:
        return 0
    return int(torch.cuda.device_count())


def cuda_initialised() -> bool:
    """Whether CUDA is initialised in this process already (then ``CUDA_VISIBLE_DEVICES`` is read)."""
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def pin_worker(device: str, environ: MutableMapping[str, str] | None = None, count: Callable[[], int] = visible_gpus) -> str | None:
    """Pin this xdist worker to its GPU through ``CUDA_VISIBLE_DEVICES`` when ``device`` is ``cuda``;
    what was done, for the report header, or ``None`` where nothing was pinned."""
    environ = os.environ if environ is None else environ
    if not pins(device) or worker_index(environ) is None:
        return None
    gpu = gpu_for_worker(environ, count)
    if gpu is None:
        return None
    worker = environ[WORKER]
    if cuda_initialised():
        return f"{worker} not pinned: CUDA was initialised before pytest-mlguard could set {VISIBLE}={gpu}"
    listed = environ.get(VISIBLE)
    environ[VISIBLE] = gpu
    return f"{worker} pinned to GPU {gpu} ({VISIBLE}={gpu}{f', of {listed}' if listed is not None and listed != gpu else ''})"


def auto_workers(device: str, environ: Mapping[str, str] | None = None, count: Callable[[], int] = visible_gpus) -> int | None:
    """Workers for ``-n auto``: one per visible GPU with ``--mlguard-device cuda``, else ``None``
    (pytest-xdist's own choice)."""
    if not pins(device):
        return None
    listed = listed_gpus(os.environ if environ is None else environ)
    total = len(listed) if listed is not None else count()
    return total or None
