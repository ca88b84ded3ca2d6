"""The report's plots, drawn with matplotlib's object-oriented API (no pyplot, no global state) and
returned as base64 PNG, so that ``report.html`` needs nothing from the network.

Each function reads what the checks put in their ``details`` and returns ``None`` when there is
nothing to draw, so a report without, say, attack checks simply has no attack plot:

* calibration: ``details["reliability"]`` with per-bin ``accuracy``, ``confidence`` and ``count``
  (and optionally ``edges``), or a table of such bins by name (equal-width, equal-mass, ...);
* corruption: ``details["corruption"]``, ``details["severity"]``, the check's ``value`` and
  ``details["clean_accuracy"]``;
* attack: ``details["attack"]``, ``details["norm"]``, ``details["eps"]``, the check's ``value`` and
  ``details["clean_accuracy"]``; sweeps and minimal attacks: ``details["curve"]`` (``eps`` and
  ``robust_accuracy`` lists);
* calibration under shift: ``details["ece"]`` of corruption checks and ``details["ece"]`` or
  ``details["ece_adversarial"]`` of attack checks, where present.

The corruption and attack curves are drawn in :mod:`._robustness_plots` and exported here; what the
plots share (the figure, its PNG, the colours) is in :mod:`._drawing`.

matplotlib is imported when a plot is drawn, never when the plugin loads. With the result cache on,
:class:`~.figure_cache.FigureCache` keeps drawn plots by a hash of what they draw, so a re-run whose results all came
from the cache draws nothing (and imports no matplotlib).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from ._drawing import _BLUE, _GREY, _ORANGE, _PURPLE, _RED, _figure, _number, _short, png_base64
from ._figure_cache import FigureCache
from ._robustness_plots import _norm_of, attack_figure, attack_panels, attack_series, corruption_figure, metric_label, severity_figure

__all__ = [
    "FigureCache",
    "attack_figure",
    "attack_panels",
    "attack_series",
    "corruption_figure",
    "metric_label",
    "png_base64",
    "reliability_diagram",
    "reliability_figures",
    "reliability_label",
    "score_figure",
    "severity_figure",
    "shift_calibration_figure",
    "shift_description",
    "shift_layout",
    "shift_points",
]


def _bins_of(reliability: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """``[(name, bins)]`` from a reliability entry: one set of bins, or a table of them by name."""
    if not isinstance(reliability, Mapping):
        return []
    if all(k in reliability for k in ("accuracy", "confidence", "count")):
        return [("", reliability)]
    return [(str(name), bins) for name, bins in reliability.items() if isinstance(bins, Mapping) and all(k in bins for k in ("accuracy", "confidence", "count"))]


#: the reliability diagram's bars: accuracy, then the gap to the bin's confidence, never drawn over
#: each other, each opaque and styled as its legend entry
_ACCURACY = {"color": _BLUE, "edgecolor": "white", "linewidth": 0.8}
_UNDER = {"color": "#9ecae9", "edgecolor": _BLUE, "hatch": "\\\\", "linewidth": 0.0}
_OVER = {"color": "#f4b6b6", "edgecolor": _RED, "hatch": "//", "linewidth": 0.0}


def reliability_diagram(check: Mapping[str, Any], bins: Mapping[str, Any], name: str = "") -> Any:
    """The reliability diagram of one set of ``bins`` of a calibration check, as a matplotlib
    ``Figure`` (``None`` if the bins do not hold one): per bin, a bar up to its accuracy, and the gap
    to its mean confidence above (overconfident: confidence above accuracy) or within it
    (underconfident: accuracy above confidence), then the share of samples per bin below.

    Example:
        >>> bins = {"accuracy": [0.5, 1.0], "confidence": [0.7, 0.6], "count": [4, 1]}
        >>> figure = reliability_diagram({"model": "m", "id": "calibration[ece]", "metric": "ece", "value": 0.1}, bins)
        >>> sorted(figure.axes[0].get_legend_handles_labels()[1])
        ['accuracy', 'accuracy above confidence', 'confidence above accuracy', 'perfect calibration']
    """
    accuracy = [float(a) for a in bins["accuracy"]]
    confidence = [float(c) for c in bins["confidence"]]
    count = [float(c) for c in bins["count"]]
    held = reliability_label(check)
    n_bins = len(accuracy)
    if not n_bins or len(confidence) != n_bins or len(count) != n_bins:
        return None
    edges = [float(e) for e in bins.get("edges", [])]
    if len(edges) != n_bins + 1:
        edges = [i / n_bins for i in range(n_bins + 1)]
    figure = _figure(7.4, 4.4)  # the legend to the right of the bars
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    labels: set[str] = set()

    def bar(left: float, width: float, low: float, high: float, label: str, style: Mapping[str, Any]) -> None:
        if high > low:
            top.bar(left, high - low, bottom=low, width=width, align="edge", label=None if label in labels else label, **style)
            labels.add(label)

    for (left, right), a, c, n in zip(itertools.pairwise(edges), accuracy, confidence, count):
        if n <= 0:
            continue
        bar(left, right - left, 0.0, min(a, c), held, _ACCURACY)
        bar(left, right - left, c, a, f"{held} above confidence", _UNDER)  # underconfident: within the accuracy bar
        bar(left, right - left, a, c, f"confidence above {held}", _OVER)  # overconfident: above it
    top.plot([0, 1], [0, 1], linestyle="--", color=_GREY, label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel(held)
    value = _number(check.get("value"))
    label = f"{_short(check['model'], 24)}: {check['id']}" + (f" ({name})" if name else "")
    top.set_title(label + (f", {check['metric']} {value:.4f}" if value is not None else ""), fontsize=10)
    top.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8)  # beside the bars: inside, it covered some
    total = sum(count) or 1.0
    bottom.bar(edges[:-1], [c / total for c in count], width=[b - a for a, b in itertools.pairwise(edges)], align="edge", color=_GREY)
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("share")
    return figure


#: what a reliability diagram's bins hold, by the calibration check's ``details["metric"]`` (a classifier's: accuracy)
_RELIABILITY_LABELS = {"pixel_ece": "pixel accuracy", "detection_ece": "share of true positives (IoU 0.5)"}


def reliability_label(check: Mapping[str, Any]) -> str:
    """What the bins of a calibration check's reliability diagram hold: ``accuracy``, ``pixel accuracy`` (a
    segmenter's pixel-level ECE), or the share of a detector's boxes that are true positives at IoU 0.5."""
    return _RELIABILITY_LABELS.get(str((check.get("details") or {}).get("metric")), "accuracy")


def reliability_figures(check: Mapping[str, Any]) -> list[str]:
    """Reliability diagrams of a calibration check (:func:`reliability_diagram`), one per set of bins."""
    figures = (reliability_diagram(check, bins, name) for name, bins in _bins_of(check.get("details", {}).get("reliability")))
    return [png_base64(figure) for figure in figures if figure is not None]


def _check_name(check: Mapping[str, Any]) -> str:
    """``corruption[gaussian_noise-3]`` -> ``gaussian_noise-3``."""
    text = str(check.get("id", ""))
    return text[text.index("[") + 1 : -1] if "[" in text and text.endswith("]") else text


def shift_points(corruption: Sequence[Mapping[str, Any]], attack: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The checks that measured the ECE under a shift, as points: ``group`` (``severity``, or
    ``epsilon (<norm>)``), ``series`` (the corruption, or ``<attack>-<norm>``), ``x`` (severity or
    epsilon), ``ece``, ``clean`` (the ECE of the same samples without the shift: a check that stops
    early measures fewer samples than another, so each has its own), ``label`` and ``n``.

    Example:
        >>> noise = {"id": "corruption[gaussian_noise-3]", "n": 60,
        ...          "details": {"corruption": "gaussian_noise", "severity": 3, "ece": 0.09, "clean_ece": 0.02}}
        >>> [(p["group"], p["series"], p["x"], p["ece"], p["clean"]) for p in shift_points([noise], [])]
        [('severity', 'gaussian_noise', 3.0, 0.09, 0.02)]
    """
    points = []
    for family, checks in (("corruption", corruption), ("attack", attack)):
        for check in checks:
            details = check.get("details", {})
            if family == "corruption":
                x, names = _number(details.get("severity")), [details.get("corruption")]
            else:
                x, names = _number(details.get("eps")), [details.get("attack"), details.get("norm")]
            ece = _number(details.get("ece"))
            if ece is None and family == "attack":
                ece = _number(details.get("ece_adversarial"))
            if x is None or ece is None or not all(isinstance(n, str) for n in names):
                continue
            series = "-".join(names)
            group = "severity" if family == "corruption" else f"epsilon ({_norm_of(series) or '?'})"
            points.append(
                {"family": family, "group": group, "series": series, "x": x, "ece": ece, "clean": _number(details.get("clean_ece")), "label": _check_name(check), "n": check.get("n")}
            )
    return points


