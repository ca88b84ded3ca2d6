"""report.html's attack figure (``Family.plots``): robust accuracy against epsilon, one curve per attack
and norm. The drawing is :mod:`pytest_mlguard.reporting.plots`' (matplotlib, imported when the page is drawn)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def curves(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The robust metric (accuracy, mIoU, mAP) against epsilon of ``model``'s attack checks."""
    from ..reporting import plots

    png = plots.attack_figure(model, checks)
    metric = plots.metric_label(checks)
    caption = (
        f"Robust {metric} against epsilon, from the clean {metric} at 0; failing checks circled in red; sweeps draw their whole curve, "
        "minimal-perturbation attacks the share of samples they needed more than epsilon to flip."
    )
    if "patch" in plots.attack_panels(checks):
        caption += " A patch attack has no epsilon: its panel draws its point at the patch's side in pixels."
    alt = f"robust {metric} against epsilon of {model}: {', '.join(plots.attack_series(checks))}"
    return [{"png": png, "alt": alt, "caption": caption}] if png else []
