"""pytest-html: where it is installed, each row of an item that measured a check carries the check's
metric, threshold and interval, and a link to the check's row in pytest-mlguard's report.html. The
columns are added by pytest-html's hooks (``pytest_html_results_table_header``,
``pytest_html_results_table_row``), declared optional so that pytest does not ask for pytest-html; a
row's values come from the item's ``mlguard_*`` user properties, which pytest-xdist carries to the
controller.

Example:
    >>> check_anchor("examples/digits/conftest.py::mlguard::attack[pgd-linf-0.1]")
    'check-examples-digits-conftest.py::mlguard::attack-pgd-linf-0.1-'
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import pytest

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")


def check_anchor(nodeid: str) -> str:
    """The ``id`` of the row in report.html of the check the item ``nodeid`` measured."""
    return "check-" + _UNSAFE.sub("-", nodeid)


class PytestHtmlColumns:
    """The hooks that add the mlguard columns to pytest-html's results table.

    Args:
        href: the link from pytest-html's report to pytest-mlguard's report.html (``None`` where the run
            writes none: no link is shown).
    """

    HEADERS = ("mlguard value", "threshold", "interval", "mlguard report")

    def __init__(self, href: str | None) -> None:
        self.href = href

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[2:2] = [f'<th class="mlguard">{name}</th>' for name in self.HEADERS]

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        cells[2:2] = [f'<td class="mlguard">{text}</td>' for text in self.row(report.nodeid, dict(report.user_properties))]

    def row(self, nodeid: str, properties: Mapping[str, Any]) -> tuple[str, str, str, str]:
        """The four cells of a row (HTML), empty where the item measured no check."""
        if "mlguard_metric" not in properties:
            return "", "", "", ""
        value = properties.get("mlguard_value")
        kind = "floor" if "mlguard_floor" in properties else "ceiling"
        threshold = float(properties[f"mlguard_{kind}"])
        spec = str(properties.get("mlguard_threshold") or "")
        bound = f"{'≥' if kind == 'floor' else '≤'} {threshold:.4f}" + (f" ({spec})" if spec and spec != f"{threshold:g}" else "")
        interval = properties.get("mlguard_interval")
        shown = f"[{float(interval[0]):.4f}, {float(interval[1]):.4f}]" if interval else ""
        link = ""
        if self.href is not None:
            link = f'<a href="{html.escape(self.href)}#{check_anchor(nodeid)}">report.html</a>'
        measured = f"{properties['mlguard_metric']} {'nan' if value is None else format(float(value), '.4f')}"
        return html.escape(measured), html.escape(bound), shown, link