def shift_layout(points: Sequence[Mapping[str, Any]]) -> tuple[dict[str, dict[str, list[Mapping[str, Any]]]], list[Mapping[str, Any]]]:
    """How :func:`shift_calibration_figure` draws ``points``: a line needs at least two measured
    points, so a group (severity, or epsilon of one norm) where some series has two is a panel of
    lines (by group, then series, sorted by x); every other point is a bar beside its clean ECE."""
    groups: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for point in points:
        groups.setdefault(point["group"], {}).setdefault(point["series"], []).append(point)
    lines: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    bars: list[Mapping[str, Any]] = []
    for group in sorted(groups, key=lambda g: (g != "severity", g != "epsilon (linf)", g)):
        series = groups[group]
        if any(len(p) >= 2 for p in series.values()):
            lines[group] = {name: sorted(series[name], key=lambda p: p["x"]) for name in sorted(series)}
        else:
            bars += [p for name in sorted(series) for p in sorted(series[name], key=lambda p: p["x"])]
    return lines, bars


def shift_description(corruption: Sequence[Mapping[str, Any]], attack: Sequence[Mapping[str, Any]]) -> str:
    """What :func:`shift_calibration_figure` draws, in words (the image's alternative text)."""
    lines, bars = shift_layout(shift_points(corruption, attack))
    parts = [f"lines against {group}: " + ", ".join(f"{name} ({len(points)} points)" for name, points in series.items()) for group, series in lines.items()]
    if bars:
        shown = (f"{p['label']} {p['ece']:.3f}" + (f" (clean {p['clean']:.3f})" if p["clean"] is not None else "") for p in bars)
        parts.append("bars, each beside the ECE of the same samples without the shift: " + ", ".join(shown))
    return "; ".join(parts)


