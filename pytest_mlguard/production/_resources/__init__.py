"""Resource budgets on the production server: ``resources[latency-p95]``, ``resources[throughput-bs32]``,
``resources[memory-load]``, ``resources[memory-inference]``.

The model runs in a separate Python process that imitates the server described in
``[tool.mlguard.server]``: ``threads`` torch threads, and an address-space cap (``RLIMIT_AS``) that
stops a model reaching for far more than ``memory_mb``. In that process one measurement gives every
check its value: the peak resident memory after loading the model and after serving, the latency of
``requests`` single-sample requests (after ``warmup`` ones) and the throughput at each batch size.
Each value is checked against the budget the user sets; a budget that is not set is not checked.

Settings (``[tool.mlguard.resources]``):

* ``latency_ms``: ceilings of latency percentiles of one request in milliseconds, such as
  ``{p50 = 5, p95 = 10, p99 = 20}``: one ``resources[latency-p<q>]`` check each;
* ``throughput``: floors in samples per second by batch size, such as ``{1 = 200, 32 = 2000}``: one
  ``resources[throughput-bs<size>]`` check each;
* ``memory_mb``: ceilings of the process's peak resident memory in MB after loading (``load``) and
  after serving (``inference``); ``inference`` defaults to ``server.memory_mb``. On a CUDA device
  (``--mlguard-device cuda``) the model is served there and the ceilings are of the GPU memory torch
  allocated (``torch.cuda.max_memory_allocated``);
* ``requests`` (200), ``warmup`` (10): single requests timed, and sent first untimed;
* ``throughput_s``: seconds each batch size is run for (default 0.5);
* ``factory``: ``"module:function"`` returning the model in the worker, where the model cannot be
  pickled (default: the model is pickled with cloudpickle);
* ``timeout_s``: the worker's time limit (default 300).

The server's own keys (``server.name``, ``server.threads``, ``server.memory_mb``) are declared here.
"""

from __future__ import annotations

import re
from typing import Any

from ...checks._base import CheckSpec, Family
from ...config.parse import Threshold, invalid, parse_int, parse_number, parse_optional, parse_str, parse_table
from ...config._settings import Key, Settings
from .._server import SERVER_KEYS


_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d+)?|100)")
MEMORY_PHASES = ("load", "inference")


def _percentile_name(name: str, key: str, where: str) -> str:
    match = _PERCENTILE.fullmatch(name)
    if not match or not 0 < float(match.group(1)) <= 100:
        raise invalid(name, key, where, "a percentile name such as 'p50', 'p95', 'p99' or 'p99.9'")
    return name


def _batch_size_name(name: str, key: str, where: str) -> str:
    if not name.isdigit() or not 1 <= int(name) <= 1_000_000:
        raise invalid(name, key, where, "a batch size, a positive integer such as '1' or '32'")
    return str(int(name))


def _memory_phase(name: str, key: str, where: str) -> str:
    if name not in MEMORY_PHASES:
        raise invalid(name, key, where, "'load' or 'inference'")
    return name


def _parse_factory(value: Any, key: str, where: str) -> str:
    text = parse_str(value, key, where)
    if not re.fullmatch(r"[\w.]+:[\w.]+", text):
        raise invalid(value, key, where, "'module:function', such as 'myproject.serving:load_model'")
    return text


def _common(settings: Settings) -> tuple[tuple[str, Any], ...]:
    """What the one measurement that every resources check shares depends on."""
    return (
        ("threads", settings.get("server.threads")),
        ("server_memory_mb", settings.get("server.memory_mb")),
        ("server_name", settings.get("server.name")),
        ("requests", settings.get("resources.requests")),
        ("warmup", settings.get("resources.warmup")),
        ("batch_sizes", tuple(sorted(int(size) for size in settings.get("resources.throughput")))),
        ("throughput_s", settings.get("resources.throughput_s")),
        ("factory", settings.get("resources.factory")),
        ("timeout_s", settings.get("resources.timeout_s")),
    )


def _memory_ceiling(phase: str, settings: Settings) -> float | None:
    ceiling = settings.get("resources.memory_mb").get(phase)
    if ceiling is None and phase == "inference":
        ceiling = settings.get("server.memory_mb")
    return ceiling


