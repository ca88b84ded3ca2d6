"""report.html's calibration figures (``Family.plots``): a reliability diagram per check with reliability
bins, and the ECE under corruption and under attack beside the ECE of the same samples without the shift.
The drawing is :mod:`pytest_mlguard.reporting.plots`' (matplotlib, imported when the page is drawn)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


#: what the reliability bins of a calibration check count, by its ``details["metric"]`` (a classifier's: samples)
_UNITS = {"pixel_ece": "pixels", "detection_ece": "boxes"}


def reliability_unit(check: Mapping[str, Any]) -> str:
    """What a calibration check's reliability bins count: ``samples``, a segmenter's ``pixels`` or a detector's ``boxes``."""
    return _UNITS.get(str((check.get("details") or {}).get("metric")), "samples")


def reliability(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """A reliability diagram for each set of reliability bins of ``model``'s calibration checks."""
    from ..reporting import plots

    caption = (
        "Reliability diagram ({id}): {held} of each confidence bin; hatched, the gap to the "
        "bin's mean confidence (red: confidence above {held}, blue: below it); grey, the share of {unit} per bin."
    )
    return [
        {
            "png": png,
            "alt": f"reliability diagram of {model}, {check['id']}",
            "caption": caption.format(id=check["id"], held=plots.reliability_label(check), unit=reliability_unit(check)),
        }
        for check in checks
        for png in plots.reliability_figures(check)
    ]


def shift(model: str, checks: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The ECE of ``model`` under corruption and under attack (``checks``: its corruption and attack checks)."""
    from ..reporting import plots

    corruption = [c for c in checks if c["family"] == "corruption"]
    attack = [c for c in checks if c["family"] == "attack"]
    png = plots.shift_calibration_figure(model, corruption, attack)
    if not png:
        return []
    points = plots.shift_points(corruption, attack)
    shifts = " and under ".join(family for family in ("corruption", "attack") if any(p["family"] == family for p in points))
    reference = (
        ", each beside the ECE of the same samples without the shift (a check that stops early measures fewer samples)"
        if any(p["clean"] is not None for p in points)
        else " (the checks carry no ECE of their samples without the shift to draw beside it)"
    )
    caption = f"ECE under {shifts}{reference}: how confidence degrades, not only accuracy."
    return [{"png": png, "alt": f"ECE under shift of {model}: {plots.shift_description(corruption, attack)}", "caption": caption}]
