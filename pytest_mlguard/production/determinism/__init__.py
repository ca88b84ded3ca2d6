"""Concurrency and determinism: ``determinism[repeat]``, ``determinism[threads]``, ``determinism[batch]``.

* ``repeat``: the same inputs, called again, give the same outputs;
* ``threads``: requests sent from ``threads`` client threads at once give the outputs of the same
  requests sent one after another (a model that keeps per-request state on ``self`` fails);
* ``batch``: a sample's output does not depend on what else is in its batch, nor on the batch order
  (batch norm left to batch statistics fails).

Each check's value is the fraction of samples whose outputs match: the top-1 class is the same, and
the probabilities differ by no more than ``tolerance``, or by no more than float rounding of the
sample's logits can move them (``0.5 * 16 * eps * max|logit|``: kernels chosen by batch shape or
thread count round logits near 900 an ulp apart, which moves the probabilities of a sample near a tie
by more than 1e-5). ``tolerance = 0`` demands bit-identical outputs.

Settings (``[tool.mlguard.determinism]``):

* ``checks``: which of ``repeat``, ``threads``, ``batch`` the suite runs (default: none);
* ``tolerance``: the largest absolute probability difference still counted as equal, beyond float
  rounding of the logits (default 1e-5; 0 demands bit-identical outputs);
* ``floor``, ``floors``: the fraction of samples that must match (default 1.0, all), per check;
* ``threads``: client threads sending requests at once (default 8);
* ``request_size``: samples per request in the ``threads`` check (default 1);
* ``repeats``: calls compared in the ``repeat`` check (default 3).
"""

from __future__ import annotations

from typing import Any

from ...checks._base import CheckSpec, Family
from ...config.parse import Threshold, parse_int, parse_number
from ...config._settings import Key, Settings
from .._keys import selection_keys


CHECKS = ("repeat", "threads", "batch")


def _make(name: str | None, settings: Settings) -> CheckSpec:
    if name not in CHECKS:
        raise KeyError(f"no check determinism[{name}]; expected one of {[f'determinism[{c}]' for c in CHECKS]}")
    params: tuple[tuple[str, Any], ...] = (("tolerance", settings.get("determinism.tolerance")),)
    if name == "threads":
        params += (("threads", settings.get("determinism.threads")), ("request_size", settings.get("determinism.request_size")))
    elif name == "repeat":
        params += (("repeats", settings.get("determinism.repeats")),)
    threshold = Threshold(settings.get("determinism.floors").get(name, settings.get("determinism.floor")))
    return CheckSpec("determinism", name, "matching_fraction", threshold, params=params, keywords=("production",))


def _plan(settings: Settings) -> list[CheckSpec]:
    return [_make(name, settings) for name in settings.get("determinism.checks")]


FAMILY = Family(
    name="determinism",
    keys=(
        *selection_keys("determinism", CHECKS, 1.0, "the fraction of samples whose outputs match"),
        Key(
            "determinism.tolerance",
            parse_number(0.0, 1.0),
            1e-5,
            "largest absolute probability difference counted as equal outputs, beyond float rounding of the logits; a changed top-1 class never matches (0: bit-identical)",
        ),
        Key("determinism.threads", parse_int(2, 256), 8, "client threads sending requests at once"),
        Key("determinism.request_size", parse_int(1, 4096), 1, "samples per request in determinism[threads]"),
        Key("determinism.repeats", parse_int(2, 100), 3, "calls compared in determinism[repeat]"),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.production.determinism.functional:run_check",
    rank=5,
    sampled=True,
    prior_forwards=50.0,
    machine=True,  # measured on this machine: the cache key holds the machine's identity
    doc="same outputs for repeated calls, concurrent requests and any batch composition",
    tasks=("classification", "segmentation", "detection"),  # segmenters and detectors: pixel- and box-level agreement
)
