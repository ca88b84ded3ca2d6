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

matplotlib is imported when a plot is drawn, never when the plugin loads. With the result cache on,
:class:`~.figure_cache.FigureCache` keeps drawn plots by a hash of what they draw, so a re-run whose results all came
from the cache draws nothing (and imports no matplotlib).
"""

from __future__ import annotations

import base64
import io
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._figure_cache import FigureCache

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

_BLUE, _RED, _GREY, _ORANGE, _PURPLE = "#1f77b4", "#d62728", "#7f7f7f", "#ff7f0e", "#9467bd"


def _figure(width: float = 5.2, height: float = 3.6) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def png_base64(figure: Any) -> str:
    """The figure as a base64 PNG (for ``<img src="data:image/png;base64,...">``)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _short(text: str, width: int = 40) -> str:
    """Labels from user strings, cut to fit a plot."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


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


def _curve_axes(title: str, xlabel: str, ylabel: str) -> tuple[Any, Any]:
    figure = _figure()
    axes = figure.subplots()
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    return figure, axes


def _curves(checks: Iterable[Mapping[str, Any]], group: Sequence[str], x: str, y: str = "value") -> dict[str, list[tuple[float, float, bool]]]:
    """Series name -> sorted ``(x, y, passed)`` points from the checks' details."""
    series: dict[str, list[tuple[float, float, bool]]] = {}
    for check in checks:
        details = check.get("details", {})
        xv = _number(details.get(x))
        yv = _number(check.get("value") if y == "value" else details.get(y))
        if xv is None or yv is None or not all(isinstance(details.get(g), str) for g in group):
            continue
        name = "-".join(details[g] for g in group)
        series.setdefault(name, []).append((xv, yv, bool(check.get("passed", True))))
    return {name: sorted(points) for name, points in sorted(series.items())}


def _clean(checks: Iterable[Mapping[str, Any]]) -> float | None:
    values = [_number(c.get("details", {}).get("clean_accuracy")) for c in checks]
    values = [v for v in values if v is not None]
    return values[0] if values else None


def _plot_series(axes: Any, series: Mapping[str, list[tuple[float, float, bool]]], clean: float | None, origin: float) -> None:
    for name, points in series.items():
        xs = [origin, *(p[0] for p in points)] if clean is not None else [p[0] for p in points]
        ys = [clean, *(p[1] for p in points)] if clean is not None else [p[1] for p in points]
        (_line,) = axes.plot(xs, ys, marker="o", label=name)
        failed = [p for p in points if not p[2]]
        if failed:
            axes.scatter([p[0] for p in failed], [p[1] for p in failed], s=90, facecolors="none", edgecolors=_RED, linewidths=2, zorder=3)
    axes.set_ylim(0, 1.05)
    axes.legend(fontsize=8, loc="lower left")


#: the axis label of each task's metric, by the checks' ``details["metric"]`` (a classifier's: accuracy)
_METRIC_LABELS = {"miou": "mIoU", "robust_miou": "mIoU", "map": "mAP (IoU 0.5:0.95)", "robust_map": "mAP (IoU 0.5:0.95)"}


def metric_label(checks: Iterable[Mapping[str, Any]]) -> str:
    """What the checks measure, for the axes: ``accuracy``, or the task's metric where their details name it.

    Example:
        >>> metric_label([{"details": {"metric": "miou"}}]), metric_label([{"details": {}}])
        ('mIoU', 'accuracy')
    """
    found = (_METRIC_LABELS.get(str((check.get("details") or {}).get("metric"))) for check in checks)
    return next((label for label in found if label), "accuracy")


def corruption_figure(model: str, checks: Sequence[Mapping[str, Any]]) -> str | None:
    """The task's metric (accuracy, mIoU, mAP) against severity, one line per corruption, from the clean
    value at severity 0; failing checks are circled in red."""
    return severity_figure(model, checks, "corruption", f"{metric_label(checks)} under corruption")


def severity_figure(model: str, checks: Sequence[Mapping[str, Any]], group: str, title: str) -> str | None:
    """Accuracy against severity, one line per value of the checks' ``details[group]`` (a corruption, a
    tabular perturbation), from the clean accuracy at severity 0; failing checks are circled in red."""
    series = _curves(checks, (group,), "severity")
    if not series:
        return None
    figure, axes = _curve_axes(f"{_short(model)}: {title}", "severity (0 = clean)", metric_label(checks))
    _plot_series(axes, series, _clean(checks), 0.0)
    axes.set_xticks(range(1 + int(max(p[0] for points in series.values() for p in points))))
    return png_base64(figure)


