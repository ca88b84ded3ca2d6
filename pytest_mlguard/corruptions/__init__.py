"""Corruption robustness: accuracy under common corruptions, ``corruption[<name>-<severity>]``.

Settings (``[tool.mlguard.corruption]``):

* ``corruptions``: names from the registry (default ``["gaussian_noise"]``);
* ``severities``: severities 1..5 (default ``[3]``); every corruption runs at every severity;
* ``floor``: the floor of every check: a number in [0, 1] or relative, ``"0.5*clean"`` (default);
* ``floors``: per-corruption (``gaussian_noise``) or per-check (``gaussian_noise-3``) floors.
"""

from __future__ import annotations

from typing import Any

from ..checks.base import CheckSpec, Family
from ..config.parse import Threshold, invalid, parse_int, parse_list, parse_table, parse_threshold
from ..config.settings import Key, Settings
from .registry import REGISTRY, SEVERITIES

__all__ = ["FAMILY"]


def _parse_name(value: Any, key: str, where: str) -> str:
    if value not in REGISTRY:
        raise invalid(value, key, where, f"a corruption name, one of {', '.join(sorted(REGISTRY))}")
    return str(value)


def _parse_floor_name(name: str, key: str, where: str) -> str:
    base, _, severity = name.rpartition("-")
    if name in REGISTRY or (base in REGISTRY and severity.isdigit() and int(severity) in SEVERITIES):
        return name
    raise invalid(name, key, where, "a corruption name or '<corruption>-<severity>', such as 'gaussian_noise-3'")


def _make(check: str | None, settings: Settings) -> CheckSpec:
    """The spec of ``<corruption>-<severity>`` under ``settings``."""
    check = _parse_floor_name(str(check), "check", "the check name")
    name, _, severity = check.rpartition("-")
    if not name:
        raise KeyError(f"expected a check '<corruption>-<severity>', such as 'gaussian_noise-3', got {check!r}")
    floors = settings.get("corruption.floors")
    threshold = floors.get(check, floors.get(name, settings.get("corruption.floor")))
    return CheckSpec(
        "corruption",
        check,
        "accuracy",
        threshold,
        params=(("corruption", name), ("severity", int(severity))),
        keywords=(REGISTRY[name].group, name),
    )


def _plan(settings: Settings) -> list[CheckSpec]:
    return [
        _make(f"{name}-{severity}", settings)
        for name in settings.get("corruption.corruptions")
        for severity in settings.get("corruption.severities")
    ]


FAMILY = Family(
    name="corruption",
    keys=(
        Key("corruption.corruptions", parse_list(_parse_name), ("gaussian_noise",), "corruptions to run"),
        Key("corruption.severities", parse_list(parse_int(1, 5)), (3,), "severities (1..5) to run each corruption at"),
        Key("corruption.floor", parse_threshold, Threshold(0.5, "clean"), "floor of accuracy under each corruption"),
        Key(
            "corruption.floors",
            parse_table(parse_threshold, name=_parse_floor_name),
            {},
            "floors per corruption or per corruption-severity",
            table=True,
        ),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.corruptions.run:run_check",
    doc="accuracy under common corruptions (ImageNet-C) at each severity against a floor",
)
