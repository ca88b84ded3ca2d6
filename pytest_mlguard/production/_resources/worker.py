"""The measuring process of the resources checks: ``python -m pytest_mlguard.production._resources.worker JOB_DIR``.

It reads ``JOB_DIR/job.json`` (what to measure, the parent's ``sys.path``), limits itself like the
production server (``threads`` torch threads; an address-space cap ``RLIMIT_AS`` of its size at
start-up plus ``memory_mb``, so that a model reaching for far more than the server has fails to
allocate instead of taking the machine), loads the model (``model.pkl``, or the factory), serves
``x.npy`` and writes ``JOB_DIR/result.json``. A model that fails to allocate memory is reported as
such, with what was measured before.

Peak memory is the kernel's high-water mark of resident memory (``VmHWM`` in ``/proc/self/status``),
not ``getrusage``'s ``ru_maxrss``, which a process started from a large one inherits on Linux.

On a CUDA device (``job["device"]``) the model is served there, and the memory that counts is the
GPU's: the peak torch allocated on the device (``torch.cuda.max_memory_allocated``), after moving the
model there (``load``) and after serving (``inference``); the server's ``memory_mb`` caps the memory
torch may allocate on the device (``torch.cuda.set_per_process_memory_fraction``) instead of the
address space, which CUDA reserves by the terabyte.

Only the standard library is imported at module level: the thread limits are set in the
environment before torch is imported.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from ..._messages import without_addresses  # the standard library only


_OOM_MARKERS = ("can't allocate memory", "cannot allocate memory", "out of memory", "unable to allocate", "bad_alloc")


def is_cuda(device: str) -> bool:
    return str(device).split(":")[0] == "cuda"


def gpu_memory_status(device: str) -> dict[str, float]:
    """On a CUDA device, the memory torch holds there now and at most so far, in MB; else nothing."""
    if not is_cuda(device):
        return {}
    import torch

    return {"gpu_mb": torch.cuda.memory_allocated(device) / 2**20, "gpu_peak_mb": torch.cuda.max_memory_allocated(device) / 2**20}


def memory_status() -> dict[str, float]:
    """Resident, peak resident and virtual size of this process in MB (Linux: ``/proc/self/status``)."""
    fields = {"VmRSS": "rss_mb", "VmHWM": "peak_mb", "VmSize": "virtual_mb"}
    status: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name in fields:
                    status[fields[name]] = int(value.split()[0]) / 1024
    except OSError:  # not Linux: ru_maxrss (bytes on macOS, KB elsewhere), possibly inherited
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 1024
        status = {"rss_mb": peak_mb, "peak_mb": peak_mb}
    return status


def _gpu_memory_if_any(device: str) -> dict[str, float]:
    """:func:`gpu_memory_status`, or nothing where CUDA itself failed."""
    try:
        return gpu_memory_status(device)
    except Exception:  # noqa: BLE001 - the error being reported matters, not this one
        return {}


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or any(marker in str(exc).lower() for marker in _OOM_MARKERS)


def _cap_gpu_memory(memory_mb: float, device: str) -> dict[str, Any]:
    """Cap the memory torch may allocate on CUDA ``device`` at ``memory_mb``; returns what was set."""
    import torch

    total = torch.cuda.get_device_properties(device).total_memory / 2**20
    torch.cuda.set_per_process_memory_fraction(min(1.0, memory_mb / total), device)
    return {"address_space_cap_mb": None, "gpu_cap_mb": round(min(memory_mb, total), 1)}


def _cap_memory(memory_mb: float) -> dict[str, Any]:
    """Cap the address space at its current size plus ``memory_mb``; returns what was set."""
    virtual = memory_status().get("virtual_mb")
    if virtual is None or not hasattr(resource, "RLIMIT_AS"):
        return {"address_space_cap_mb": None}
    cap = int((virtual + memory_mb) * 2**20)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ValueError, OSError):  # pragma: no cover - not permitted here
        return {"address_space_cap_mb": None}
    return {"address_space_cap_mb": round(cap / 2**20, 1)}


def _load(job: dict[str, Any], directory: Path, x: Any) -> Any:
    from pytest_mlguard.contract._data import EvalData
    from pytest_mlguard.contract._model import as_model

    if job["factory"]:
        import importlib

        module_name, _, function = job["factory"].partition(":")
        target: Any = importlib.import_module(module_name)
        for part in function.split("."):
            target = getattr(target, part)
        obj = target()
    else:
        import pickle

        with open(directory / "model.pkl", "rb") as handle:
            obj = pickle.load(handle)  # written by the parent from the user's own model
    labels = [0] * len(x[:1])
    return as_model(obj, EvalData(x[:1], labels))


def _summary(latencies_ms: list[float]) -> dict[str, float]:
    import numpy as np

    values = np.asarray(latencies_ms)
    return {"mean": float(values.mean()), "min": float(values.min()), "max": float(values.max())}


def _serve(model: Any, x: Any, job: dict[str, Any], result: dict[str, Any]) -> None:
    import numpy as np

    n = len(x)
    for i in range(job["warmup"]):
        model.predict_proba(x[i % n : i % n + 1])
    latencies = []
    for i in range(job["requests"]):
        request = x[i % n : i % n + 1]
        start = time.perf_counter()
        model.predict_proba(request)
        latencies.append((time.perf_counter() - start) * 1000.0)
    result["latency_ms"] = latencies
    result["latency_summary_ms"] = _summary(latencies)
    throughput = {}
    for size in job["batch_sizes"]:
        batch = x[np.arange(size) % n]
        model.predict_proba(batch, batch_size=size)  # warm-up at this size
        calls, start = 0, time.perf_counter()
        while True:
            model.predict_proba(batch, batch_size=size)
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= job["throughput_s"] and calls >= 3:
                break
        throughput[str(size)] = {"samples_per_s": size * calls / elapsed, "calls": calls, "seconds": elapsed}
    result["throughput"] = throughput


def main(job_dir: str) -> int:
    directory = Path(job_dir)
    job = json.loads((directory / "job.json").read_text())
    for path in reversed(job["sys_path"]):
        if path not in sys.path:
            sys.path.insert(0, path)
    result: dict[str, Any] = {"pid": os.getpid()}
    phase = "start-up"
    try:
        import numpy as np
        import torch

        if job["threads"]:
            torch.set_num_threads(job["threads"])
        result["threads"] = torch.get_num_threads()
        result["torch"] = torch.__version__
        x = np.load(directory / "x.npy")
        device = result["device"] = job.get("device", "cpu")
        result["runtime"] = memory_status()
        if job["memory_mb"]:
            result.update(_cap_gpu_memory(job["memory_mb"], device) if is_cuda(device) else _cap_memory(job["memory_mb"]))
        phase = "load"
        start = time.perf_counter()
        model = _load(job, directory, x)
        with model.running(device):  # on the device: part of loading
            result["load_s"] = time.perf_counter() - start
            result["after_load"] = {**memory_status(), **gpu_memory_status(device)}
            phase = "inference"
            _serve(model, x, job, result)
            result["after_inference"] = {**memory_status(), **gpu_memory_status(device)}
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the checks
        result[f"after_{phase.replace('-', '_')}"] = {**memory_status(), **_gpu_memory_if_any(result.get("device", "cpu"))}
        result["error"] = {"phase": phase, "type": type(exc).__name__, "message": without_addresses(str(exc))[:2000], "oom": _is_oom(exc)}
    (directory / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
