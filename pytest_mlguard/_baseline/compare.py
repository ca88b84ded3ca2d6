"""Comparing a run with a baseline: one row per metric, and the regressions beyond tolerance.

A metric is better when higher for floor checks and the score, when lower for ceiling checks (ECE).
A row's ``status`` is ``regressed`` (worse by more than its tolerance: the run fails), ``worse``
(worse, within tolerance or without one), ``same``, ``better``, ``new`` (not in the baseline) or
``missing`` (in the baseline, not run now, as with ``-k``).

Example:
    >>> from pytest_mlguard._baseline import Tolerance
    >>> base = {"name": "main", "score": 90.0, "score_components": {}, "checks": [
    ...     {"id": "accuracy", "model": "m", "metric": "accuracy", "value": 0.95, "floor": 0.9}]}
    >>> now = dict(base, checks=[dict(base["checks"][0], value=0.91)])
    >>> comparison = compare_runs(now, base, [Tolerance.parse("accuracy:2pp")])
    >>> comparison["passed"], comparison["regressed"]
    (False, ['m::accuracy accuracy'])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..reporting._order import family_rank
from . import Tolerance


_EPSILON = 1e-12


def _rows_of(run: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(model, check) -> the metric's row data, with each model's score as the check ``score``."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for check in run.get("checks", []):
        rows[(check["model"], check["id"])] = {
            "metric": check["metric"],
            "value": check["value"],
            "better": "lower" if "ceiling" in check else "higher",
        }
    for model, entry in (run.get("score_components") or {}).items():
        rows[(model, "score")] = {"metric": "score", "value": entry.get("score"), "better": "higher"}
    return rows


def _tolerance_for(metric: str, check_id: str, tolerances: Sequence[Tolerance]) -> Tolerance | None:
    matching = [t for t in tolerances if t.matches(metric, check_id)]
    return max(matching, key=Tolerance.specificity) if matching else None


def _status(baseline: float | None, current: float | None, better: str, allowed: float | None) -> tuple[str, float | None]:
    if baseline is None and current is None:
        return "same", None
    if current is None:  # NaN now: as bad as it gets
        return ("regressed" if allowed is not None else "worse"), None
    if baseline is None:
        return "better", None
    change = float(current) - float(baseline)
    loss = -change if better == "higher" else change
    if abs(change) <= _EPSILON:
        return "same", change
    if loss < 0:
        return "better", change
    if allowed is not None and loss > allowed + _EPSILON:
        return "regressed", change
    return "worse", change


def compare_runs(
    current: Mapping[str, Any], baseline: Mapping[str, Any], tolerances: Iterable[Tolerance] = ()
) -> dict[str, Any]:
    """The JSON-safe comparison of ``current`` (a report) with ``baseline`` (a baseline or report).

    Returns:
        ``baseline`` (its name), ``path``, ``saved_at``, ``notes`` (differences in seed or samples
        that make values less comparable), ``tolerances``, ``rows`` (model, check, metric, better,
        baseline, current, change, tolerance, allowed, status), ``regressed`` (``model::check
        metric`` of each regressed row) and ``passed``.
    """
    tolerances = list(tolerances)
    now, before = _rows_of(current), _rows_of(baseline)
    rows: list[dict[str, Any]] = []
    for key in sorted(set(now) | set(before), key=lambda k: (k[0], k[1] == "score", family_rank(k[1].partition("[")[0]), k[1])):
        model, check = key
        info = now.get(key) or before[key]
        metric, better = info["metric"], info["better"]
        base_value = before[key]["value"] if key in before else None
        value = now[key]["value"] if key in now else None
        tolerance = _tolerance_for(metric, check, tolerances)
        allowed = tolerance.allowed(base_value, metric) if tolerance is not None and base_value is not None else None
        if key not in before:
            status, change = "new", None
        elif key not in now:
            status, change = "missing", None
        else:
            status, change = _status(base_value, value, better, allowed)
        rows.append(
            {
                "model": model,
                "check": check,
                "metric": metric,
                "better": better,
                "baseline": base_value,
                "current": value,
                "change": None if change is None else round(change, 12),
                "tolerance": tolerance.describe() if tolerance is not None else None,
                "allowed": None if allowed is None else round(allowed, 12),
                "status": status,
            }
        )
    regressed = [f"{r['model']}::{r['check']} {r['metric']}" for r in rows if r["status"] == "regressed"]
    notes = []
    for field in ("seed", "samples"):
        if field in baseline and baseline.get(field) != current.get(field):
            notes.append(f"{field} differs: baseline {baseline.get(field)}, this run {current.get(field)}")
    return {
        "baseline": baseline.get("name"),
        "path": baseline.get("path"),
        "saved_at": baseline.get("saved_at"),
        "notes": notes,
        "tolerances": [f"{t.target}:{t.describe()}" for t in tolerances],
        "rows": rows,
        "regressed": regressed,
        "passed": not regressed,
    }


def _fmt(value: float | None, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.1f}" if metric == "score" else f"{value:.4f}"


def _fmt_change(change: float | None, metric: str) -> str:
    if change is None:
        return "-"
    return f"{change:+.1f}" if metric == "score" else f"{change:+.4f}"


def comparison_lines(comparison: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, bool]]]:
    """The comparison as a text table, one ``(line, markup)`` per line, regressions in red."""
    where = f" ({comparison['path']})" if comparison.get("path") else ""
    saved = f", saved {comparison['saved_at']}" if comparison.get("saved_at") else ""
    yield f"comparison with baseline {comparison['baseline']!r}{where}{saved}", {"bold": True}
    for note in comparison.get("notes", []):
        yield f"note: {note}", {"yellow": True}
    header = ("model", "check", "metric", "baseline", "current", "change", "tolerance", "status")
    table = [
        (
            r["model"],
            r["check"],
            r["metric"],
            _fmt(r["baseline"], r["metric"]),
            _fmt(r["current"], r["metric"]),
            _fmt_change(r["change"], r["metric"]),
            r["tolerance"] or "-",
            r["status"].upper() if r["status"] == "regressed" else r["status"],
        )
        for r in comparison["rows"]
    ]
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(len(header))]
    right = {3, 4, 5}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    yield line(header), {}
    for cells, row in zip(table, comparison["rows"]):
        yield line(cells), {"red": row["status"] == "regressed", "green": row["status"] == "better"}
    if comparison["regressed"]:
        yield (
            f"regressed beyond tolerance against baseline {comparison['baseline']!r}: " + ", ".join(comparison["regressed"]),
            {"red": True, "bold": True},
        )
    else:
        yield f"no metric regressed beyond tolerance against baseline {comparison['baseline']!r}", {"green": True}
