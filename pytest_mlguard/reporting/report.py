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
from ..verdicts.suite import error_control
from ..config.parse import parse_bool, parse_int
from ..config.settings import Key
from .atomic import write_files
from .score import robustness_score

__all__ = ["REPORT_KEYS", "SCHEMA", "build_report", "family_rank", "sort_key", "write_outputs"]

REPORT_KEYS: tuple[Key, ...] = (
    Key("report.html", parse_bool, True, "write report.html (plots and failing examples) beside report.json"),
    Key("report.examples", parse_int(0, 100), 6, "thumbnails of failing examples shown per failing check in report.html"),
)

SCHEMA = "pytest-mlguard/report/1"

_FAMILY_ORDER = ("accuracy", "corruption", "attack", "calibration", "inputs", "resources", "determinism", "drift", "gate")


def family_rank(family: str) -> int:
    """A family's place in the suite's order (families the suite does not know come last)."""
    return _FAMILY_ORDER.index(family) if family in _FAMILY_ORDER else len(_FAMILY_ORDER)


def sort_key(check: Mapping[str, Any]) -> tuple[Any, ...]:
    """Checks sort by model, family (suite order) and id, so that every run orders them alike."""
    family = check["family"]
    return (check["model"], family_rank(family), family, check["id"])


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
        "error_control": error_control(ordered),
        "environment": {"python": sys.version.split()[0], "platform": platform.platform()},
    }


def write_outputs(
    report: Mapping[str, Any], directory: Path, *, html: bool = True, examples_per_check: int = 6, figures: Path | None = None
) -> dict[str, Path]:
    """Write the run's files into ``directory``, whole or not at all.

    ``report.json``; ``badge.svg`` and ``badge.json`` (the score, as SVG and as a shields.io endpoint);
    ``badge-<family>.svg`` and ``.json`` for each family's component; and, unless ``html`` is false,
    ``report.html`` (thumbnails of failing examples are read from ``directory/artifacts``; plots
    drawn before are read from ``figures``, the result cache's, if given).

    Returns:
        The paths written, by name: ``report``, ``badge``, ``endpoint``, ``html`` and
        ``badge-<family>``/``endpoint-<family>``.
    """
    from .badge import badge_files

    text = json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n"
    files: dict[str, tuple[Path, bytes]] = {"report": (directory / "report.json", text.encode())}
    for name, content in badge_files(report).items():
        stem, _, suffix = name.rpartition(".")
        key = stem.replace("badge", "badge" if suffix == "svg" else "endpoint", 1)
        files[key] = (directory / name, content.encode())
    if html:
        files["html"] = (directory / "report.html", _html_page(report, directory, examples_per_check, figures).encode())
    write_files(dict(files.values()))
    return {key: path for key, (path, _) in files.items()}


def _html_page(report: Mapping[str, Any], directory: Path, examples_per_check: int, figures: Path | None = None) -> str:
    """report.html, or a page that says why it could not be drawn (report.json is written either way)."""
    from .html import render_html

    try:
        return render_html(report, directory, examples_per_check=examples_per_check, figures=figures)
    except Exception as exc:  # noqa: BLE001 - a plotting bug must not cost the user the JSON report
        import html
        import traceback

        detail = html.escape("".join(traceback.format_exception(exc)))
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>mlguard report: not drawn</title></head><body>"
            f"<h1>report.html could not be drawn</h1><p>report.json holds every result.</p><pre>{detail}</pre></body></html>"
        )
