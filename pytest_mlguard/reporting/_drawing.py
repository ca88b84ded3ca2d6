"""What report.html's plots share: a matplotlib figure (object-oriented API, no pyplot), its base64 PNG,
the colours, and labels cut to fit. matplotlib is imported when a figure is made, never when the plugin loads."""

from __future__ import annotations

import base64
import io
import math
from typing import Any


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
