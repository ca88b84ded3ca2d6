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

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .badge import score_color
from .examples import failing_examples
from .report import family_rank

__all__ = ["render_html"]

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


def _interval(check: Mapping[str, Any]) -> str | None:
    """A confidence interval, where a check carries one (``interval``: ``[low, high]`` or a mapping)."""
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
    text = f"[{low:.4f}, {high:.4f}]"
    if isinstance(value, Mapping) and isinstance(value.get("confidence"), (int, float)):
        text += f" {value['confidence']:.0%} {value.get('method') or ''}".rstrip()
    return text


def _verdict(check: Mapping[str, Any]) -> str:
    verdict = check.get("verdict")
    if isinstance(verdict, str) and verdict:
        return verdict
    return "passed" if check.get("passed") else "failed"


def _verdict_note(check: Mapping[str, Any]) -> str:
    """What an inconclusive verdict counted as, and the sample size that would decide it; early
    stopping; a result reused from the cache."""
    notes = []
    if _verdict(check) == "inconclusive":
        notes.append(f"{'passed' if check.get('passed') else 'failed'} by policy {check.get('policy', 'estimate')}")
        if check.get("required_n"):
            notes.append(f"n={check['required_n']} would decide")
    if check.get("evaluations_saved"):
        notes.append(f"stopped early: {check['evaluations_saved']} evaluations saved")
    cached = check.get("details", {}).get("cached") if isinstance(check.get("details"), Mapping) else None
    if isinstance(cached, Mapping):
        notes.append(f"from the cache, measured {cached.get('stored_at')}")
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
    }


def _model_plots(model: str, checks: Sequence[Mapping[str, Any]], figures_cache: Any) -> dict[str, Any]:
    from . import plots

    cached = figures_cache.draw
    by_family: dict[str, list[Mapping[str, Any]]] = {}
    for check in checks:
        by_family.setdefault(check["family"], []).append(check)
    figures: list[dict[str, str]] = []
    missing: list[str] = []
    for check in by_family.get("calibration", []):
        for png in cached(plots.reliability_figures, check):
            figures.append(
                {
                    "kind": "reliability",
                    "png": png,
                    "alt": f"reliability diagram of {model}, {check['id']}",
                    "caption": f"Reliability diagram ({check['id']}): accuracy of each confidence bin against its confidence; "
                    "red is the gap to the diagonal, grey the share of samples per bin.",
                }
            )
    if not any(f["kind"] == "reliability" for f in figures):
        missing.append("No reliability diagram: no calibration check recorded reliability bins.")
    for kind, draw, caption, absent in (
        ("corruption", plots.corruption_figure, "Accuracy against corruption severity, from the clean accuracy at 0; failing checks circled in red.", "No accuracy-against-severity plot: no corruption check recorded a result."),
        ("attack", plots.attack_figure, "Robust accuracy against epsilon, from the clean accuracy at 0; failing checks circled in red.", "No robust-accuracy-against-epsilon plot: no attack check recorded a result."),
    ):
        png = cached(draw, model, by_family.get(kind, []))
        if png:
            figures.append({"kind": kind, "png": png, "alt": f"{kind} curves of {model}", "caption": caption})
        else:
            missing.append(absent)
    png = cached(plots.shift_calibration_figure, model, by_family.get("corruption", []), by_family.get("attack", []))
    if png:
        figures.append({"kind": "calibration-shift", "png": png, "alt": f"ECE under shift of {model}", "caption": "ECE under corruption and under attack: how confidence degrades, not only accuracy."})
    return {"name": model, "figures": figures, "missing": missing}


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
        "plots": [_model_plots(model, model_checks, figures_cache) for model, model_checks in by_model.items()],
        "examples": failing_examples(report, output, per_check=examples_per_check),
        "models": _model_rows(report.get("models", {})),
        "fmt": _fmt,
        "fmt_change": _fmt_change,
    }
    return environment.get_template("report.html.j2").render(context)
