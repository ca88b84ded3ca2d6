"""The ``resources`` checks' measurement: one run of the measuring process, shared by every check.

:func:`measure_resources` is the functional core: it sends a model to a fresh Python process limited
like the production server (see :mod:`pytest_mlguard.production._resources.worker`) and returns what
was measured there, with the machine it ran on.

The model reaches that process by pickling (cloudpickle, so that closures and classes defined in a
conftest.py travel too; the parent's ``sys.path`` is passed on, so that the modules defining them are
importable), or by a factory ``"module:function"`` that the process imports and calls, for a model
that cannot be pickled (one holding a socket, a lock, or an open file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...checks._base import CheckSpec, Measurement
from ...errors import CheckError, MissingDependency, NotApplicable
from .._server import describe_machine, machine

if TYPE_CHECKING:
    from ...checks._evaluation import Evaluation
    from ...contract._model import Model


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _pickle_model(model: Model, path: Path) -> None:
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - a declared dependency
        raise MissingDependency("cloudpickle", "sending the model to the resources checks' process") from None
    import copy

    sent = copy.copy(model)
    if hasattr(sent, "_active_device"):  # not inside running() over there
        sent._active_device = None
    try:
        payload = cloudpickle.dumps(sent)
    except Exception as exc:  # any pickling failure gets the same advice
        raise CheckError(
            f"the resources checks run the model in a separate process, and model {model.name!r} cannot be pickled "
            f"({type(exc).__name__}: {exc}); set [tool.mlguard.resources] factory = 'module:function' to a function "
            "that builds the model there"
        ) from exc
    path.write_bytes(payload)


def measure_resources(
    model: Model | None,
    x: np.ndarray,
    *,
    threads: int | None = None,
    memory_mb: float | None = None,
    requests: int = 200,
    warmup: int = 10,
    batch_sizes: tuple[int, ...] = (),
    throughput_s: float = 0.5,
    factory: str | None = None,
    timeout_s: float = 300.0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Load and serve ``model`` (or ``factory()``) in a fresh process limited to ``threads`` and ``memory_mb``.

    Returns the worker's measurements (``runtime``, ``after_load``, ``after_inference`` memory in MB,
    with the GPU's on a CUDA ``device``; ``latency_ms`` per request, ``throughput`` by batch size,
    ``error`` if it failed) and ``machine``. The model is served on ``device``.

    Raises:
        CheckError: the model cannot be sent, or the process died or ran out of time.
    """
    with tempfile.TemporaryDirectory(prefix="mlguard-resources-") as tmp:
        directory = Path(tmp)
        if factory is None:
            if model is None:
                raise ValueError("expected a model or a factory")
            _pickle_model(model, directory / "model.pkl")
        np.save(directory / "x.npy", np.ascontiguousarray(x, dtype=np.float32))
        job: dict[str, Any] = {"sys_path": [p for p in sys.path if p], "threads": threads, "memory_mb": memory_mb, "requests": requests, "warmup": warmup}
        job.update({"batch_sizes": list(batch_sizes), "throughput_s": throughput_s, "factory": factory, "device": device})
        (directory / "job.json").write_text(json.dumps(job))
        # the worker imports this very pytest_mlguard (not another one the child's sys.path finds first)
        package_root = str(Path(__file__).resolve().parents[3])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        if threads:
            env.update({variable: str(threads) for variable in _THREAD_VARIABLES})
        command = [sys.executable, "-m", "pytest_mlguard.production._resources.worker", str(directory)]
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise CheckError(
                f"the measuring process ran past resources.timeout_s = {timeout_s:g} s; raise it, or lower "
                "resources.requests and resources.throughput_s"
            ) from None
        result_file = directory / "result.json"
        if not result_file.is_file():
            tail = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
            raise CheckError(
                f"the measuring process died (exit status {done.returncode}) before reporting: " + " | ".join(tail)
            )
        result = json.loads(result_file.read_text())
    result["machine"] = machine()
    return result


def _shared_measurement(spec: CheckSpec, evaluation: Evaluation) -> dict[str, Any]:
    params = {key: spec.param(key) for key in (
        "threads", "server_memory_mb", "requests", "warmup", "batch_sizes", "throughput_s", "factory", "timeout_s"
    )}
    device = evaluation.settings.device
    key = ("resources", device, tuple(sorted(params.items())))
    return evaluation.memo(
        key,
        lambda: measure_resources(
            None if params["factory"] else evaluation.model,
            evaluation.data.x,
            threads=params["threads"],
            memory_mb=params["server_memory_mb"],
            requests=params["requests"],
            warmup=params["warmup"],
            batch_sizes=params["batch_sizes"],
            throughput_s=params["throughput_s"],
            factory=params["factory"],
            timeout_s=params["timeout_s"],
            device=device,
        ),
    )


