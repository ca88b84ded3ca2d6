"""The JSON report and the files written at the end of a run.

Schema ``pytest-mlguard/report/1`` (documented in docs/report-schema.md): ``schema``, ``version``,
``seed``, ``samples``, ``score``, ``score_components``, ``models``, ``checks`` (each with ``id``,
``model``, ``family``, ``metric``, ``value``, ``floor`` or ``ceiling``, ``threshold``, ``n``,
``passed``, ``seed``, ``duration_s``, ``details``) and ``summary``.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._version import __version__
from .atomic import write_files
from .badge import badge_svg
from .score import robustness_score

__all__ = ["SCHEMA", "build_report", "sort_key", "write_outputs"]

SCHEMA = "pytest-mlguard/report/1"

_FAMILY_ORDER = ("accuracy", "corruption", "attack", "calibration", "inputs")


def sort_key(check: Mapping[str, Any]) -> tuple[Any, ...]:
    """Checks sort by model, family (suite order) and id, so that every run orders them alike."""
    family = check["family"]
    order = _FAMILY_ORDER.index(family) if family in _FAMILY_ORDER else len(_FAMILY_ORDER)
    return (check["model"], order, family, check["id"])


def build_report(
    checks: Iterable[Mapping[str, Any]],
    *,
    seed: int,
    samples: int | None,
    models: Mapping[str, Any],
    weights: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    ordered = sorted((dict(c) for c in checks), key=sort_key)
    score = robustness_score(ordered, weights)
    passed = sum(c["passed"] for c in ordered)
    return {
        "schema": SCHEMA,
        "version": __version__,
        "seed": seed,
        "samples": samples,
        "score": score["score"],
        "score_components": score["models"],
        "models": dict(sorted(models.items())),
        "checks": ordered,
        "summary": {"total": len(ordered), "passed": passed, "failed": len(ordered) - passed},
        "environment": {"python": sys.version.split()[0], "platform": platform.platform()},
    }


def write_outputs(report: Mapping[str, Any], directory: Path) -> dict[str, Path]:
    """Write ``report.json`` and ``badge.svg`` into ``directory``, whole or not at all."""
    paths = {"report": directory / "report.json", "badge": directory / "badge.svg"}
    text = json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n"
    write_files(
        {
            paths["report"]: text.encode(),
            paths["badge"]: badge_svg(float(report["score"])).encode(),
        }
    )
    return paths
