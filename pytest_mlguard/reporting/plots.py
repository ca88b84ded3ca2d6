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
:class:`FigureCache` keeps drawn plots by a hash of what they draw, so a re-run whose results all came
from the cache draws nothing (and imports no matplotlib).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "FigureCache",
    "attack_figure",
    "corruption_figure",
    "png_base64",
    "reliability_figures",
    "score_figure",
    "shift_calibration_figure",
]

_BLUE, _RED, _GREY = "#1f77b4", "#d62728", "#7f7f7f"


def _figure(width: float = 5.2, height: float = 3.6) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def png_base64(figure: Any) -> str:
    """The figure as a base64 PNG (for ``<img src="data:image/png;base64,...">``)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


#: fields of a check that differ between a measured and a cached run of it and that no plot shows
_VOLATILE = ("duration_s", "cached")


def _drawn_from(value: Any) -> Any:
    """``value`` without :data:`_VOLATILE` fields, at any depth."""
    if isinstance(value, Mapping):
        return {str(k): _drawn_from(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, (list, tuple)):
        return [_drawn_from(v) for v in value]
    return value


class FigureCache:
    """Plots already drawn, as files in ``directory`` named by a hash of the plotting function, its
    arguments (less the fields that only say how long a check took or that it came from the cache),
    this module's source and matplotlib's version. ``directory=None`` draws every time.

    Example:
        >>> FigureCache(None).draw(score_figure, {}) is None
        True
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None

    def _key(self, function: Callable[..., Any], args: tuple[Any, ...]) -> str:
        from importlib import metadata

        digest = hashlib.sha256(function.__qualname__.encode())
        digest.update(Path(__file__).read_bytes())
        try:
            digest.update(metadata.version("matplotlib").encode())
        except metadata.PackageNotFoundError:
            pass
        digest.update(json.dumps(_drawn_from(args), sort_keys=True, default=repr).encode())
        return digest.hexdigest()

    def draw(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)``: a base64 PNG, a list of them or ``None``, from the directory if drawn before."""
        if self.directory is None:
            return function(*args)
        from .atomic import write_files

        path = self.directory / f"{self._key(function, args)}.json"
        try:
            return json.loads(path.read_text())["figure"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        figure = function(*args)
        try:
            write_files({path: json.dumps({"figure": figure}).encode()})
        except OSError:  # a read-only cache: the page is drawn all the same
            pass
        return figure


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


def reliability_figures(check: Mapping[str, Any]) -> list[str]:
    """Reliability diagrams of a calibration check: bin accuracy against bin confidence, with the
    gap to the diagonal and the share of samples in each bin."""
    images = []
    for name, bins in _bins_of(check.get("details", {}).get("reliability")):
        accuracy = [float(a) for a in bins["accuracy"]]
        confidence = [float(c) for c in bins["confidence"]]
        count = [float(c) for c in bins["count"]]
        n_bins = len(accuracy)
        if not n_bins or len(confidence) != n_bins or len(count) != n_bins:
            continue
        edges = [float(e) for e in bins.get("edges", [])]
        if len(edges) != n_bins + 1:
            edges = [i / n_bins for i in range(n_bins + 1)]
        left = edges[:-1]
        width = [b - a for a, b in zip(edges[:-1], edges[1:])]
        filled = [c > 0 for c in count]
        figure = _figure(5.2, 4.4)
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        top.bar(left, [a if f else 0 for a, f in zip(accuracy, filled)], width=width, align="edge", color=_BLUE, edgecolor="white", label="accuracy")
        gap_bottom = [min(a, c) for a, c in zip(accuracy, confidence)]
        gap = [abs(c - a) if f else 0 for a, c, f in zip(accuracy, confidence, filled)]
        top.bar(left, gap, bottom=gap_bottom, width=width, align="edge", color=_RED, alpha=0.35, edgecolor=_RED, hatch="//", label="gap to confidence")
        top.plot([0, 1], [0, 1], linestyle="--", color=_GREY, label="perfect calibration")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1)
        top.set_ylabel("accuracy")
        value = _number(check.get("value"))
        label = f"{_short(check['model'], 24)}: {check['id']}" + (f" ({name})" if name else "")
        top.set_title(label + (f", {check['metric']} {value:.4f}" if value is not None else ""), fontsize=10)
        top.legend(loc="upper left", fontsize=8)
        total = sum(count) or 1.0
        bottom.bar(left, [c / total for c in count], width=width, align="edge", color=_GREY)
        bottom.set_xlabel("confidence")
        bottom.set_ylabel("share")
        images.append(png_base64(figure))
    return images


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
        (line,) = axes.plot(xs, ys, marker="o", label=name)
        failed = [p for p in points if not p[2]]
        if failed:
            axes.scatter([p[0] for p in failed], [p[1] for p in failed], s=90, facecolors="none", edgecolors=_RED, linewidths=2, zorder=3)
    axes.set_ylim(0, 1.05)
    axes.legend(fontsize=8, loc="lower left")


def corruption_figure(model: str, checks: Sequence[Mapping[str, Any]]) -> str | None:
    """Accuracy against severity, one line per corruption, from the clean accuracy at severity 0;
    failing checks are circled in red."""
    series = _curves(checks, ("corruption",), "severity")
    if not series:
        return None
    figure, axes = _curve_axes(f"{_short(model)}: accuracy under corruption", "severity (0 = clean)", "accuracy")
    _plot_series(axes, series, _clean(checks), 0.0)
    axes.set_xticks(range(0, 1 + int(max(p[0] for points in series.values() for p in points))))
    return png_base64(figure)


def _sweep_curves(checks: Iterable[Mapping[str, Any]]) -> dict[str, list[tuple[float, float, bool]]]:
    """Series from sweep and minimal attacks, whose details hold a whole ``curve`` (eps, robust_accuracy)."""
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
            series[f"{name} (sweep)"] = sorted(points)
    return series


def _norm_of(name: str) -> str:
    for norm in ("linf", "l2", "l1", "l0"):
        if f"-{norm}" in name or name.startswith(norm):
            return norm
    return ""


def attack_figure(model: str, checks: Sequence[Mapping[str, Any]]) -> str | None:
    """Robust accuracy against epsilon, one line per attack and norm (one panel per norm: their
    epsilons are in different units), from the clean accuracy at epsilon 0; failing checks are
    circled in red; sweeps draw their whole curve."""
    series = {**_curves(checks, ("attack", "norm"), "eps"), **_sweep_curves(checks)}
    if not series:
        return None
    norms = sorted({_norm_of(name) for name in series}, key=lambda n: (n != "linf", n))
    figure = _figure(5.2 * len(norms), 3.6)
    clean = _clean(checks)
    for axes, norm in zip(figure.subplots(1, len(norms), squeeze=False)[0], norms):
        axes.set_title(f"{_short(model)}: robust accuracy under attack" + (f" ({norm})" if norm else ""), fontsize=10)
        axes.set_xlabel("epsilon (raw input units)")
        axes.set_ylabel("robust accuracy")
        axes.grid(alpha=0.3)
        _plot_series(axes, {name: points for name, points in series.items() if _norm_of(name) == norm}, clean, 0.0)
    return png_base64(figure)


def shift_calibration_figure(model: str, corruption: Sequence[Mapping[str, Any]], attack: Sequence[Mapping[str, Any]]) -> str | None:
    """ECE against severity and against epsilon (one panel per norm), where the checks measured it
    under shift, from the clean ECE at 0 where a check gives it (``details["clean_ece"]``)."""
    attacks = _curves(attack, ("attack", "norm"), "eps", "ece") or _curves(attack, ("attack", "norm"), "eps", "ece_adversarial")
    panels = [(series, "severity")] if (series := _curves(corruption, ("corruption",), "severity", "ece")) else []
    for norm in sorted({_norm_of(name) for name in attacks}, key=lambda n: (n != "linf", n)):  # one panel per norm
        panels.append(({k: v for k, v in attacks.items() if _norm_of(k) == norm}, f"epsilon ({norm})" if norm else "epsilon"))
    if not panels:
        return None
    clean_values = [_number(c.get("details", {}).get("clean_ece")) for c in [*corruption, *attack]]
    clean = next((v for v in clean_values if v is not None), None)  # the ECE on clean data, at 0
    figure = _figure(5.2 * len(panels), 3.6)
    axes_list = figure.subplots(1, len(panels), squeeze=False)[0]
    for axes, (series, xlabel) in zip(axes_list, panels):
        for name, points in series.items():
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            if clean is not None:
                xs, ys = [0.0, *xs], [clean, *ys]
            axes.plot(xs, ys, marker="o", label=name)
        axes.set_title(f"{_short(model)}: calibration under shift", fontsize=10)
        axes.set_xlabel(xlabel)
        axes.set_ylabel("ECE")
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    return png_base64(figure)


def score_figure(score_components: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Each model's score components (0-100) as horizontal bars, coloured like the badges."""
    from .badge import score_color

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
