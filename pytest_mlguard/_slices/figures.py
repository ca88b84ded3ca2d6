"""report.html's figure of the ``slices`` checks: the weakest slices ranked, each accuracy with its
simultaneous interval, against the floor. matplotlib is imported when the figure is drawn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def weakest_slices(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One ranked chart per ``slices`` check of ``model`` that measured slices."""
    figures = []
    for check in checks:
        details = check.get("details") or {}
        rows = list(details.get("weakest") or [])[::-1]  # the weakest at the top
        if not rows:
            continue
        from matplotlib.figure import Figure

        from ..reporting.plots import png_base64

        figure = Figure(figsize=(7.5, 0.9 + 0.32 * len(rows)), dpi=100, layout="constrained")
        axes = figure.add_subplot()
        positions = range(len(rows))
        accuracy = [row["accuracy"] for row in rows]
        errors = [[a - row["low"] for a, row in zip(accuracy, rows)], [row["high"] - a for a, row in zip(accuracy, rows)]]
        colours = ["#d62728" if row["high"] < details.get("floor", 0) else "#1f77b4" for row in rows]
        axes.barh(positions, accuracy, xerr=errors, color=colours, alpha=0.8, capsize=2)
        axes.set_yticks(list(positions), [f"{row['slice']} (n={row['n']})" for row in rows], fontsize=7)
        axes.axvline(details.get("floor", 0), color="black", linestyle="--", linewidth=1, label="floor")
        axes.set_xlim(0, 1)
        axes.set_xlabel("accuracy", fontsize=8)
        axes.set_title(f"{model}: weakest of {details.get('slices')} slices ({check.get('id')})", fontsize=9)
        axes.legend(fontsize=7, loc="lower right")
        caption = (
            "The weakest slices, ranked by the upper end of their accuracy interval (the intervals hold for every "
            "slice at once: Bonferroni); red: surely below the floor."
        )
        names = "; ".join(row["slice"] for row in rows[::-1][:5])
        figures.append({"png": png_base64(figure), "alt": f"weakest slices of {model}: {names}", "caption": caption})
    return figures
