"""Adversarial robustness through ART: robust-accuracy floors, epsilon sweeps and minimal attacks.

Check ids (see :mod:`pytest_mlguard.attacks._registry` and docs/attacks.md):

* ``attack[<attack>-<norm>-<eps>]``: robust accuracy within the epsilon ball (``pgd-linf-8/255``);
* ``attack[<attack>-<norm>-sweep]``: robust accuracy against epsilon; the metric is the mean robust
  accuracy over the sweep's epsilons (the normalised area under the curve);
* ``attack[<attack>-<norm>]``: a minimal-perturbation attack (``deepfool-l2``, ``cw-l2``,
  ``hopskipjump-l2``); the metric is the median perturbation norm that flips a correctly classified
  sample, in raw input units.

Settings (``[tool.mlguard.attack]``):

* ``checks``: the checks to run (default ``["fgsm-linf-2/255", "pgd-linf-2/255"]``);
* ``steps``, ``step_size``: iterations of PGD and its step as a fraction of epsilon (default 10 and
  ``2.5 / steps``);
* ``queries``: query budget per sample of the black-box attacks (default 1000);
* ``sweep``, ``sweep_l2``: the epsilons of L-inf and L2 sweeps;
* ``params``: parameters per attack, ``[tool.mlguard.attack.params.pgd] restarts = 1``;
* ``samples``, ``batch_size``: samples the attacks use (default all of ``samples``) and batch size;
* ``floor``, ``floors``: the robust-accuracy floor of every check (default ``"0.5*clean"``) and per
  check (``pgd-linf-0.1``) or per attack (``pgd``); for a minimal attack the floor is a radius;
* ``soundness``: ``"fail"`` (default) or ``"warn"``: what an unsound evaluation does;
* ``tolerance``: the fraction of samples an unsound sign may concern before it is reported;
* ``patch_steps`` (detection only): iterations of ``patch-<side>``, ART's RobustDPatch, a square patch of
  ``side`` pixels over the images' top-left corner, whose robust mAP is checked against ``floor``.

A segmentation model runs the fixed-epsilon PGD and FGSM (L-inf) checks, a detector those and the patches
(:mod:`._tasks`); the others assume one class vector per input and are left out of their plans.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..checks._base import CheckSpec, Family, Plot
from ..config.parse import (
    Threshold,
    invalid,
    parse_choice,
    parse_int,
    parse_list,
    parse_number,
    parse_optional,
    parse_threshold,
    parse_unit_interval,
    takes_list,
)
from ..config._settings import Key, Settings
from ._registry import ATTACKS, AttackId, parse_attack_id, parse_attack_params, parse_eps
from ._registry import applies_to_segmentation as _applies_to_segmentation

__all__ = ["FAMILY", "AttackId", "UnsoundEvaluationWarning", "attack_forwards", "attack_params", "parse_attack_id", "parse_attack_params", "parse_eps", "patch_side"]


class UnsoundEvaluationWarning(UserWarning):
    """An attack evaluation shows a sign of being unsound (gradient masking, say) and
    ``attack.soundness`` is ``"warn"``. ``-W error::pytest_mlguard.attacks.UnsoundEvaluationWarning``
    or ``attack.soundness = "fail"`` turns it into a failure."""


def patch_side(name: str) -> int | None:
    """The side in pixels of a detector's patch attack check ``patch-<side>`` (1 to 4096), else ``None``.

    Example:
        >>> patch_side("patch-24"), patch_side("patch-0")
        (24, None)
    """
    side = name.removeprefix("patch-")
    return int(side) if name.startswith("patch-") and side.isdigit() and 1 <= int(side) <= 4096 else None


def _parse_check(value: Any, key: str, where: str) -> str:
    if isinstance(value, str) and patch_side(value) is not None:
        return value
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


def _is_minimal(name: str) -> bool:
    attack = name.split("-", 1)[0]
    return attack in ATTACKS and ATTACKS[attack].minimal


_parse_radius = parse_number(0.0)


def _parse_floors(value: Any, key: str, where: str) -> dict[str, Threshold]:
    """``{pgd = 0.3, "pgd-linf-8/255" = "0.5*clean", "deepfool-l2" = 0.4}``: robust-accuracy floors,
    and for minimal attacks a radius in raw input units."""
    if not isinstance(value, Mapping):
        raise invalid(value, key, where, "a table of name = floor")
    parsed: dict[str, Threshold] = {}
    for raw_name, floor in value.items():
        name = _parse_floor_name(str(raw_name), key, where)
        entry = f"{key}.{raw_name}"
        if _is_minimal(name):
            if isinstance(floor, str) and "*" in floor:
                raise invalid(floor, entry, where, f"a radius >= 0 in raw input units: {name} is a minimal attack")
            parsed[name] = Threshold(_parse_radius(floor, entry, where))
        else:
            parsed[name] = parse_threshold(floor, entry, where)
    return parsed


def _parse_params(value: Any, key: str, where: str) -> dict[str, Any]:
    """``{pgd = {steps = 20}}`` or, from the command line, ``pgd.steps = 20``: flattened to ``pgd.steps``."""
    if not isinstance(value, Mapping):
        raise invalid(value, key, where, "a table of attack = {parameter = value}, such as {pgd = {restarts = 1}}")
    parsed: dict[str, Any] = {}
    for name, entry in value.items():
        attack, _, param = str(name).partition(".")
        if attack not in ATTACKS:
            raise invalid(attack, key, where, f"an attack name, one of {', '.join(ATTACKS)}")
        table = {param: entry} if param else entry
        for param_name, param_value in parse_attack_params(table, f"{key}.{attack}", where).items():
            parsed[f"{attack}.{param_name}"] = param_value
    return parsed


@takes_list
def _parse_sweep(value: Any, key: str, where: str) -> tuple[float, ...]:
    def one(entry: Any, entry_key: str, entry_where: str) -> float:
        try:
            eps = parse_eps(str(entry)) if not isinstance(entry, bool) else math.nan
        except ValueError:
            eps = math.nan
        if math.isnan(eps):
            raise invalid(entry, entry_key, entry_where, "a positive epsilon such as 0.1 or 8/255")
        return eps

    epsilons = parse_list(one)(value, key, where)
    if not epsilons or list(epsilons) != sorted(epsilons):
        raise invalid(value, key, where, "a non-empty list of epsilons in increasing order")
    return epsilons


def attack_params(attack: AttackId, settings: Settings) -> dict[str, Any]:
    """Every parameter of ``attack`` under ``settings``: attack.params.<attack>.*, then the family-wide keys."""
    definition = ATTACKS[attack.attack]
    configured = {
        name.partition(".")[2]: value
        for name, value in settings.get("attack.params").items()
        if name.partition(".")[0] == attack.attack
    }
    params: dict[str, Any] = {}
    for param in definition.params:
        if param.name in configured:
            params[param.name] = configured[param.name]
        elif param.default is not None:
            params[param.name] = param.default
        else:
            params[param.name] = settings.get(f"attack.{param.name}")
    if "step_size" in params and params["step_size"] is None:
        params["step_size"] = 2.5 / params["steps"]
    return params


def _patch(side: int, settings: Settings) -> CheckSpec:
    """The spec of a detector's ``patch-<side>``: robust mAP under ART's RobustDPatch (detection/_run.py)."""
    name, floors = f"patch-{side}", settings.get("attack.floors")
    params = (("attack", "patch"), ("side", side), ("steps", settings.get("attack.patch_steps")), ("samples", settings.get("attack.samples")))
    return CheckSpec("attack", name, "robust_map", floors.get(name, settings.get("attack.floor")), params=params, keywords=("patch", "gradients"))


def _make(check: str | None, settings: Settings) -> CheckSpec:
    """The spec of ``<attack>-<norm>-<eps>``, ``<attack>-<norm>-sweep`` or ``<attack>-<norm>`` under ``settings``
    (a detector's: also ``patch-<side>``)."""
    from ..checks._family import task_of

    side = patch_side(str(check))
    if side is not None:
        return _patch(side, settings)
    try:
        attack = parse_attack_id(str(check))
    except ValueError as exc:
        raise KeyError(f"expected {exc}, got {check!r}") from None
    floors = settings.get("attack.floors")
    if attack.minimal:
        threshold = floors.get(attack.name, floors.get(attack.attack, Threshold(0.0)))
        metric = "median_perturbation"
    else:
        threshold = floors.get(attack.name, floors.get(attack.attack, settings.get("attack.floor")))
        metric = "mean_robust_accuracy" if attack.sweep else "robust_accuracy"
    metric = {"segmentation": "robust_miou", "detection": "robust_map"}.get(task_of(settings), metric)
    sweep = settings.get("attack.sweep" if attack.norm == "linf" else "attack.sweep_l2")
    params: tuple[tuple[str, Any], ...] = (
        ("attack", attack.attack),
        ("norm", attack.norm),
        ("eps", attack.eps),
        ("sweep", sweep if attack.sweep or attack.minimal else None),
        ("params", tuple(sorted(attack_params(attack, settings).items()))),
        ("samples", settings.get("attack.samples")),
        ("batch_size", settings.get("attack.batch_size")),
        ("soundness", settings.get("attack.soundness")),
        ("tolerance", settings.get("attack.tolerance")),
    )
    keywords = (attack.attack, ATTACKS[attack.attack].access, *(("sweep",) if attack.sweep else ()))
    return CheckSpec("attack", attack.name, metric, threshold, params=params, keywords=keywords)


def _plan(settings: Settings) -> list[CheckSpec]:
    from ..checks._family import task_of

    task = task_of(settings)
    checks = [_make(text, settings) for text in settings.get("attack.checks")]
    if task in ("segmentation", "detection"):  # the gradient attacks at a fixed epsilon (attacks/_tasks.py), and a detector's patches
        return [spec for spec in checks if _applies_to_segmentation(spec) or (task == "detection" and spec.param("attack") == "patch")]
    return [spec for spec in checks if spec.param("attack") != "patch"]  # a patch attacks a detector's boxes


def attack_forwards(spec: CheckSpec) -> float:
    """Forward-equivalents per sample of an attack check (a gradient counts as two forwards)."""
    params = dict(spec.param("params") or ())
    name = spec.param("attack")
    if name == "fgsm":
        per_eps = 4.0
    elif name == "patch":
        per_eps = 3.0 * float(spec.param("steps") or 10) + 2
    elif name in ("square", "hopskipjump"):
        per_eps = float(params.get("queries") or 1000) / 4  # success ends most searches well before the budget
    elif name in ("deepfool", "cw"):
        per_eps = 3.0 * float(params.get("max_iter") or params.get("steps") or 50)
    else:
        per_eps = 3.0 * float(params.get("steps") or 10) + 2
    sweep = spec.param("sweep") if spec.param("eps") is None and name not in ("deepfool", "cw") else None
    return per_eps * (len(sweep) if sweep else 1)


def _shard_kind(spec: CheckSpec) -> str | None:
    """How a shard measures an attack check of a classifier: ``"outcomes"`` at a fixed epsilon where the
    attack draws no randomness (FGSM, PGD without random starts: on the shard's samples); ``"chunks"``
    where it draws some for a whole batch (PGD with random starts, AutoAttack, Square), for a sweep and
    for a minimal attack (the shard's fixed seeded chunks of the run's attack samples, :mod:`._chunks`);
    ``None`` (the check runs whole on one shard) for a segmenter's or a detector's. A check the run compares
    with one of the other access (a black-box one beside a gradient one of its norm) is measured so too: the
    merge recomputes the comparison from both checks' merged outcomes (:mod:`._compare`).

    Example:
        >>> from pytest_mlguard.config import resolve
        >>> settings = resolve(keys=FAMILY.all_keys)
        >>> [_shard_kind(_make(name, settings)) for name in ("pgd-linf-0.1", "autoattack-linf-0.1", "square-l2-0.5", "pgd-linf-sweep", "deepfool-l2")]
        ['outcomes', 'chunks', 'chunks', 'chunks', 'chunks']
    """
    from ._registry import chunked

    if spec.metric not in ("robust_accuracy", "mean_robust_accuracy", "median_perturbation"):  # segmentation's mIoU, detection's mAP
        return None
    return "chunks" if chunked(spec) else "outcomes"


FAMILY = Family(
    name="attack",
    keys=(
        Key(
            "attack.checks",
            parse_list(_parse_check),
            ("fgsm-linf-2/255", "pgd-linf-2/255"),
            "attack checks: <attack>-<norm>-<eps>, <attack>-<norm>-sweep, or <attack>-<norm> for minimal attacks; patch-<side> for a detector",
        ),
        Key("attack.steps", parse_int(1, 100000), 10, "iterations of PGD"),
        Key(
            "attack.step_size",
            parse_optional(parse_number(0.0, 10.0, open_min=True)),
            None,
            "step of PGD, a fraction of eps (none: 2.5/steps)",
        ),
        Key("attack.queries", parse_int(1, 10**7), 1000, "query budget per sample of the black-box attacks"),
        Key("attack.sweep", _parse_sweep, (1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255), "epsilons of L-inf sweeps"),
        Key("attack.sweep_l2", _parse_sweep, (0.125, 0.25, 0.5, 1.0, 2.0), "epsilons of L2 sweeps"),
        Key("attack.params", _parse_params, {}, "parameters per attack, such as {pgd = {restarts = 1}}", table=True),
        Key("attack.samples", parse_optional(parse_int(1)), None, "evaluation samples the attacks use (none: all of samples)"),
        Key("attack.batch_size", parse_int(1), 128, "batch size of the attacks"),
        Key("attack.floor", parse_threshold, Threshold(0.5, "clean"), "floor of robust accuracy under each attack"),
        Key(
            "attack.floors",
            _parse_floors,
            {},
            "floors per attack or per check; a radius for minimal attacks",
            table=True,
        ),
        Key(
            "attack.soundness",
            parse_choice("fail", "warn"),
            "fail",
            "what a sign of an unsound evaluation (masked gradients, ...) does: fail the check or warn",
        ),
        Key(
            "attack.tolerance",
            parse_unit_interval,
            0.02,
            "fraction of samples a sign of an unsound evaluation may concern before it is reported",
        ),
        Key("attack.patch_steps", parse_int(1, 10_000), 10, "detection only: iterations of the patch-<side> checks (ART's RobustDPatch)"),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.attacks._tasks:run_check",  # the classifier's in run.py, the segmenter's in _tasks
    tasks=("classification", "segmentation", "detection"),
    plots=Plot("pytest_mlguard.attacks._figures:curves", absent="No robust-accuracy-against-epsilon plot: no attack check recorded a result.", order=2),
    rank=4,
    rank_of=lambda spec: 6 if spec.param("eps") is None else None,  # sweeps and minimal attacks: several attacks' worth each
    sampled=True,
    prior_forwards=1.0,  # per forward-equivalent of work
    work=attack_forwards,
    samples=lambda spec, n: min(n, int(spec.param("samples"))) if spec.param("samples") else n,
    rerun=True,
    shard=_shard_kind,
    merge="pytest_mlguard.attacks._merge_curves:merged",  # a fixed-epsilon check in _merge.py
    together=True,  # a black-box attack beating a gradient one at the same epsilon is found in the process that runs both
    doc="robust accuracy under ART attacks (FGSM, PGD, AutoAttack, Square; DeepFool, CW, HopSkipJump) against a floor",
)
