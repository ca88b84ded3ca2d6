"""report.html's corruption figure (``Family.plots``): the task's metric (accuracy, mIoU, mAP) against
severity, one curve per corruption, with a segmentation model's or detector's mPC and rPC in the caption.
The drawing is :mod:`pytest_mlguard.reporting.plots`' (matplotlib, imported when the page is drawn)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def curves(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The metric against corruption severity of ``model``'s corruption checks."""
    from ..reporting import plots
    from ._metrics import summarize

    png = plots.corruption_figure(model, checks)
    metric = plots.metric_label(checks)
    caption = f"{'Accuracy' if metric == 'accuracy' else metric} against corruption severity, from the clean {metric} at 0; failing checks circled in red."
    summary = summarize(checks).get(model, {})
    if summary.get("mPC") is not None:
        rpc = "n/a" if summary.get("rPC") is None else f"{summary['rPC']:.3f}"
        caption += f" mPC {summary['mPC']:.3f}, rPC {rpc} (Michaelis et al. 2019)."
    return [{"png": png, "alt": f"corruption curves of {model}", "caption": caption}] if png else []
