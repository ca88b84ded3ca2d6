"""``report.html``: one self-contained page (plots and thumbnails inlined as base64 PNG, no script,
nothing fetched at view time) rendered from the JSON report with Jinja2.

Autoescaping is on for the whole template, so every string that comes from the user's project
(model names, class names, check ids, file names, messages) is shown as text: a class called
``<script>alert(1)</script>`` reads as exactly that. The page also declares a Content-Security-Policy
that allows no script and no network request at all, as a second line of defence.

Example:
    >>> from pytest_mlguard.reporting import build_report
    >>> page = render_html(build_report([], seed=0, samples=None, models={}), Path("."))
    >>> page.startswith("<!DOCTYPE html>")
    True
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._badge import score_color
from ._examples import failing_examples
from ._progress import check_label
from ._pytest_html import check_anchor
from ._order import custom_test, family_rank


_MAX_CLASSES_SHOWN = 30


def _fmt(value: Any, metric: str = "", missing: str = "–") -> str:
    """A metric's value: one decimal for the score (0-100), four for the rest."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if isinstance(value, (int, float)):
        return f"{value:.1f}" if metric == "score" else f"{value:.4f}"
    return str(value)


def _fmt_change(change: Any, metric: str = "") -> str:
    if change is None:
        return "–"
    return f"{change:+.1f}" if metric == "score" else f"{change:+.4f}"


def _interval(check: Mapping[str, Any]) -> tuple[str, str] | None:
    """A confidence interval, where a check carries one (``interval``: ``[low, high]`` or a mapping),
    as its bounds and how it was made (``95% wilson``; empty where the check does not say)."""
    value = check.get("interval", check.get("details", {}).get("interval"))
    if isinstance(value, Mapping):
        low = value.get("low", value.get("lower"))
        high = value.get("high", value.get("upper"))
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        low, high = value
    else:
        return None
    if not all(isinstance(v, (int, float)) for v in (low, high)):
        return None
    method = ""
    if isinstance(value, Mapping) and isinstance(value.get("confidence"), (int, float)):
        method = f"{value['confidence']:.0%} {value.get('method') or ''}".rstrip()
    return f"[{low:.4f}, {high:.4f}]", method


def _verdict(check: Mapping[str, Any]) -> str:
    verdict = check.get("verdict")
    if isinstance(verdict, str) and verdict:
        return verdict
    return "passed" if check.get("passed") else "failed"


def _verdict_note(check: Mapping[str, Any]) -> str:
    """What an inconclusive verdict counted as, and the sample size that would decide it; a result
    reused from the cache. (Early stopping has a column of its own.)"""
    notes = []
    if _verdict(check) == "inconclusive":
        notes.append(f"{'passed' if check.get('passed') else 'failed'} by policy {check.get('policy', 'estimate')}")
        if check.get("required_n"):
            notes.append(f"n={check['required_n']} would decide")
    details: Mapping[str, Any] = check["details"] if isinstance(check.get("details"), Mapping) else {}
    cached = details.get("cached")
    if isinstance(cached, Mapping):
        notes.append(f"from the cache, measured {cached.get('stored_at')}")
    if isinstance(details.get("components"), list):  # an attack made of several (AutoAttack through ART)
        notes.append(f"ran {', '.join(map(str, details['components']))}: {details.get('components_note', '')}".rstrip(": "))
    return "; ".join(notes)


def _check_row(check: Mapping[str, Any]) -> dict[str, Any]:
    kind = "floor" if "floor" in check else "ceiling"
    threshold = check.get(kind)
    spec = check.get("threshold")
    return {
        "model": check["model"],
        "id": check["id"],
        "metric": check["metric"],
        "value": check.get("value"),
        "kind": kind,
        "threshold": float(threshold) if isinstance(threshold, (int, float)) else math.nan,
        "spec": spec if isinstance(spec, str) and spec != f"{threshold:g}" else "",
        "interval": _interval(check),
        "n": check.get("n"),
        "passed": bool(check.get("passed")),
        "verdict": _verdict(check),
        "note": _verdict_note(check),
        "saved": check.get("evaluations_saved") or None,
        "test": custom_test(check),
        "anchor": check_anchor(check["nodeid"]) if isinstance(check.get("nodeid"), str) else None,  # pytest-html's links
    }


