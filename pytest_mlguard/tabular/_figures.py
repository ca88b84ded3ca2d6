"""report.html's tabular figures (``Family.plots``): accuracy against severity, one curve per perturbation
(the worst column of those applied one column at a time), from the clean accuracy at severity 0; and
the ranked accuracy lost with each column missing (``tabular[missing]``'s table). The drawing is
matplotlib's, imported when the page is drawn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: the most columns the missing-column figure shows
MAX_COLUMNS = 20


def curves(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Accuracy against perturbation severity of ``model``'s tabular checks."""
    from ..reporting import plots

    png = plots.severity_figure(model, checks, "perturbation", "accuracy under perturbation")
    caption = (
        "Accuracy against perturbation severity, from the clean accuracy at 0 (a perturbation of one column at a time: "
        "its worst column); failing checks circled in red."
    )
    return [{"png": png, "alt": f"tabular perturbation curves of {model}", "caption": caption}] if png else []


def column_drops(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The accuracy each column's absence costs, ranked, one bar chart per missing-column check."""
    from ..reporting import plots

    figures = []
    for check in checks:
        details = check.get("details") or {}
        rows = details.get("columns")
        if not details.get("missing") or not rows or len(rows) < 2:
            continue
        shown = sorted(rows, key=lambda row: -float(row["drop"]))[:MAX_COLUMNS]
        figure = plots._figure(5.2, 0.25 * len(shown) + 1.2)
        axes = figure.subplots()
        colours = ["#c0392b" if row.get("error") else "#4c72b0" for row in shown]
        axes.barh([str(row["column"]) for row in shown][::-1], [float(row["drop"]) for row in shown][::-1], color=colours[::-1])
        axes.set_xlabel("accuracy lost with the column missing")
        axes.set_title(f"{model}: {check.get('id')}", fontsize=10)
        axes.tick_params(axis="y", labelsize=7)
        caption = "The columns the model cannot live without: accuracy lost with each column missing, largest first (red: the model failed)."
        figures.append({"png": plots.png_base64(figure), "alt": f"accuracy lost per missing column of {model}", "caption": caption})
    return figures
