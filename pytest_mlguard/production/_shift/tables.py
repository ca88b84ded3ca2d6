"""The ``shift`` family's report tables: ``report["shift"]`` in report.json (by model: every drift test,
the most drifting first, the embedding's null distribution and the estimated accuracy), and the
section of report.html that shows them. Plain functions over the report's JSON; import nothing heavy.

Example:
    >>> checks = [{"model": "m", "family": "shift", "id": "shift[classes]", "floor": 0.01, "details": {"tests": [
    ...     {"name": "classes", "test": "chi-squared", "statistic": 9.0, "p_value": 0.001, "p_adjusted": 0.002,
    ...      "effect": 0.3, "effect_name": "total variation", "what": "'1': 10.0% -> 40.0%"}]}}]
    >>> table = shift_tables(checks)["m"]
    >>> table["tests"][0]["check"], table["tests"][0]["drifts"], table["alpha"]
    ('shift[classes]', True, 0.01)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: the fields of a test that a row of the table copies from a check's ``details.tests``
_FIELDS = ("name", "test", "statistic", "p_value", "p_adjusted", "effect", "effect_name", "what", "reference", "production")


def _rank(row: Mapping[str, Any]) -> tuple[float, float]:
    adjusted = row.get("p_adjusted")
    return (float(row["p_value"] if adjusted is None else adjusted), -float(row.get("effect") or 0.0))


def _accuracy(check: Mapping[str, Any]) -> dict[str, Any]:
    details = check.get("details") or {}
    return {
        "estimated_accuracy": check.get("value"),
        "interval": check.get("interval"),
        "floor": check.get("floor"),
        "threshold": check.get("threshold"),
        "verdict": check.get("verdict"),
        "method": f"ATC ({details.get('score', 'max-probability')})",
        "evaluation_accuracy": details.get("evaluation_accuracy"),
        "production_samples": details.get("production_samples"),
        "bbse_accuracy": (details.get("bbse") or {}).get("estimated_accuracy"),
    }


def _model_table(checks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    table: dict[str, Any] = {"alpha": None, "tests": []}
    for check in checks:
        if check.get("id") == "shift[accuracy]":
            table["accuracy"] = _accuracy(check)
            continue
        for test in (check.get("details") or {}).get("tests", ()):
            table["alpha"] = check.get("floor")
            row = {"check": check.get("id"), **{key: test[key] for key in _FIELDS if key in test}}
            row["drifts"] = row.get("p_adjusted") is not None and row["p_adjusted"] < float(check.get("floor", 0.0))
            table["tests"].append(row)
            if "null" in test:
                table["embedding"] = {"check": check.get("id"), "p_value": test["p_value"], "p_adjusted": test.get("p_adjusted"), "null": test["null"]}
    table["tests"].sort(key=_rank)
    return table


def shift_tables(checks: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``report["shift"]``: by model, ``alpha``, ``tests`` (every drift test of the shift checks, the
    smallest adjusted p-value first, then the largest effect), ``embedding`` (the MMD's null
    distribution) and ``accuracy`` (the estimate with its interval), where those checks ran."""
    by_model: dict[str, list[Mapping[str, Any]]] = {}
    for check in checks:
        if check.get("family") == "shift":
            by_model.setdefault(str(check.get("model")), []).append(check)
    return {model: _model_table(found) for model, found in by_model.items()}


def _number(value: Any, digits: int = 4) -> str:
    return "–" if not isinstance(value, (int, float)) else f"{value:.{digits}g}"


