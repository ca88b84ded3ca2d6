"""report.html's curves of the task's metric under shift: against corruption severity
(:func:`corruption_figure`, :func:`severity_figure`) and against the attack's epsilon (:func:`attack_figure`).
Public through :mod:`~.plots`; matplotlib is imported when a figure is drawn."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._drawing import _RED, _figure, _number, _short, png_base64


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


def epsilon_label(eps: float, norm: str) -> str:
    """How the attack figure labels an epsilon: an L-inf epsilon of inputs in [0, 1] as a fraction of 255
    (``8/255``, or ``0.5/255``) when it is a whole or half 255th, every other epsilon as a decimal.

    Example:
        >>> epsilon_label(0.0, "linf"), epsilon_label(1 / 255, "linf"), epsilon_label(0.03, "linf"), epsilon_label(0.5, "l2")
        ('0', '1/255', '0.03', '0.5')
    """
    steps = eps * 255
    if eps == 0:
        return "0"
    if norm == "linf" and 0 < eps <= 1 and (abs(steps - round(steps)) < 1e-6 or (steps < 10 and abs(2 * steps - round(2 * steps)) < 1e-6)):
        return f"{round(2 * steps) / 2:g}/255"
    return f"{eps:.3g}"


def _epsilon_ticks(axes: Any, series: Mapping[str, list[tuple[float, float, bool]]], clean: float | None) -> list[float]:
    """Tick an L-inf panel at its measured epsilons (and at 0 where the lines start from the clean value),
    labelled by :func:`epsilon_label` where every one is a fraction of 255, else all as decimals; returns the epsilons of single checks (not of a sweep's curve), whose
    labels :func:`_thin_tick_labels` keeps first."""
    xs = sorted({p[0] for points in series.values() for p in points} | ({0.0} if clean is not None else set()))
    labels = [epsilon_label(x, "linf") for x in xs]
    if any(x != 0 and "/" not in label for x, label in zip(xs, labels)):  # one unit on an axis: 0.1 beside 51/255 misleads
        labels = [epsilon_label(x, "l2") for x in xs]
    axes.set_xticks(xs, labels)
    return [p[0] for name, points in series.items() if not name.endswith(")") for p in points]


def _thin_tick_labels(figure: Any, preferred: Mapping[Any, Sequence[float]]) -> None:
    """Hide the x tick labels that would overlap another, so that close epsilons (1/255 and 2/255 beside
    16/255) never run together: each axes keeps its ``preferred`` ticks first, then 0, then the rest, each
    from the left, and a label only where it clears those kept by 4 px."""
    figure.draw_without_rendering()
    for axes in figure.axes:
        low, high = sorted(axes.get_xlim())
        ticks = [(x, tick.label1) for x, tick in zip(axes.get_xticks(), axes.xaxis.get_major_ticks()) if low <= x <= high and tick.label1.get_text()]
        first = set(preferred.get(axes, ()))
        kept: list[Any] = []
        for _x, label in sorted(ticks, key=lambda tick: (tick[0] not in first, tick[0] != 0, tick[0])):
            box = label.get_window_extent()
            if any(box.x0 < other.x1 + 4 and other.x0 < box.x1 + 4 for other in kept):
                label.set_visible(False)
            else:
                kept.append(box)


def attack_plot(model: str, checks: Sequence[Mapping[str, Any]]) -> Any:
    """The figure :func:`attack_figure` draws, as a matplotlib ``Figure`` (``None`` if there is nothing to draw)."""
    panels = attack_panels(checks)
    if not panels:
        return None
    figure = _figure(5.2 * len(panels), 3.6)
    clean, metric = _clean(checks), metric_label(checks)
    preferred = {}
    for axes, (panel, series) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels.items()):
        axes.set_title(f"{_short(model)}: robust {metric} under attack" + (f" ({panel})" if panel else ""), fontsize=10)
        axes.set_xlabel("patch side (px; 0 = clean)" if panel == "patch" else "epsilon (raw input units; 0 = clean)")
        axes.set_ylabel(f"robust {metric}")
        axes.grid(alpha=0.3)
        _plot_series(axes, series, clean, 0.0)
        if panel == "linf":
            preferred[axes] = _epsilon_ticks(axes, series, clean)
    _thin_tick_labels(figure, preferred)
    return figure


def attack_figure(model: str, checks: Sequence[Mapping[str, Any]]) -> str | None:
    """Robust accuracy against epsilon, one line per attack and norm (one panel per norm: their
    epsilons are in different units), from the clean accuracy at epsilon 0; failing checks are
    circled in red; sweeps draw their whole curve; a patch attack its point at its side in pixels, in a
    panel of its own (:func:`attack_panels`). The L-inf panel's ticks are its epsilons, labelled as
    fractions of 255 (:func:`epsilon_label`), and no two tick labels overlap: those that would are hidden."""
    figure = attack_plot(model, checks)
    return png_base64(figure) if figure is not None else None
