"""report.html's corruption figure (``Family.plots``): accuracy against severity, one curve per corruption.
The drawing is :mod:`pytest_mlguard.reporting.plots`' (matplotlib, imported when the page is drawn)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def curves(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Accuracy against corruption severity of ``model``'s corruption checks."""
    from ..reporting import plots

    png = plots.corruption_figure(model, checks)
    caption = "Accuracy against corruption severity, from the clean accuracy at 0; failing checks circled in red."
    return [{"png": png, "alt": f"corruption curves of {model}", "caption": caption}] if png else []
