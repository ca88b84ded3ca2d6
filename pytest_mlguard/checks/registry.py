"""The families of checks, in the order the built-in suite runs them, and every settings key."""

from __future__ import annotations

from ..accuracy import FAMILY as ACCURACY
from ..budget import BUDGET_KEYS
from ..attacks import FAMILY as ATTACK
from ..baseline import BASELINE_KEYS
from ..calibration import FAMILY as CALIBRATION
from ..config.settings import CORE_KEYS, Key, Settings
from ..contract.family import FAMILY as CONTRACT
from ..corruptions import FAMILY as CORRUPTION
from ..inputs import FAMILY as INPUTS
from ..production import FAMILIES as PRODUCTION
from ..reporting import PROGRESS_KEYS, REPORT_KEYS
from ..reporting.score import score_keys
from ..verdicts import VERDICT_KEYS
from .base import Family

__all__ = ["FAMILIES", "all_keys", "family", "planned_checks"]

FAMILIES: tuple[Family, ...] = (CONTRACT, ACCURACY, CORRUPTION, ATTACK, CALIBRATION, INPUTS, *PRODUCTION)


def family(name: str) -> Family:
    for candidate in FAMILIES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown check family {name!r}; expected one of {[f.name for f in FAMILIES]}")


def planned_checks(settings: Settings) -> int:
    """How many checks the built-in suite plans for one model under ``settings``."""
    return sum(len(family.planned(settings)) for family in FAMILIES)


def all_keys() -> tuple[Key, ...]:
    return (*CORE_KEYS, *BUDGET_KEYS, *VERDICT_KEYS, *score_keys([f.name for f in FAMILIES]), *REPORT_KEYS, *PROGRESS_KEYS, *BASELINE_KEYS, *(key for fam in FAMILIES for key in fam.all_keys))