def summary_text(summary: Mapping[str, Any] | None) -> str:
    """A sample's summary as a table cell.

    Example:
        >>> summary_text({"n": 300, "mean": 0.5, "median": 0.49, "p05": 0.1, "p95": 0.9})
        'median 0.49, mean 0.5, 5-95% [0.1, 0.9], n=300'
        >>> summary_text({"n": 300, "shares": {"6": 0.207, "2": 0.007}})
        "'6' 20.7%, '2' 0.7%, n=300"
    """
    if not summary:
        return "–"
    parts = []
    if "median" in summary:
        parts.append(f"median {_number(summary['median'])}, mean {_number(summary['mean'])}, 5-95% [{_number(summary['p05'])}, {_number(summary['p95'])}]")
    if "shares" in summary:
        parts.append(", ".join(f"{name!r} {100 * share:.1f}%" for name, share in summary["shares"].items()))
    if "missing_rate" in summary:
        parts.append(f"missing {100 * summary['missing_rate']:.1f}%")
    if "outside_rate" in summary:
        parts.append(f"outside the schema {100 * summary['outside_rate']:.1f}%")
    if "dimensions" in summary:
        parts.append(f"{summary['dimensions']} dimensions")
    return ", ".join([*parts, f"n={summary.get('n', '?')}"])


_DRIFT_COLUMNS = ("check", "tested", "test", "statistic", "p-value", "Holm p-value", "effect size", "evaluation data", "production", "what moved")


def _drift_rows(tests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "bad": bool(row.get("drifts")),
            "cells": [
                row.get("check"), row.get("name"), row.get("test"), _number(row.get("statistic")), _number(row.get("p_value"), 2),
                _number(row.get("p_adjusted"), 2), f"{_number(row.get('effect'), 3)} ({row.get('effect_name')})",
                summary_text(row.get("reference")), summary_text(row.get("production")), row.get("what") or "",
            ],
        }
        for row in tests
    ]


def _accuracy_table(model: str, accuracy: Mapping[str, Any]) -> dict[str, Any]:
    interval = accuracy.get("interval") or {}
    shown = f"[{interval['low']:.4f}, {interval['high']:.4f}]" if isinstance(interval, Mapping) and "low" in interval else "–"
    if isinstance(interval.get("confidence"), (int, float)):
        shown += f" ({100 * interval['confidence']:.4g}% {interval.get('method') or ''})".replace(" )", ")")
    cells = [
        accuracy.get("method"), _number(accuracy.get("estimated_accuracy")), shown,
        f"{_number(accuracy.get('floor'))} ({accuracy.get('threshold')})", _number(accuracy.get("evaluation_accuracy")),
        _number(accuracy.get("bbse_accuracy")), str(accuracy.get("verdict") or "–"),
    ]
    columns = ("estimated by", "estimated accuracy", "interval", "floor", "evaluation accuracy (labelled)", "BBSE (label shift alone)", "verdict")
    return {"kind": "shift-accuracy", "model": model, "caption": f"{model}: accuracy on production estimated without labels", "columns": columns,
            "rows": [{"bad": accuracy.get("verdict") == "failed", "cells": cells}], "numeric": (1, 2, 4, 5)}


def sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """report.html's section of the shift checks (``Family.sections``): by model, the drift table and
    the estimated accuracy; none where no shift check ran."""
    tables = report.get("shift") or shift_tables(report.get("checks", ()))
    shown = []
    for model, table in tables.items():
        if table.get("tests"):
            alpha = table.get("alpha")
            caption = f"{model}: every drift test, the most drifting first (Holm-adjusted across the drift checks; drifting: below alpha {_number(alpha)})"
            drift = {"kind": "shift-drift", "model": model, "caption": caption, "columns": _DRIFT_COLUMNS, "rows": _drift_rows(table["tests"]), "numeric": (3, 4, 5)}
            shown.append(drift)
        if table.get("accuracy"):
            shown.append(_accuracy_table(model, table["accuracy"]))
    if not shown:
        return []
    intro = (
        "The logged production sample against the evaluation data, without labels (docs/drift.md): each test's raw and "
        "adjusted p-value, its effect size and both samples' summaries; a p-value says whether production differs, the effect size how much."
    )
    return [{"id": "shift", "title": "Production shift", "intro": intro, "tables": shown}]
