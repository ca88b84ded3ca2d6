"""Clean accuracy against a floor: the ``accuracy`` check.

Settings (``[tool.mlguard.accuracy]``):

* ``floor``: a number in [0, 1], or relative to chance (``"0.5*above_chance"``, the default: halfway
  from chance level to perfect).
"""

from __future__ import annotations

from ..checks._base import CheckSpec, Family
from ..config.parse import Threshold, parse_threshold
from ..config._settings import Key, Settings


def _plan(settings: Settings) -> list[CheckSpec]:
    return [CheckSpec("accuracy", None, "accuracy", settings.get("accuracy.floor"))]


FAMILY = Family(
    name="accuracy",
    keys=(
        Key(
            "accuracy.floor",
            parse_threshold,
            Threshold(0.5, "above_chance"),
            "floor of clean accuracy: a number in [0, 1] or '0.5*above_chance'",
        ),
    ),
    plan=_plan,
    run="pytest_mlguard._accuracy.functional:run_check",
    rank=0,
    prior_forwards=0.0,  # the clean predictions, made once for every check
    rerun=True,
    clean_reference=True,  # the clean accuracy that corruption and attack checks are scored relative to
    doc="clean top-1 accuracy against a floor",
)