def shift_calibration_figure(model: str, corruption: Sequence[Mapping[str, Any]], attack: Sequence[Mapping[str, Any]]) -> str | None:
    """The ECE under corruption and under attack (:func:`shift_layout`): lines against severity or
    epsilon (one panel per norm), from the clean ECE at 0 where the series' checks share one; and
    bars for checks with a single point in their series, each beside the ECE of the same samples
    without the shift."""
    lines, bars = shift_layout(shift_points(corruption, attack))
    if not lines and not bars:
        return None
    panels = len(lines) + (1 if bars else 0)
    figure = _figure(5.2 * panels, max(3.6, 1.2 + 0.42 * len(bars)))
    axes_list = list(figure.subplots(1, panels, squeeze=False)[0])
    for axes, (group, series) in zip(axes_list, lines.items()):
        for name, points in series.items():
            xs, ys = [p["x"] for p in points], [p["ece"] for p in points]
            cleans = {p["clean"] for p in points}
            if len(cleans) == 1 and None not in cleans:  # the same samples throughout: the line starts from them
                xs, ys = [0.0, *xs], [cleans.pop(), *ys]
            axes.plot(xs, ys, marker="o", label=name)
        axes.set_title(f"{_short(model)}: calibration under shift", fontsize=10)
        axes.set_xlabel(group)
        axes.set_ylabel("ECE")
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    if bars:
        axes = axes_list[-1]
        rows = list(range(len(bars)))[::-1]  # the first point on top
        colours = {"corruption": _ORANGE, "attack": _PURPLE}
        for family, label in (("corruption", "under corruption"), ("attack", "under attack")):
            shown = [(y, p) for y, p in zip(rows, bars) if p["family"] == family]
            if shown:
                axes.barh([y - 0.2 for y, _ in shown], [p["ece"] for _, p in shown], height=0.38, color=colours[family], label=label)
        clean = [(y, p) for y, p in zip(rows, bars) if p["clean"] is not None]
        if clean:
            axes.barh([y + 0.2 for y, _ in clean], [p["clean"] for _, p in clean], height=0.38, color="#c7c7c7", label="same samples, unshifted")
        for y, p in zip(rows, bars):
            axes.text(p["ece"], y - 0.2, f" {p['ece']:.3f}", va="center", fontsize=7)
        axes.set_yticks(rows, [_short(f"{p['label']} (n={p['n']})" if p["n"] else p["label"], 32) for p in bars], fontsize=8)
        axes.set_xlim(0, max(max(p["ece"], p["clean"] or 0.0) for p in bars) * 1.2 or 1.0)
        axes.set_xlabel("ECE")
        axes.set_title(f"{_short(model)}: calibration under shift", fontsize=10)
        axes.grid(alpha=0.3, axis="x")
        axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    return png_base64(figure)


def score_figure(score_components: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Each model's score components (0-100) as horizontal bars, coloured like the badges."""
    from ._badge import score_color

    rows = [(f"{_short(model, 24)}: {family}", 100.0 * float(value)) for model, entry in score_components.items() for family, value in entry["components"].items()]
    if not rows:
        return None
    colours = {"red": "#e05d44", "orange": "#fe7d37", "yellow": "#dfb317", "yellowgreen": "#a4a61d", "green": "#4c1"}
    figure = _figure(5.2, 0.9 + 0.32 * len(rows))
    axes = figure.subplots()
    labels = [r[0] for r in rows][::-1]
    values = [r[1] for r in rows][::-1]
    axes.barh(labels, values, color=[colours[score_color(v)] for v in values])
    for y, v in enumerate(values):
        axes.text(min(v + 1, 88), y, f"{v:.1f}", va="center", fontsize=8)
    axes.set_xlim(0, 100)
    axes.set_xlabel("component (0-100)")
    axes.set_title("score components", fontsize=10)
    return png_base64(figure)
