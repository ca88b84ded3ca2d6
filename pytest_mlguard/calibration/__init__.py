"""Calibration and silent failures: the ``calibration[<check>]`` checks, each against a ceiling.

Checks (``[tool.mlguard.calibration] checks``, default ``["ece"]``):

* ``ece``, ``mce``, ``classwise-ece``: expected, maximum and class-wise calibration error of the
  clean predictions, over ``bins`` bins of ``binning`` (``"equal-width"`` or ``"equal-mass"``);
* ``brier``, ``nll``: Brier score (in [0, 2]) and negative log-likelihood of the clean predictions;
* ``garbage-noise``, ``garbage-constant``, ``garbage-ood``: the mean top-class probability on
  ``garbage_samples`` inputs that carry no class (uniform noise, constant inputs, and the
  out-of-domain samples of ``ood_data``); ``garbage-<source>-max``: the maximum.

Ceilings: ``ece_ceiling`` (default 0.15), ``mce_ceiling`` (0.5), ``classwise_ece_ceiling`` (0.05),
``brier_ceiling`` (0.3), ``nll_ceiling`` (1.0), absolute numbers; ``garbage_ceiling``
(``"0.8*above_chance"``) and ``garbage_max_ceiling`` (0.99), absolute or relative to chance level
(``1 / n_classes``) or to the same statistic on the evaluation data (``"0.8*clean"``).

The metric checks add the temperature-scaling advice to their details and failure message; they
reuse the clean predictions, so only the garbage checks run the model. See docs/calibration.md.
"""

from __future__ import annotations

from typing import Any

from ..checks._base import CheckSpec, Family, Plot
from ..config.parse import (
    Parser,
    Threshold,
    invalid,
    parse_choice,
    parse_int,
    parse_list,
    parse_number,
    parse_optional,
    parse_path,
    parse_threshold,
)
from ..config._settings import Key, Settings

__all__ = ["CHECKS", "FAMILY", "GARBAGE_SOURCES"]

# check name -> (metric, the key of its ceiling)
_METRIC_CHECKS: dict[str, tuple[str, str]] = {
    "ece": ("ece", "calibration.ece_ceiling"),
    "mce": ("mce", "calibration.mce_ceiling"),
    "classwise-ece": ("classwise_ece", "calibration.classwise_ece_ceiling"),
    "brier": ("brier", "calibration.brier_ceiling"),
    "nll": ("nll", "calibration.nll_ceiling"),
}
GARBAGE_SOURCES = ("noise", "constant", "ood")  # see .garbage, which imports numpy
CHECKS: tuple[str, ...] = (
    *_METRIC_CHECKS,
    *(f"garbage-{source}" for source in GARBAGE_SOURCES),
    *(f"garbage-{source}-max" for source in GARBAGE_SOURCES),
)


def _parse_check(value: Any, key: str, where: str) -> str:
    if value not in CHECKS:
        raise invalid(value, key, where, f"a calibration check, one of {', '.join(CHECKS)}")
    return str(value)


def _parse_ceiling(maximum: float | None) -> Parser:
    """An absolute ceiling: a number in [0, maximum]."""
    number = parse_number(0.0, maximum)

    def parse(value: Any, key: str, where: str) -> Threshold:
        if isinstance(value, Threshold) and value.reference is None:
            return value
        return Threshold(number(value, key, where))

    return parse


def _make(check: str | None, settings: Settings) -> CheckSpec:
    """The spec of the calibration check ``check`` under ``settings``."""
    if check not in CHECKS:
        raise KeyError(f"no check calibration[{check}]; expected one of {[f'calibration[{c}]' for c in CHECKS]}")
    if check in _METRIC_CHECKS:
        metric, ceiling = _METRIC_CHECKS[check]
        params: tuple[tuple[str, Any], ...] = (
            ("bins", settings.get("calibration.bins")),
            ("binning", settings.get("calibration.binning")),
        )
        return CheckSpec("calibration", check, metric, settings.get(ceiling), kind="ceiling", params=params)
    source, _, statistic = check.removeprefix("garbage-").partition("-")
    statistic = statistic or "mean"
    ood_data = settings.get("calibration.ood_data")
    params = (
        ("source", source),
        ("statistic", statistic),
        ("samples", settings.get("calibration.garbage_samples")),
        ("ood_data", str(ood_data) if ood_data is not None and source == "ood" else None),
    )
    ceiling = "calibration.garbage_max_ceiling" if statistic == "max" else "calibration.garbage_ceiling"
    return CheckSpec(
        "calibration", check, f"{statistic}_confidence", settings.get(ceiling), kind="ceiling", params=params, keywords=("garbage",)
    )


