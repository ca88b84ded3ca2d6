"""report.html's figure of the ``shift`` checks: the evaluation data's and production's histograms of
what the drift checks compare (the top probability, each image statistic or column), the most
significant first. matplotlib is imported when the figure is drawn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: the most panels one figure draws
PANELS = 6


def _panels(checks: list[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any], float | None]]:
    """``(name, histogram, adjusted p-value)`` of every histogram of the checks, the smallest p first."""
    found = []
    for check in checks:
        details = check.get("details") or {}
        adjusted = {test.get("name"): test.get("p_adjusted") for test in details.get("tests", [])}
        for name, drawn in (details.get("histograms") or {}).items():
            found.append((str(name), drawn, adjusted.get(name)))
    return sorted(found, key=lambda panel: 1.0 if panel[2] is None else panel[2])[:PANELS]


def histograms(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The figure of ``model``'s shift checks: one panel per histogram (at most :data:`PANELS`)."""
    panels = _panels(checks)
    if not panels:
        return []
    from matplotlib.figure import Figure

    from ...reporting.plots import png_base64

    columns = min(3, len(panels))
    rows = (len(panels) + columns - 1) // columns
    figure = Figure(figsize=(3.2 * columns, 2.4 * rows), dpi=100, layout="constrained")
    for index, (name, drawn, adjusted) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, index + 1)
        edges = list(drawn["edges"])
        for key, colour in (("reference", "#1f77b4"), ("production", "#d62728")):
            values = list(drawn[key])
            axes.stairs(values, edges, color=colour, label="evaluation data" if key == "reference" else "production")
        axes.set_title(name if adjusted is None else f"{name} (Holm p={adjusted:.2g})", fontsize=9)
        axes.tick_params(labelsize=7)
        if index == 0:
            axes.legend(fontsize=7)
    caption = (
        "What the drift checks compare, the evaluation data (blue) against the production sample (red), as "
        "fractions of each sample: the tests with the smallest Holm-adjusted p-values first."
    )
    names = ", ".join(name for name, _, _ in panels)
    return [{"png": png_base64(figure), "alt": f"histograms of {model}'s evaluation data and production sample: {names}", "caption": caption}]
