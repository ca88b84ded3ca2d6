"""Corruption robustness: accuracy under the 19 ImageNet-C corruptions at five severities.

Each (corruption, severity) is one check, ``corruption[<name>-<severity>]``, whose keywords are the
corruption's name and group, so ``-k noise``, ``-k blur``, ``-k weather`` or ``-k digital`` selects
a group. Settings (``[tool.mlguard.corruption]``):

* ``corruptions``: corruption names, group names (``noise``, ``blur``, ``weather``, ``digital``)
  or ``all`` (default ``["gaussian_noise"]``);
* ``severities``: severities 1..5, or ``all`` (default ``[3]``); every corruption runs at each;
* ``floor``: the floor of every check: a number in [0, 1] or relative, ``"0.5*clean"`` (default);
* ``floors``: floors by ``<corruption>-<severity>``, ``<corruption>``, ``<group>-<severity>``,
  ``<group>`` or ``severity-<severity>``, the first that matches winning;
* ``reference``: the published parameter set, ``imagenet-c`` (224 px), ``tiny-imagenet-c`` (64 px),
  ``cifar-10-c`` (32 px), or ``auto`` (default): the one nearest to the image's size
  (:mod:`pytest_mlguard.corruptions._references`);
* ``scale``: multiplies the spatial parameters (blur radii, displacements), ``auto`` (default):
  the image's shorter side / the side of the published set (at least 1 below 32 px);
* ``workers``: threads that corrupt ahead of inference (0: corrupt, then predict); ``auto``
  (default): one thread where the model runs on an accelerator or inference barely uses the CPU (a
  remote model), none where inference keeps the cores busy;
* ``baseline``: a previous ``report.json`` whose corruption errors normalise the Corruption Error
  (CE, mCE) of the report's corruption summary (default: none).

The functional core (:func:`corrupt`, the registry) and the Hypothesis strategy
(:mod:`pytest_mlguard.corruptions._strategies`) work without pytest.

Example:
    >>> from pytest_mlguard.config import resolve
    >>> from pytest_mlguard.checks._registry import all_keys
    >>> settings = resolve(cli={"corruption.corruptions": "noise", "corruption.severities": "1,5"}, environ={}, keys=all_keys())
    >>> [spec.id for spec in FAMILY.plan(settings)][:3]
    ['corruption[gaussian_noise-1]', 'corruption[gaussian_noise-5]', 'corruption[shot_noise-1]']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..checks._base import CheckSpec, Family, Plot
from ..config.parse import (
    Parser,
    Threshold,
    invalid,
    parse_int,
    parse_list,
    parse_number,
    parse_optional,
    parse_path,
    parse_table,
    parse_threshold,
    takes_list,
)
from ..config._settings import Key, Settings
from ._references import REFERENCES
from ._registry import GROUPS, REGISTRY, SEVERITIES, names

if TYPE_CHECKING:
    from ._functional import corrupt

__all__ = ["FAMILY", "GROUPS", "REGISTRY", "SEVERITIES", "corrupt", "floor_for", "names", "selected"]


def __getattr__(name: str) -> Any:
    if name == "corrupt":  # lazily: the functional core imports numpy
        return importlib.import_module("._functional", __name__).corrupt
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _parse_name(value: Any, key: str, where: str) -> str:
    if value == "all" or value in REGISTRY or value in GROUPS:
        return str(value)
    raise invalid(
        value, key, where, f"a corruption name, one of {', '.join(REGISTRY)}; a group, one of {', '.join(GROUPS)}; or all"
    )


@takes_list
def _parse_severities(value: Any, key: str, where: str) -> tuple[int, ...]:
    if value == "all" or value == ["all"]:
        return SEVERITIES
    return parse_list(parse_int(1, 5))(value, key, where)


def _parse_scale(value: Any, key: str, where: str) -> float | None:
    if value in (None, "auto"):
        return None
    number: Parser = parse_number(0.0, 100.0, open_min=True)
    try:
        return number(value, key, where)
    except ValueError:
        raise invalid(value, key, where, "'auto' or a number in (0, 100]") from None


def _parse_reference(value: Any, key: str, where: str) -> str:
    if value == "auto" or value in REFERENCES:
        return str(value)
    raise invalid(value, key, where, f"'auto' or a published set, one of {', '.join(REFERENCES)}")


def _parse_workers(value: Any, key: str, where: str) -> int | None:
    if value in (None, "auto"):
        return None
    try:
        return parse_int(0, 64)(value, key, where)
    except ValueError:
        raise invalid(value, key, where, "'auto' or an integer in [0, 64]") from None


def _split(name: str) -> tuple[str, int | None]:
    base, _, severity = name.rpartition("-")
    if base and severity.isdigit() and int(severity) in SEVERITIES:
        return base, int(severity)
    return name, None


def _parse_floor_name(name: str, key: str, where: str) -> str:
    base, severity = _split(name)
    if base in REGISTRY or base in GROUPS or (base == "severity" and severity is not None):
        return name
    raise invalid(
        name,
        key,
        where,
        "a corruption name or '<corruption>-<severity>' such as 'gaussian_noise-3', a group or "
        "'<group>-<severity>' such as 'blur-5', or 'severity-<severity>'",
    )


def floor_for(name: str, severity: int, settings: Settings) -> Threshold:
    """The floor of ``<name>-<severity>``: the most specific entry of ``corruption.floors`` (corruption
    and severity, corruption, group and severity, group, severity), else ``corruption.floor``."""
    floors = settings.get("corruption.floors")
    group = REGISTRY[name].group
    for entry in (f"{name}-{severity}", name, f"{group}-{severity}", group, f"severity-{severity}"):
        if entry in floors:
            return floors[entry]
    return settings.get("corruption.floor")


def _make(check: str | None, settings: Settings) -> CheckSpec:
    """The spec of ``<corruption>-<severity>`` under ``settings``."""
    name, severity = _split(str(check))
    if name not in REGISTRY or severity is None:
        raise KeyError(
            f"expected a check '<corruption>-<severity>', such as 'gaussian_noise-3', with a corruption of "
            f"{', '.join(REGISTRY)} and a severity 1..5; got {check!r}"
        )
    from ..checks._family import task_of

    return CheckSpec(
        "corruption",
        f"{name}-{severity}",
        {"segmentation": "miou", "detection": "map"}.get(task_of(settings), "accuracy"),
        floor_for(name, severity, settings),
        params=(("corruption", name), ("severity", severity)),
        keywords=(REGISTRY[name].group, name),
    )


def selected(entries: tuple[str, ...]) -> tuple[str, ...]:
    """Corruption names of ``corruption.corruptions`` entries (names, groups, ``all``), in registry
    order within a group or ``all`` and without repeats."""
    chosen: list[str] = []
    for entry in entries:
        expanded = names() if entry == "all" else names(entry) if entry in GROUPS else (entry,)
        chosen.extend(name for name in expanded if name not in chosen)
    return tuple(chosen)


def _plan(settings: Settings) -> list[CheckSpec]:
    return [
        _make(f"{name}-{severity}", settings)
        for name in selected(settings.get("corruption.corruptions"))
        for severity in settings.get("corruption.severities")
    ]


FAMILY = Family(
    name="corruption",
    keys=(
        Key(
            "corruption.corruptions",
            parse_list(_parse_name),
            ("gaussian_noise",),
            "corruptions to run: names, groups (noise, blur, weather, digital) or all",
        ),
        Key("corruption.severities", _parse_severities, (3,), "severities (1..5, or all) to run each corruption at"),
        Key("corruption.floor", parse_threshold, Threshold(0.5, "clean"), "floor of accuracy under each corruption"),
        Key(
            "corruption.floors",
            parse_table(parse_threshold, name=_parse_floor_name),
            {},
            "floors by corruption-severity, corruption, group-severity, group or severity-N",
            table=True,
        ),
        Key(
            "corruption.reference",
            _parse_reference,
            "auto",
            "published parameters: imagenet-c (224 px), tiny-imagenet-c (64), cifar-10-c (32); auto: nearest to the image size",
        ),
        Key(
            "corruption.scale",
            _parse_scale,
            None,
            "multiplier of spatial corruption parameters; auto: shorter image side / the reference's side",
        ),
        Key(
            "corruption.workers",
            _parse_workers,
            None,
            "threads that corrupt ahead of inference (0: none); auto: 1 on an accelerator or for a remote model",
        ),
        Key(
            "corruption.baseline",
            parse_optional(parse_path),
            None,
            "a previous report.json: normalises the Corruption Error (CE, mCE) of the corruption summary",
        ),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.corruptions._tasks:run_check",  # the classifier's in _run, the segmenter's in _tasks
    tasks=("classification", "segmentation", "detection"),
    shard=lambda spec: "outcomes",
    merge="pytest_mlguard.corruptions._merge:merged_corruption",
    rank=3,
    sampled=True,
    prior_forwards=8.0,
    rerun=True,
    hooks="pytest_mlguard.corruptions._report",  # the corruption summary in the report and the terminal
    plots=Plot("pytest_mlguard.corruptions._figures:curves", absent="No accuracy-against-severity plot: no corruption check recorded a result.", order=1),
    doc="accuracy (mIoU, mAP) under common corruptions (ImageNet-C) at each severity against a floor",
)