def _sweep_curves(checks: Iterable[Mapping[str, Any]]) -> dict[str, list[tuple[float, float, bool]]]:
    """Series from sweeps and minimal attacks, whose details hold a whole ``curve`` (eps,
    robust_accuracy): ``pgd-linf (sweep)``, or ``deepfool-l2 (minimal perturbation)``, whose curve is
    the share of samples that the attack needed a larger perturbation than epsilon to flip."""
    series: dict[str, list[tuple[float, float, bool]]] = {}
    for check in checks:
        details = check.get("details", {})
        curve = details.get("curve")
        if not isinstance(curve, Mapping):
            continue
        xs, ys = curve.get("eps"), curve.get("robust_accuracy")
        if not isinstance(xs, Sequence) or not isinstance(ys, Sequence) or len(xs) != len(ys):
            continue
        points = [(float(x), float(y), True) for x, y in zip(xs, ys) if _number(x) is not None and _number(y) is not None]
        if points:
            name = "-".join(str(details[k]) for k in ("attack", "norm") if isinstance(details.get(k), str)) or check["id"]
            kind = "sweep" if str(check["id"]).endswith("-sweep]") else "minimal perturbation" if "perturbation" in details else "curve"
            series[f"{name} ({kind})"] = sorted(points)
    return series


def attack_series(checks: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[float, float, bool]]]:
    """The lines of :func:`attack_figure` by name: ``(epsilon, robust accuracy, passed)`` points.

    Example:
        >>> deepfool = {"id": "attack[deepfool-l2]", "details": {"attack": "deepfool", "norm": "l2", "perturbation": {},
        ...             "curve": {"eps": [0.5, 1.0], "robust_accuracy": [0.6, 0.1]}}}
        >>> list(attack_series([deepfool]))
        ['deepfool-l2 (minimal perturbation)']
    """
    unbounded = [check for check in checks if (check.get("details") or {}).get("eps") is None]  # a patch: by its side in px
    patches = {f"{name}{_PATCH}": points for name, points in _curves(unbounded, ("attack",), "side").items()}
    return {**_curves(checks, ("attack", "norm"), "eps"), **_sweep_curves(checks), **patches}


_PATCH = " (side in px)"  # ends the name of a patch attack's series (a detector's attack[patch-<side>]: no epsilon)


def attack_panels(checks: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[tuple[float, float, bool]]]]:
    """The panels of :func:`attack_figure`: one per norm (their epsilons are in different units), then ``patch``
    (the patch attacks, by their side in pixels), each holding its lines of :func:`attack_series`.

    Example:
        >>> patch = {"id": "attack[patch-24]", "value": 0.3, "passed": False, "details": {"attack": "patch", "side": 24}}
        >>> attack_panels([patch])
        {'patch': {'patch (side in px)': [(24.0, 0.3, False)]}}
    """
    series = attack_series(checks)
    panel = {name: "patch" if name.endswith(_PATCH) else _norm_of(name) for name in series}
    order = sorted(set(panel.values()), key=lambda p: (p == "patch", p != "linf", p))
    return {p: {name: points for name, points in series.items() if panel[name] == p} for p in order}


def _norm_of(name: str) -> str:
    for norm in ("linf", "l2", "l1", "l0"):
        if f"-{norm}" in name or name.startswith(norm):
            return norm
    return ""


def attack_figure(model: str, checks: Sequence[Mapping[str, Any]]) -> str | None:
    """Robust accuracy against epsilon, one line per attack and norm (one panel per norm: their
    epsilons are in different units), from the clean accuracy at epsilon 0; failing checks are
    circled in red; sweeps draw their whole curve; a patch attack its point at its side in pixels, in a
    panel of its own (:func:`attack_panels`)."""
    panels = attack_panels(checks)
    if not panels:
        return None
    figure = _figure(5.2 * len(panels), 3.6)
    clean, metric = _clean(checks), metric_label(checks)
    for axes, (panel, series) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels.items()):
        axes.set_title(f"{_short(model)}: robust {metric} under attack" + (f" ({panel})" if panel else ""), fontsize=10)
        axes.set_xlabel("patch side (px; 0 = clean)" if panel == "patch" else "epsilon (raw input units)")
        axes.set_ylabel(f"robust {metric}")
        axes.grid(alpha=0.3)
        _plot_series(axes, series, clean, 0.0)
    return png_base64(figure)


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