#: how the report names each kind of check that was not measured (``skipped[].kind``)
_NOT_MEASURED = {"cut": "cut", "skipped": "skipped", "not-applicable": "not applicable", "timeout": "timed out", "error": "error"}


def _not_measured(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Checks planned but not measured, with why: the report's ``skipped`` list (cut by the budget,
    skipped, not applicable), its ``errors`` (timed out, stopped by an error), and the budget's cut
    checks where those lists do not name them."""
    rows = []
    for entry in [*(report.get("skipped") or ()), *(report.get("errors") or ())]:
        if isinstance(entry, Mapping):
            nodeid = entry.get("nodeid")
            label = check_label(nodeid) if isinstance(nodeid, str) else "?"
            kind = str(entry.get("kind") or "skipped")
            rows.append({"model": entry.get("model"), "id": entry.get("id") or label, "kind": _NOT_MEASURED.get(kind, kind),
                         "reason": entry.get("reason"), "test": custom_test(entry), "nodeid": nodeid})
    budget = report.get("budget")
    listed = {row["nodeid"] for row in rows}
    for entry in (budget.get("cut") if isinstance(budget, Mapping) else None) or ():
        if isinstance(entry, Mapping) and entry.get("node") not in listed:
            rows.append({"model": None, "id": entry.get("check"), "kind": "cut", "reason": entry.get("reason"), "test": None, "nodeid": entry.get("node")})
    return rows


def _run_summary(report: Mapping[str, Any], not_measured: Sequence[Mapping[str, Any]]) -> str:
    """``34 of 34 checks passed; not measured: 1 not applicable`` (the measured checks' counts, then
    those planned but not measured, by kind)."""
    summary = report.get("summary")
    summary = summary if isinstance(summary, Mapping) else {}
    text = f"{summary.get('passed', 0)} of {summary.get('total', 0)} checks passed"
    kinds = Counter(row["kind"] for row in not_measured)
    if kinds:
        text += "; not measured: " + ", ".join(f"{count} {kind}" for kind, count in kinds.items())
    return text


def _selection(value: Any) -> str:
    """The selection of a partial run (``report["selection"]``), whatever shape it is written in."""
    if isinstance(value, Mapping) and "selected" in value and "planned" in value:  # the run's own shape
        how = " ".join(f"{flag} {value[name]}" for name, flag in (("keyword", "-k"), ("markexpr", "-m")) if value.get(name))
        return f"{value['selected']} of {value['planned']} checks selected" + (f", {how}" if how else "")
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _model_plots(model: str, checks: Sequence[Mapping[str, Any]], figures_cache: Any, task: str = "classification") -> dict[str, Any]:
    """The figures of ``model``: those its families declare (``Family.plots``), by their order and then the
    registry's, each with the line it leaves where it draws nothing (none for a family that does not apply
    to the model's ``task``)."""
    from ..checks._builtin import run_families

    by_family: dict[str, list[Mapping[str, Any]]] = {}
    for check in checks:
        by_family.setdefault(check["family"], []).append(check)
    declared = [(plot.order, index, family.name, number, plot) for index, family in enumerate(run_families()) for number, plot in enumerate(family.figures())]
    applies = {family.name for family in run_families() if task in family.tasks}
    figures: list[dict[str, str]] = []
    missing: list[str] = []
    for _, _, name, number, plot in sorted(declared, key=lambda entry: entry[:2]):
        drawn = [check for family in plot.families or (name,) for check in by_family.get(family, [])]
        found = figures_cache.draw(_family_plot, name, number, _code_digest(plot), model, drawn) if drawn else None
        if found:
            figures += [{"kind": plot.kind or name, **figure} for figure in found]
        elif plot.absent and name in applies:
            missing.append(plot.absent)
    return {"name": model, "figures": figures, "missing": missing}


