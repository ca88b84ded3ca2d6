"""The model-version gate: a candidate model against the baseline in production, ``gate[agreement]``,
``gate[accuracy]``, ``gate[robustness]``.

The project's conftest.py declares the baseline (the model now in production) in a fixture
``mlguard_baseline_model``, beside ``mlguard_model`` (the candidate). On the same evaluation samples:

* ``agreement``: the fraction of samples on which both predict the same class, against a floor;
  the samples on which they disagree are listed (and saved under the output directory);
* ``accuracy``: the largest drop of any class's accuracy from the baseline to the candidate, against
  a ceiling; every class's change is in the details;
* ``robustness``: the candidate's planned checks of every other family that needs only the model
  and the data (accuracy, corruption, attack, calibration, ...) run on the baseline too; the value
  is how many metrics (and the robustness score) regress by more than their tolerance, against a
  ceiling of 0.

Every gate check's details say whether rolling back is indicated (``details.rollback``): yes when
any planned gate check fails.

Settings (``[tool.mlguard.gate]``):

* ``checks``: which gate checks the suite runs (default: none);
* ``agreement``: floor of the top-1 agreement (default 0.9);
* ``class_drop``: ceiling of the largest per-class accuracy drop (default 0.05);
* ``tolerance``: the regression tolerated in any robustness metric, in its units (default 0.02);
* ``tolerances``: per check id (``"attack[pgd-linf-0.1]"``), metric (``ece``) or family (``attack``);
* ``score_drop``: the robustness-score drop tolerated, in points of 100 (default 2);
* ``compare``: the families or check ids ``gate[robustness]`` reruns on both models (default: every
  planned check of those families).
"""

from __future__ import annotations

from typing import Any

from ...checks._base import CheckSpec, Family
from ...config.parse import Threshold, parse_choice, parse_list, parse_number, parse_str, parse_table, parse_unit_interval
from ...config._settings import Key, Settings


CHECKS = ("agreement", "accuracy", "robustness")


def _params(settings: Settings) -> tuple[tuple[str, Any], ...]:
    """Every gate check carries every criterion, so that each can say whether rollback is indicated."""
    return (
        ("gated", tuple(settings.get("gate.checks")) or CHECKS),
        ("agreement", settings.get("gate.agreement")),
        ("class_drop", settings.get("gate.class_drop")),
        ("tolerance", settings.get("gate.tolerance")),
        ("tolerances", tuple(sorted(settings.get("gate.tolerances").items()))),
        ("score_drop", settings.get("gate.score_drop")),
        ("compare", tuple(settings.get("gate.compare"))),
    )


def _make(name: str | None, settings: Settings) -> CheckSpec:
    if name == "agreement":
        threshold = Threshold(settings.get("gate.agreement"))
        return CheckSpec("gate", name, "agreement", threshold, params=_params(settings), keywords=("production",))
    if name == "accuracy":
        threshold = Threshold(settings.get("gate.class_drop"))
        return CheckSpec("gate", name, "max_class_drop", threshold, "ceiling", _params(settings), ("production",))
    if name == "robustness":
        return CheckSpec("gate", name, "regressions", Threshold(0.0), "ceiling", _params(settings), ("production",))
    raise KeyError(f"no check gate[{name}]; expected one of {[f'gate[{c}]' for c in CHECKS]}")


def _reruns(spec: CheckSpec) -> tuple[str, ...] | None:
    """What a gate check reruns on both models: a check that compares robustness, the families or checks of
    ``gate.compare`` (``()``: every planned one); the others, nothing."""
    if spec.name == "robustness" or "robustness" in (spec.param("gated") or ()):
        return tuple(spec.param("compare") or ())
    return None


def _plan(settings: Settings) -> list[CheckSpec]:
    return [_make(name, settings) for name in settings.get("gate.checks")]


FAMILY = Family(
    name="gate",
    keys=(
        Key("gate.checks", parse_list(parse_choice(*CHECKS)), (), "gate checks of the candidate against mlguard_baseline_model: " + ", ".join(CHECKS)),
        Key("gate.agreement", parse_unit_interval, 0.9, "floor of the top-1 agreement of candidate and baseline"),
        Key("gate.class_drop", parse_number(0.0, 1.0), 0.05, "ceiling of the largest drop of a class's accuracy"),
        Key("gate.tolerance", parse_number(0.0, 100.0), 0.02, "regression tolerated in any robustness metric, in its units"),
        Key(
            "gate.tolerances",
            parse_table(parse_number(0.0, 100.0)),
            {},
            "tolerances per check id, metric or family, such as {ece = 0.01, attack = 0.05}",
            table=True,
        ),
        Key("gate.score_drop", parse_number(0.0, 100.0), 2.0, "robustness-score drop tolerated, in points"),
        Key(
            "gate.compare",
            parse_list(parse_str),
            (),
            "families or check ids gate[robustness] reruns on both models, such as ['accuracy', 'attack[pgd-linf-0.1]']; "
            "none: every planned check",
        ),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.production.gate.compare:run_check",
    needs=("model", "data", "baseline_model"),
    rank=5,
    prior_forwards=2.0,
    shared=True,  # one comparison of the two models, read by every gate check
    reruns=_reruns,
    doc="a candidate model against the baseline in production: agreement, per-class accuracy, robustness",
    tasks=("classification", "segmentation", "detection"),  # segmenters and detectors: pixel- and box-level agreement, per-class IoU or AP
)