def _where(result: dict[str, Any], spec: CheckSpec) -> str:
    server = f"{result.get('threads')} thread{'s' if result.get('threads') != 1 else ''}"
    if spec.param("server_memory_mb"):
        server += f", {spec.param('server_memory_mb'):g} MB"
    name = f" {spec.param('server_name')!r}" if spec.param("server_name") else ""
    device = f" on {result['device']}" if result.get("device", "cpu") != "cpu" else ""
    return f"as on server{name} ({server}){device}, measured on {describe_machine(result['machine'])}"


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    result = _shared_measurement(spec, evaluation)
    error = result.get("error")
    details: dict[str, Any] = {
        "machine": result["machine"],
        "server": {
            "name": spec.param("server_name"),
            "threads": result.get("threads"),
            "memory_mb": spec.param("server_memory_mb"),
            "address_space_cap_mb": result.get("address_space_cap_mb"),
        },
        "runtime_mb": result.get("runtime", {}).get("peak_mb"),
        "torch": result.get("torch"),
    }
    where = _where(result, spec) if "threads" in result else f"measured on {describe_machine(result['machine'])}"
    if error and error["phase"] == "start-up":
        raise CheckError(f"the measuring process failed to start: {error['type']}: {error['message']}")
    if error and error["phase"] == "load" and not error["oom"]:
        raise CheckError(f"the measuring process could not load the model: {error['type']}: {error['message']}")
    if error and not error["oom"]:
        raise CheckError(f"the model raised while being served: {error['type']}: {error['message']}")
    if spec.params and spec.param("phase"):
        return _memory(spec, result, details, where)
    if error:  # out of memory: latency and throughput were not measured; the memory check fails
        raise NotApplicable(
            f"not measured: the model ran out of memory during {error['phase']}{_under(spec)} "
            f"(see resources[memory-{error['phase']}])"
        )
    if spec.param("percentile") is not None:
        latencies = np.asarray(result["latency_ms"])
        value = float(np.percentile(latencies, spec.param("percentile")))
        details.update(percentile=spec.param("percentile"), requests=len(latencies))
        details["latency_ms"] = {
            **result["latency_summary_ms"],
            **{f"p{q:g}": float(np.percentile(latencies, q)) for q in (50, 90, 95, 99)},
        }
        message = f"single requests, {where}"
        return Measurement(value=value, n=len(latencies), details={**details, "unit": "ms"}, message=message)
    size = spec.param("batch_size")
    measured = result["throughput"][str(size)]
    details.update(batch_size=size, **measured, unit="samples/s")
    message = f"batches of {size}, {where}"
    return Measurement(value=measured["samples_per_s"], n=measured["calls"] * size, details=details, message=message)


def _under(spec: CheckSpec) -> str:
    memory = spec.param("server_memory_mb")
    return f" under the server's {memory:g} MB" if memory else ""


def _memory(spec: CheckSpec, result: dict[str, Any], details: dict[str, Any], where: str) -> Measurement:
    phase = spec.param("phase")
    error = result.get("error")
    status = result.get(f"after_{phase}") or {}
    details.update(phase=phase, unit="MB", peak_load_mb=(result.get("after_load") or {}).get("peak_mb"))
    details["peak_inference_mb"] = (result.get("after_inference") or {}).get("peak_mb")
    failed_here = error is not None and (error["phase"] == phase or (phase == "inference" and error["phase"] == "load"))
    if failed_here:
        assert error is not None
        details["error"] = error
        cap, gpu_cap = result.get("address_space_cap_mb"), result.get("gpu_cap_mb")
        limit = f" (address-space cap {cap:.0f} MB)" if cap else f" (GPU memory cap {gpu_cap:.0f} MB)" if gpu_cap else ""
        message = f"the model could not allocate memory during {error['phase']}{_under(spec)}{limit}: {error['type']}: {error['message'][:300]}\n{where}"
        return Measurement(value=float("nan"), n=1, details=details, message=message)
    runtime = details["runtime_mb"]
    peak = float(status["peak_mb"])
    after = "loading" if phase == "load" else "serving"
    if status.get("gpu_peak_mb") is not None:  # served on a GPU: its memory is the budget's
        gpu = float(status["gpu_peak_mb"])
        details.update(memory="gpu", peak_resident_mb=peak, gpu_cap_mb=result.get("gpu_cap_mb"))
        message = f"peak GPU memory torch allocated after {after}: {gpu:.0f} MB (resident host memory {peak:.0f} MB), {where}"
        return Measurement(value=gpu, n=1, details=details, message=message)
    message = f"peak resident memory after {after}: {peak:.0f} MB (Python and torch alone: {runtime:.0f} MB), {where}"
    return Measurement(value=peak, n=1, details=details, message=message)