def _code_digest(plot: Any) -> str:
    """A digest of the file of ``plot``'s function: part of the figure cache's key, so that a figure is
    redrawn when its code changes."""
    code = inspect.getsourcefile(plot.drawer())
    return hashlib.sha256(Path(code).read_bytes()).hexdigest() if code else ""


def _family_plot(name: str, number: int, digest: str, model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The figures the ``number``-th :class:`~pytest_mlguard.checks._base.Plot` of family ``name`` draws
    (``digest``: of its code, for the figure cache)."""
    from ..checks._builtin import run_families

    family = next(f for f in run_families() if f.name == name)
    return family.figures()[number].drawer()(model, checks)


def _family_sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The sections the run's families declare (``Family.sections``), in the registry's order."""
    import importlib

    from ..checks._builtin import run_families

    found: list[dict[str, Any]] = []
    for family in run_families():
        if family.sections:
            module, _, function = family.sections.partition(":")
            found += getattr(importlib.import_module(module), function)(report)
    return found


def _model_rows(models: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for name, description in models.items():
        description = description if isinstance(description, Mapping) else {}
        classes = description.get("class_names") or []
        shown = ", ".join(str(c) for c in classes[:_MAX_CLASSES_SHOWN])
        if len(classes) > _MAX_CLASSES_SHOWN:
            shown += f", … and {len(classes) - _MAX_CLASSES_SHOWN} more"
        if not classes and description.get("n_classes"):
            shown = f"{description['n_classes']} (unnamed)"
        shape = description.get("input_shape")
        value_range = description.get("value_range")
        rows.append(
            (
                name,
                {
                    "kind": description.get("kind"),
                    "input_shape": "×".join(map(str, shape)) if isinstance(shape, (list, tuple)) else shape,
                    "value_range": f"[{value_range[0]}, {value_range[1]}]" if isinstance(value_range, (list, tuple)) and len(value_range) == 2 else value_range,
                    "classes": shown or "–",
                },
            )
        )
    return rows


def render_html(report: Mapping[str, Any], output: Path, *, examples_per_check: int = 6, figures: Path | None = None) -> str:
    """The page for ``report``; thumbnails are read from ``output`` (the report's directory).

    ``figures``: a directory of plots drawn before (:class:`~.plots.FigureCache`), or ``None`` to draw all.
    """
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    checks = list(report.get("checks", []))
    by_model: dict[str, list[Mapping[str, Any]]] = {}
    for check in checks:
        by_model.setdefault(check["model"], []).append(check)
    rows = [_check_row(c) for c in checks]
    not_measured = _not_measured(report)
    families = sorted({f for entry in report.get("score_components", {}).values() for f in entry["components"]}, key=lambda f: (family_rank(f), f))
    from . import plots

    models = list(report.get("models", {}))
    figures_cache = plots.FigureCache(figures)
    context = {
        "report": report,
        "title": ", ".join(models) if models else "no model",
        "score_color": score_color(float(report.get("score", 0.0))),
        "families": families,
        "score_plot": figures_cache.draw(plots.score_figure, report.get("score_components", {})),
        "comparison": report.get("comparison"),
        "checks": rows,
        "has_intervals": any(r["interval"] for r in rows),
        "interval_methods": sorted({r["interval"][1] for r in rows if r["interval"] and r["interval"][1]}),
        "has_saved": any(r["saved"] for r in rows),
        "has_notes": any(r["note"] for r in rows),
        "not_measured": not_measured,
        "run_summary": _run_summary(report, not_measured),
        "interrupted": bool(report.get("interrupted")),
        "partial": bool(report.get("partial")),
        "selection": _selection(report.get("selection")),
        "sections": _family_sections(report),
        "plots": [
            _model_plots(model, model_checks, figures_cache, str(report.get("models", {}).get(model, {}).get("task") or "classification"))
            for model, model_checks in by_model.items()
        ],
        "examples": failing_examples(report, output, per_check=examples_per_check),
        "models": _model_rows(report.get("models", {})),
        "fmt": _fmt,
        "fmt_change": _fmt_change,
    }
    return environment.get_template("report.html.j2").render(context)
