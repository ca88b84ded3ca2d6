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


#: the most categories a bar chart draws (the largest shares of either sample)
CATEGORIES = 12
#: the colours and legend labels of the two samples
_SAMPLES = (("reference", "#1f77b4", "evaluation data"), ("production", "#d62728", "production"))


def histograms(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The figure of ``model``'s shift checks: one panel per histogram (at most :data:`PANELS`)."""
    panels = _panels(checks)
    if not panels:
        return []
    from ...reporting.plots import png_base64

    caption = (
        "What the drift checks compare, the evaluation data (blue) against the production sample (red), as "
        "fractions of each sample: the tests with the smallest Holm-adjusted p-values first; a categorical column "
        "as the shares of its categories."
    )
    names = ", ".join(name for name, _, _ in panels)
    return [{"png": png_base64(histogram_figure(panels)), "alt": f"histograms of {model}'s evaluation data and production sample: {names}", "caption": caption}]


def histogram_figure(panels: list[tuple[str, Mapping[str, Any], float | None]]) -> Any:
    """A matplotlib ``Figure`` of ``(name, histogram, adjusted p-value)`` panels: steps over a
    histogram's ``edges``, bars by category for one with ``labels`` (:func:`.statistics.category_shares`)."""
    from matplotlib.figure import Figure

    columns = min(3, len(panels))
    rows = (len(panels) + columns - 1) // columns
    figure = Figure(figsize=(3.2 * columns, 2.4 * rows), dpi=100, layout="constrained")
    for index, (name, drawn, adjusted) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, index + 1)
        if "labels" in drawn:
            _bars(axes, drawn)
        else:
            for key, colour, label in _SAMPLES:
                axes.stairs(list(drawn[key]), list(drawn["edges"]), color=colour, label=label)
        axes.set_title(name if adjusted is None else f"{name} (Holm p={adjusted:.2g})", fontsize=9)
        axes.tick_params(labelsize=7)
        if index == 0:
            axes.legend(fontsize=7)
    return figure


def _bars(axes: Any, drawn: Mapping[str, Any]) -> None:
    """Side-by-side bars of each sample's share of each category, labelled by category: the
    :data:`CATEGORIES` largest (by the larger of the two shares), in the schema's order."""
    labels = list(drawn["labels"])
    shown = sorted(sorted(range(len(labels)), key=lambda i: -max(drawn["reference"][i], drawn["production"][i]))[:CATEGORIES])
    for offset, (key, colour, label) in zip((-0.2, 0.2), _SAMPLES):
        axes.bar([position + offset for position in range(len(shown))], [drawn[key][i] for i in shown], width=0.4, color=colour, label=label)
    axes.set_xticks(range(len(shown)), [labels[i] for i in shown], rotation=30 if len(shown) > 4 else 0, ha="right" if len(shown) > 4 else "center")
    axes.set_ylabel("share", fontsize=7)


def null_distribution(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The figure of ``model``'s ``shift[embedding]``: the MMD² of its permutation null (a histogram)
    and the observed MMD² (a line), with the null's 95th and 99th percentiles."""
    found = [test["null"] for check in checks for test in (check.get("details") or {}).get("tests", ()) if test.get("null")]
    if not found:
        return []
    from matplotlib.figure import Figure

    from ...reporting.plots import png_base64

    null = found[0]
    figure = Figure(figsize=(4.8, 2.8), dpi=100, layout="constrained")
    axes = figure.add_subplot(1, 1, 1)
    axes.stairs(null["counts"], null["edges"], color="#1f77b4", fill=True, alpha=0.5, label=f"null ({null['permutations']} permutations)")
    axes.axvline(null["q99"], color="#7f7f7f", linestyle=":", label="null's 99th percentile")
    axes.axvline(null["observed"], color="#d62728", label=f"observed {null['observed']:.4g}")
    axes.set_xlabel("MMD² of the embeddings", fontsize=8)
    axes.set_ylabel("fraction of permutations", fontsize=8)
    far = null["observed"] / null["q99"] if null["q99"] > 0 else float("inf")
    if far > 10 and null["edges"][0] > 0:  # the observed MMD² far beyond the null: a linear axis squeezes the null to a line
        axes.set_xscale("log")
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=7)
    beyond = f"; the observed MMD² is {far:.3g} times the null's 99th percentile" if far > 1 else ""
    caption = (
        "shift[embedding]: the MMD² of the model's embeddings of the evaluation data and of production (red) against its "
        f"null distribution, the MMD² of random relabellings of the pooled samples (blue){beyond}."
    )
    return [{"png": png_base64(figure), "alt": f"{model}'s embedding MMD² against its permutation null", "caption": caption}]
