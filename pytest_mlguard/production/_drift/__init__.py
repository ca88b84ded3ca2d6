"""Precision and infrastructure drift: ``drift[bfloat16]``, ``drift[threads]``, ``drift[torchscript]``,
``drift[export]``, ``drift[int8]``.

Each check runs the model as deployed some other way and compares it with the float32 eager model
on the evaluation data: the value is the top-1 agreement; the largest probability difference is in
the details (and is a check of its own, ``drift[<variant>-proba]``, when ``max_proba_diff`` is set).

* ``bfloat16``: CPU (or the device's) autocast to bfloat16;
* ``threads``: 1 torch thread against ``threads`` (default: ``server.threads``, else every core);
* ``torchscript``: ``torch.jit.trace``; ``export``: ``torch.export.export`` with a dynamic batch;
* ``int8``: dynamic int8 quantisation of the linear and recurrent layers (``quantize_dynamic``).

Settings (``[tool.mlguard.drift]``):

* ``checks``: which variants the suite compares (default: none);
* ``floor``, ``floors``: the top-1 agreement floor (default 0.99), per variant;
* ``max_proba_diff``: a ceiling of the largest probability difference, adding a
  ``drift[<variant>-proba]`` check per variant (default: none);
* ``threads``: the thread count ``drift[threads]`` compares with 1.
"""

from __future__ import annotations

from typing import Any

from ...checks._base import CheckSpec, Family
from ...config.parse import Threshold, parse_int, parse_optional, parse_unit_interval
from ...config._settings import Key, Settings
from .._keys import selection_keys


VARIANTS = ("bfloat16", "threads", "torchscript", "export", "int8")
PROBA_SUFFIX = "-proba"


def _threads(settings: Settings) -> int | None:
    return settings.get("drift.threads") or settings.get("server.threads")


def _make(name: str | None, settings: Settings) -> CheckSpec:
    variant = str(name).removesuffix(PROBA_SUFFIX)
    if variant not in VARIANTS:
        known = [f"drift[{v}]" for v in VARIANTS] + [f"drift[{v}{PROBA_SUFFIX}]" for v in VARIANTS]
        raise KeyError(f"no check drift[{name}]; expected one of {known}")
    params: tuple[tuple[str, Any], ...] = (("variant", variant), ("threads", _threads(settings)))
    if str(name).endswith(PROBA_SUFFIX):
        ceiling = settings.get("drift.max_proba_diff")
        threshold = Threshold(1.0) if ceiling is None else Threshold(ceiling)
        return CheckSpec("drift", name, "max_proba_diff", threshold, "ceiling", params, ("production", variant))
    threshold = Threshold(settings.get("drift.floors").get(variant, settings.get("drift.floor")))
    return CheckSpec("drift", variant, "agreement", threshold, params=params, keywords=("production",))


def _plan(settings: Settings) -> list[CheckSpec]:
    checks = [_make(variant, settings) for variant in settings.get("drift.checks")]
    if settings.get("drift.max_proba_diff") is not None:
        checks += [_make(variant + PROBA_SUFFIX, settings) for variant in settings.get("drift.checks")]
    return checks


FAMILY = Family(
    name="drift",
    keys=(
        *selection_keys("drift", VARIANTS, 0.99, "the top-1 agreement with the float32 eager model"),
        Key(
            "drift.max_proba_diff",
            parse_optional(parse_unit_interval),
            None,
            "ceiling of the largest probability difference; adds drift[<variant>-proba] checks",
        ),
        Key(
            "drift.threads",
            parse_optional(parse_int(2, 1024)),
            None,
            "threads drift[threads] compares with 1; none: server.threads, else every core",
        ),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.production._drift.variants:run_check",
    rank=5,
    prior_forwards=10.0,
    machine=True,  # bfloat16, int8 and thread counts give CPU-dependent results
    doc="top-1 agreement of bfloat16, other thread counts, exported and int8 models with the float32 eager model",
    tasks=("classification", "segmentation", "detection"),  # segmenters and detectors: pixel- and box-level agreement
)
