"""Adversarial robustness through ART: robust accuracy against a floor, ``attack[<attack>-<norm>-<eps>]``.

Settings (``[tool.mlguard.attack]``):

* ``checks``: attacks as ``<attack>-<norm>-<eps>`` with epsilon in the model's raw input units,
  fractions allowed (default ``["fgsm-linf-2/255", "pgd-linf-2/255"]``);
* ``steps``: iterations of iterative attacks (default 10);
* ``step_size``: step of iterative attacks as a fraction of epsilon (default ``2.5 / steps``);
* ``samples``: evaluation samples the attacks use (default: all of ``samples``);
* ``batch_size``: attack batch size (default 128);
* ``floor``, ``floors``: the robust-accuracy floor of every check (default ``"0.5*clean"``) and per
  check (``pgd-linf-0.1``) or per attack (``pgd``).
"""

from __future__ import annotations

from typing import Any

from ..checks.base import CheckSpec, Family
from ..config.parse import (
    Threshold,
    invalid,
    parse_int,
    parse_list,
    parse_number,
    parse_optional,
    parse_table,
    parse_threshold,
)
from ..config.settings import Key, Settings
from .registry import ATTACKS, parse_attack_id

__all__ = ["FAMILY"]


def _parse_check(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise invalid(value, key, where, "an attack check such as 'pgd-linf-0.1'")
    try:
        return parse_attack_id(value).name
    except ValueError as exc:
        raise invalid(value, key, where, str(exc)) from None


def _parse_floor_name(name: str, key: str, where: str) -> str:
    if name in ATTACKS:
        return name
    return _parse_check(name, key, where)


def _make(check: str | None, settings: Settings) -> CheckSpec:
    """The spec of ``<attack>-<norm>-<eps>`` under ``settings``."""
    try:
        attack = parse_attack_id(str(check))
    except ValueError as exc:
        raise KeyError(f"expected {exc}, got {check!r}") from None
    floors = settings.get("attack.floors")
    threshold = floors.get(attack.name, floors.get(attack.attack, settings.get("attack.floor")))
    steps = settings.get("attack.steps")
    step_size = settings.get("attack.step_size")
    params: tuple[tuple[str, Any], ...] = (
        ("attack", attack.attack),
        ("norm", attack.norm),
        ("eps", attack.eps),
        ("steps", steps),
        ("step_size", step_size if step_size is not None else 2.5 / steps),
        ("samples", settings.get("attack.samples")),
        ("batch_size", settings.get("attack.batch_size")),
    )
    return CheckSpec("attack", attack.name, "robust_accuracy", threshold, params=params, keywords=(attack.attack,))


def _plan(settings: Settings) -> list[CheckSpec]:
    return [_make(text, settings) for text in settings.get("attack.checks")]


FAMILY = Family(
    name="attack",
    keys=(
        Key("attack.checks", parse_list(_parse_check), ("fgsm-linf-2/255", "pgd-linf-2/255"), "attacks to run, <attack>-<norm>-<eps>"),
        Key("attack.steps", parse_int(1, 100000), 10, "iterations of iterative attacks (PGD)"),
        Key("attack.step_size", parse_optional(parse_number(0.0, 10.0, open_min=True)), None, "step of iterative attacks, a fraction of eps (none: 2.5/steps)"),
        Key("attack.samples", parse_optional(parse_int(1)), None, "evaluation samples the attacks use (none: all of samples)"),
        Key("attack.batch_size", parse_int(1), 128, "batch size of the attacks"),
        Key("attack.floor", parse_threshold, Threshold(0.5, "clean"), "floor of robust accuracy under each attack"),
        Key("attack.floors", parse_table(parse_threshold, name=_parse_floor_name), {}, "floors per attack or per attack check", table=True),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.attacks.run:run_check",
    doc="robust accuracy under ART attacks (FGSM, PGD) against a floor",
)