def _plan(settings: Settings) -> list[CheckSpec]:
    from ..checks._family import task_of

    checks = settings.get("calibration.checks")
    if task_of(settings) in ("segmentation", "detection"):  # pixel-level or detection ECE (calibration/_tasks.py); the others assume a class vector per input
        checks = [check for check in checks if check == "ece"]
    return [_make(check, settings) for check in checks]


def _shard_kind(spec: CheckSpec) -> str | None:
    """A metric of the clean predictions is replayed on the merged shards; garbage inputs are no samples of the data."""
    return None if spec.param("source") is not None else "clean"


FAMILY = Family(
    name="calibration",
    keys=(
        Key("calibration.checks", parse_list(_parse_check), ("ece",), f"calibration checks to run, of {', '.join(CHECKS)}"),
        Key("calibration.ece_ceiling", _parse_ceiling(1.0), Threshold(0.15), "ceiling of the expected calibration error, in [0, 1]"),
        Key("calibration.mce_ceiling", _parse_ceiling(1.0), Threshold(0.5), "ceiling of the maximum calibration error, in [0, 1]"),
        Key(
            "calibration.classwise_ece_ceiling",
            _parse_ceiling(1.0),
            Threshold(0.05),
            "ceiling of the class-wise expected calibration error, in [0, 1]",
        ),
        Key("calibration.brier_ceiling", _parse_ceiling(2.0), Threshold(0.3), "ceiling of the multi-class Brier score, in [0, 2]"),
        Key("calibration.nll_ceiling", _parse_ceiling(None), Threshold(1.0), "ceiling of the negative log-likelihood, >= 0"),
        Key("calibration.bins", parse_int(1, 1000), 15, "number of confidence bins of the ECE, MCE and class-wise ECE"),
        Key(
            "calibration.binning",
            parse_choice("equal-width", "equal-mass"),
            "equal-width",
            "confidence bins of equal width or of equal sample counts (adaptive)",
        ),
        Key(
            "calibration.garbage_ceiling",
            parse_threshold,
            Threshold(0.8, "above_chance"),
            "ceiling of the mean top-class probability on garbage inputs (relative to chance 1/n_classes or to 'clean')",
        ),
        Key(
            "calibration.garbage_max_ceiling",
            parse_threshold,
            Threshold(0.99),
            "ceiling of the maximum top-class probability on garbage inputs (the garbage-<source>-max checks)",
        ),
        Key("calibration.garbage_samples", parse_int(1, 100000), 200, "garbage inputs per source (noise, constant, ood)"),
        Key(
            "calibration.ood_data",
            parse_optional(parse_path),
            None,
            "an .npy of out-of-domain samples (N, *input_shape) in raw input units, for garbage-ood; relative to the rootdir",
        ),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.calibration._tasks:run_check",  # the classifier's in _run, the segmenter's in _tasks
    tasks=("classification", "segmentation", "detection"),
    shard=_shard_kind,
    rank=1,
    rank_of=lambda spec: 2 if spec.param("source") is not None else None,  # garbage inputs: one model pass per source
    prior_forwards=0.0,  # the clean predictions, made once for every check
    samples=lambda spec, n: int(spec.param("samples") or n) if spec.param("source") is not None else n,
    rerun=True,
    plots=(
        Plot(
            "pytest_mlguard.calibration._figures:reliability",
            kind="reliability",
            absent="No reliability diagram: no calibration check recorded reliability bins.",
            order=0,
        ),
        Plot("pytest_mlguard.calibration._figures:shift", kind="calibration-shift", families=("corruption", "attack"), order=3),
    ),
    doc="calibration (ECE, MCE, Brier, NLL) and overconfidence on garbage inputs, each against a ceiling",
)