def _make(name: str | None, settings: Settings) -> CheckSpec:
    name = str(name)
    common = _common(settings)
    kind, _, arg = name.partition("-")
    hint = (
        "set its budget in [tool.mlguard.resources]: latency_ms = {p95 = ...}, throughput = {32 = ...} "
        "or memory_mb = {load = ...} (or [tool.mlguard.server] memory_mb)"
    )
    if kind == "latency" and _PERCENTILE.fullmatch(arg):
        ceiling = settings.get("resources.latency_ms").get(arg)
        if ceiling is None:
            raise KeyError(f"resources[{name}] has no budget: {hint}")
        params = (*common, ("percentile", float(arg[1:])))
        return CheckSpec("resources", name, f"latency_{arg}_ms", Threshold(ceiling), "ceiling", params, ("production", "latency"))
    if kind == "throughput" and arg.startswith("bs") and arg[2:].isdigit():
        floor = settings.get("resources.throughput").get(str(int(arg[2:])))
        if floor is None:
            raise KeyError(f"resources[{name}] has no budget: {hint}")
        params = (*common, ("batch_size", int(arg[2:])))
        return CheckSpec("resources", name, "samples_per_s", Threshold(floor), "floor", params, ("production", "throughput"))
    if kind == "memory" and arg in MEMORY_PHASES:
        ceiling = _memory_ceiling(arg, settings)
        if ceiling is None:
            raise KeyError(f"resources[{name}] has no budget: {hint}")
        params = (*common, ("phase", arg))
        return CheckSpec("resources", name, f"peak_{arg}_mb", Threshold(ceiling), "ceiling", params, ("production", "memory"))
    raise KeyError(
        f"no check resources[{name}]; expected resources[latency-p<q>], resources[throughput-bs<size>], "
        "resources[memory-load] or resources[memory-inference]"
    )


def _plan(settings: Settings) -> list[CheckSpec]:
    names = [f"latency-{p}" for p in sorted(settings.get("resources.latency_ms"), key=lambda p: float(p[1:]))]
    names += [f"throughput-bs{size}" for size in sorted(settings.get("resources.throughput"), key=int)]
    names += [f"memory-{phase}" for phase in MEMORY_PHASES if _memory_ceiling(phase, settings) is not None]
    return [_make(name, settings) for name in names]


_POSITIVE = parse_number(0.0, open_min=True)

FAMILY = Family(
    name="resources",
    keys=(
        *SERVER_KEYS,
        Key(
            "resources.latency_ms",
            parse_table(_POSITIVE, name=_percentile_name),
            {},
            "ceilings of single-request latency percentiles in ms, such as {p50 = 5, p99 = 20}",
            table=True,
        ),
        Key(
            "resources.throughput",
            parse_table(_POSITIVE, name=_batch_size_name),
            {},
            "floors of throughput in samples/s by batch size, such as {1 = 200, 32 = 2000}",
            table=True,
        ),
        Key(
            "resources.memory_mb",
            parse_table(_POSITIVE, name=_memory_phase),
            {},
            "ceilings of peak resident memory in MB after loading and serving (on a cuda device, of GPU memory torch allocated): {load = ..., inference = ...}",
            table=True,
        ),
        Key("resources.requests", parse_int(1, 1_000_000), 200, "single-sample requests timed for the latency checks"),
        Key("resources.warmup", parse_int(0, 100_000), 10, "untimed requests sent before the timed ones"),
        Key("resources.throughput_s", parse_number(0.0, 600.0, open_min=True), 0.5, "seconds each batch size runs for"),
        Key(
            "resources.factory",
            parse_optional(_parse_factory),
            None,
            "'module:function' returning the model in the worker process; none: pickle the model",
        ),
        Key("resources.timeout_s", parse_number(1.0, 86_400.0), 300.0, "time limit of the measuring process in seconds"),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.production._resources.run:run_check",
    rank=7,
    prior_seconds=3.0,  # a worker process: start-up, latency requests, throughput runs
    shared=True,  # one measurement, read by every resources check
    machine=True,  # measured on this machine: the cache key holds the machine's identity
    doc="latency, throughput and peak memory in a process limited like the production server, against budgets",
)
