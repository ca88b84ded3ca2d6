"""report.html's detection figure (``Family.plots``): mAP against corruption severity, one curve per
corruption, from the clean mAP at severity 0, with the mPC and rPC in the caption. The drawing is
:mod:`pytest_mlguard.reporting.plots`' (matplotlib, imported when the page is drawn)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def curves(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """mAP against severity of ``model``'s detection corruption checks; failing checks circled in red."""
    from ..reporting import plots

    cells = [check for check in checks if isinstance(check.get("details", {}).get("corruption"), str)]
    series = plots._curves(cells, ("corruption",), "severity")
    if not series:
        return []
    clean = next((check.get("value") for check in checks if check.get("id") == "detection[map]"), None)
    figure, axes = plots._curve_axes(f"{plots._short(model)}: mAP under corruption", "severity (0 = clean)", "COCO mAP (IoU 0.5:0.95)")
    plots._plot_series(axes, series, clean, 0.0)
    axes.set_xticks(range(6))
    summary: Mapping[str, Any] = next((check.get("details", {}) for check in checks if check.get("id") == "detection[mpc]"), {})
    caption = "COCO mAP against corruption severity, from the clean mAP at 0; failing checks circled in red."
    if summary.get("mPC") is not None:
        caption += f" mPC {summary['mPC']:.3f}, rPC {summary['rPC']:.3f} (Michaelis et al. 2019)."
    return [{"png": plots.png_base64(figure), "alt": f"detection mAP under corruption of {model}", "caption": caption}]
