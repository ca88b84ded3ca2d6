"""report.html's tabular figure (``Family.plots``): accuracy against severity, one curve per perturbation
(the worst column of those applied one column at a time), from the clean accuracy at severity 0.
The drawing is :mod:`pytest_mlguard.reporting.plots`' (matplotlib, imported when the page is drawn)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def curves(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Accuracy against perturbation severity of ``model``'s tabular checks."""
    from ..reporting import plots

    png = plots.severity_figure(model, checks, "perturbation", "accuracy under perturbation")
    caption = (
        "Accuracy against perturbation severity, from the clean accuracy at 0 (a perturbation of one column at a time: "
        "its worst column); failing checks circled in red."
    )
    return [{"png": png, "alt": f"tabular perturbation curves of {model}", "caption": caption}] if png else []
