"""Object detection: clean mAP, mAP under the 19 corruptions with mPC / rPC, detection ECE and robust mAP
under PGD, for a model that declares ``task = "detection"`` (torchvision's convention: a list of images in,
one ``{"boxes", "labels", "scores"}`` per image out; :class:`~pytest_mlguard.contract.TorchDetectionModel`).

Checks (``detection[<name>]``), settings in ``[tool.mlguard.detection]``:

* ``map`` and ``map_50``: COCO mAP (IoU 0.5:0.95) and mAP at IoU 0.5, through torchmetrics'
  ``MeanAveragePrecision``, against ``floor`` and ``floor_50``, with a bootstrap interval over images;
* ``<corruption>-<severity>`` for each of ``corruptions`` x ``severities`` (the 19 ImageNet-C corruptions,
  :mod:`pytest_mlguard.corruptions`; targets kept, as COCO-C keeps them): mAP against ``corruption_floor``
  (default ``0.5*clean``), and ``mpc``: their mean, mPC, against ``mpc_floor``, with rPC = mPC / clean mAP
  in its details (Michaelis et al. 2019);
* ``ece``: the ECE of the scores against being a true positive at IoU 0.5, under ``ece_ceiling``, debiased,
  with the calibration family's interval (:mod:`pytest_mlguard.calibration.inference`);
* ``pgd-linf-<eps>`` and ``pgd-l2-<eps>`` (``attacks``): mAP under PGD L-inf or L2 against the detector's
  training loss through ART's ``PyTorchObjectDetector`` (``attack_steps`` steps of eps/4, on ``attack_samples``
  images), against ``attack_floor``; ``patch-<side>``: mAP of those images under a universal square patch over
  their top-left corner, from ART's ``RobustDPatch`` (``patch_steps`` iterations), against ``attack_floor``.

Example:
    >>> from pytest_mlguard.config import resolve
    >>> from pytest_mlguard.checks._registry import all_keys
    >>> settings = resolve(cli={"task": "detection", "detection.corruptions": "fog", "detection.severities": "1,5"}, environ={}, keys=all_keys())
    >>> [spec.id for spec in FAMILY.planned(settings)]
    ['detection[map]', 'detection[map_50]', 'detection[fog-1]', 'detection[fog-5]', 'detection[mpc]', 'detection[ece]', 'detection[pgd-linf-1/255]']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from .._lazy import lazy_exports
from ..checks._base import CheckSpec, Family, Plot
from ..config._settings import Key, Settings
from ..config.parse import Threshold, invalid, parse_choice, parse_int, parse_list, parse_number, parse_threshold
from ..corruptions import SEVERITIES, _parse_name, _parse_severities, selected  # the corruption family's own parsers
from ..corruptions._registry import REGISTRY

if TYPE_CHECKING:
    from ._attack import art_pgd as art_pgd
    from ._corrupt import corrupt_images as corrupt_images, performance_under_corruption as performance_under_corruption
    from ._metrics import box_agreement as box_agreement, detection_ece as detection_ece, mean_average_precision as mean_average_precision, true_positives as true_positives
    from ._resample import map_interval as map_interval

__all__ = [
    "FAMILY",
    "art_pgd",
    "attack_eps",
    "attack_norm",
    "box_agreement",
    "cells",
    "corrupt_images",
    "detection_ece",
    "map_interval",
    "mean_average_precision",
    "patch_side",
    "performance_under_corruption",
    "true_positives",
]

# the functional core, imported on first use (numpy, torch, torchmetrics): importing the plugin stays cheap
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "art_pgd": "._attack",
        "box_agreement": "._metrics",
        "corrupt_images": "._corrupt",
        "detection_ece": "._metrics",
        "map_interval": "._resample",
        "mean_average_precision": "._metrics",
        "performance_under_corruption": "._corrupt",
        "true_positives": "._metrics",
    },
)

_FIXED = ("map", "map_50", "ece")


def attack_norm(name: str) -> Literal["linf", "l2"] | None:
    """The norm of an attack check ``pgd-linf-<eps>`` or ``pgd-l2-<eps>`` whose eps is valid, else ``None``."""
    if attack_eps(name) is None:
        return None
    return "linf" if name.startswith("pgd-linf-") else "l2"


def attack_eps(name: str) -> float | None:
    """The epsilon of a check ``pgd-linf-<eps>`` (in (0, 1]) or ``pgd-l2-<eps>`` (positive, the L2 norm over the
    whole image), a number or a fraction such as ``1/255``, else ``None``."""
    from fractions import Fraction

    prefix = next((prefix for prefix in ("pgd-linf-", "pgd-l2-") if name.startswith(prefix)), None)
    if prefix is None:
        return None
    try:
        eps = float(Fraction(name[len(prefix) :]))
    except (ValueError, ZeroDivisionError):
        return None
    return eps if eps > 0 and (eps <= 1 or prefix == "pgd-l2-") else None


def patch_side(name: str) -> int | None:
    """The side in pixels of a patch attack check ``patch-<side>`` (1 to 4096), else ``None``."""
    side = name.removeprefix("patch-")
    return int(side) if name.startswith("patch-") and side.isdigit() and 1 <= int(side) <= 4096 else None


def _parse_attack(value: Any, key: str, where: str) -> str:
    if isinstance(value, str) and (attack_eps(value) is not None or patch_side(value) is not None):
        return value
    expected = "an attack 'pgd-linf-<eps>' with eps in (0, 1] or 'pgd-l2-<eps>' with eps > 0, a number or a fraction such as 'pgd-linf-1/255', or 'patch-<side>' in pixels"
    raise invalid(value, key, where, expected)


def _split(name: str) -> tuple[str, int] | None:
    base, _, severity = name.rpartition("-")
    return (base, int(severity)) if base in REGISTRY and severity.isdigit() and int(severity) in SEVERITIES else None


def _make(name: str | None, settings: Settings) -> CheckSpec:
    check = str(name)
    get = settings.get
    if check in ("map", "map_50"):
        return CheckSpec("detection", check, check, get("detection.floor" if check == "map" else "detection.floor_50"))
    if check == "ece":
        return CheckSpec("detection", "ece", "ece", Threshold(get("detection.ece_ceiling")), kind="ceiling")
    if check == "mpc":
        return CheckSpec("detection", "mpc", "mpc", get("detection.mpc_floor"), keywords=("corruption",))
    cell = _split(check)
    if cell is not None:
        params = (("corruption", cell[0]), ("severity", cell[1]))
        return CheckSpec("detection", check, "map", get("detection.corruption_floor"), params=params, keywords=("corruption", REGISTRY[cell[0]].group))
    eps = attack_eps(check)
    if eps is not None:
        attack = (("eps", eps), ("norm", attack_norm(check)))
        return CheckSpec("detection", check, "map", get("detection.attack_floor"), params=attack, keywords=("attack", "pgd"))
    side = patch_side(check)
    if side is not None:
        return CheckSpec("detection", check, "map", get("detection.attack_floor"), params=(("side", side),), keywords=("attack", "patch"))
    raise KeyError(f"expected a detection check: map, map_50, ece, mpc, '<corruption>-<severity>', 'pgd-linf-<eps>', 'pgd-l2-<eps>' or 'patch-<side>'; got {name!r}")


def cells(settings: Settings) -> list[tuple[str, int]]:
    """The (corruption, severity) cells of the mPC, in the plan's order."""
    return [(name, severity) for name in selected(settings.get("detection.corruptions")) for severity in settings.get("detection.severities")]


