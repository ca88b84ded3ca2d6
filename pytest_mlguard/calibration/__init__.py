"""Calibration: expected calibration error against a ceiling, the ``calibration[ece]`` check.

Settings (``[tool.mlguard.calibration]``):

* ``ece_ceiling``: the highest acceptable ECE, a number in [0, 1] (default 0.15);
* ``bins``: the number of equal-width confidence bins (default 15).
"""

from __future__ import annotations

from ..checks.base import CheckSpec, Family
from ..config.parse import Threshold, parse_int, parse_threshold
from ..config.settings import Key, Settings

__all__ = ["FAMILY"]


def _plan(settings: Settings) -> list[CheckSpec]:
    return [
        CheckSpec(
            "calibration",
            "ece",
            "ece",
            settings.get("calibration.ece_ceiling"),
            kind="ceiling",
            params=(("bins", settings.get("calibration.bins")),),
        )
    ]


FAMILY = Family(
    name="calibration",
    keys=(
        Key("calibration.ece_ceiling", parse_threshold, Threshold(0.15), "ceiling of the expected calibration error"),
        Key("calibration.bins", parse_int(1, 1000), 15, "number of equal-width confidence bins of the ECE"),
    ),
    plan=_plan,
    run="pytest_mlguard.calibration.metrics:run_check",
    doc="expected calibration error (ECE) against a ceiling",
)