def _plan(settings: Settings) -> list[CheckSpec]:
    checks = settings.get("detection.checks")
    planned = [_make(name, settings) for name in _FIXED[:2] if name in checks]
    corrupted = [_make(f"{name}-{severity}", settings) for name, severity in cells(settings)]
    planned += corrupted + ([_make("mpc", settings)] if corrupted else [])
    planned += [_make("ece", settings)] if "ece" in checks else []
    return planned + [_make(name, settings) for name in settings.get("detection.attacks")]


FAMILY = Family(
    name="detection",
    keys=(
        Key("detection.checks", parse_list(parse_choice(*_FIXED)), _FIXED, "the detection checks besides corruptions and attacks: map, map_50, ece"),
        Key("detection.floor", parse_threshold, Threshold(0.3), "floor of clean COCO mAP (IoU 0.5:0.95)"),
        Key("detection.floor_50", parse_threshold, Threshold(0.5), "floor of clean mAP at IoU 0.5"),
        Key("detection.corruptions", parse_list(_parse_name), ("gaussian_noise",), "corruptions of the mPC: names, groups (noise, blur, weather, digital) or all"),
        Key("detection.severities", _parse_severities, (3,), "severities (1..5, or all) of each corruption of the mPC"),
        Key("detection.corruption_floor", parse_threshold, Threshold(0.5, "clean"), "floor of mAP under each corruption"),
        Key("detection.mpc_floor", parse_threshold, Threshold(0.5, "clean"), "floor of mPC, the mean mAP under the corruptions (rPC = mPC / clean mAP)"),
        Key("detection.ece_ceiling", parse_number(0.0, 1.0), 0.15, "ceiling of the detection ECE (scores against true positives at IoU 0.5)"),
        Key("detection.attacks", parse_list(_parse_attack), ("pgd-linf-1/255",), "attacks: pgd-linf-<eps> and pgd-l2-<eps> (L2 norm over the whole image), eps in raw pixel units ([0, 1]), fractions allowed; patch-<side>: ART's RobustDPatch, a square of side pixels"),
        Key("detection.attack_floor", parse_threshold, Threshold(0.3, "clean"), "floor of mAP under each attack"),
        Key("detection.attack_steps", parse_int(1, 1000), 10, "PGD steps, each of eps/4"),
        Key("detection.patch_steps", parse_int(1, 10_000), 10, "iterations of the patch attacks (RobustDPatch)"),
        Key("detection.attack_samples", parse_int(1, 100_000), 64, "images the attacks run on (the first of the evaluation data)"),
        Key("detection.resamples", parse_int(10, 100_000), 200, "resamples of the mAP intervals (bootstrap) and the ECE's (consistency resampling), at each check's confidence (fewer than verdict.bootstrap: a resample accumulates COCO's AP)"),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.detection._run:run_check",
    tasks=("detection",),
    rank=2,
    prior_seconds=5.0,
    hooks="pytest_mlguard.detection._report",  # the mPC / rPC summary in the terminal
    plots=Plot("pytest_mlguard.detection._figures:curves", absent="No mAP-against-severity plot: no detection corruption check recorded a result.", order=1),
    doc="object detection: clean mAP, mAP under corruptions (mPC, rPC), detection ECE, robust mAP under PGD",
)
