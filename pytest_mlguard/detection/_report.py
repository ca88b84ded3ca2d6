"""The detection family's pytest hooks: its summary in the terminal, as the corruption family prints a
segmentation model's mPC and rPC (:mod:`pytest_mlguard.corruptions._report`).

Registered with the family. On the controller, ``pytest_terminal_summary`` prints, for each model whose
``detection[mpc]`` check ran, one line with the mPC and rPC and one per corruption with its mAP by
severity, from the report's check objects. Imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest

from .._stash import session_of


def summary_lines(checks: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """One line per model with a ``detection[mpc]`` result (mPC, rPC, clean mAP), one per corruption
    (mAP by severity).

    Example:
        >>> details = {"mPC": 0.6, "rPC": 0.8, "clean_map": 0.75, "cells": [
        ...     {"corruption": "fog", "severity": 1, "map": 0.7}, {"corruption": "fog", "severity": 5, "map": 0.5}]}
        >>> print("\\n".join(summary_lines([{"id": "detection[mpc]", "model": "m", "family": "detection", "details": details}])))
        m: mPC 0.6000 (mean mAP over 2 corruption cells), rPC 0.800 (of the clean mAP 0.7500)
          fog  severity 1: 0.700  5: 0.500
    """
    for check in checks:
        details = check.get("details") or {}
        if check.get("family") != "detection" or check.get("id") != "detection[mpc]" or details.get("mPC") is None:
            continue
        cells = details.get("cells", [])
        rpc = "n/a" if details.get("rPC") is None else f"{details['rPC']:.3f}"
        yield (
            f"{check['model']}: mPC {details['mPC']:.4f} (mean mAP over {len(cells)} corruption cell{'' if len(cells) == 1 else 's'}), "
            f"rPC {rpc} (of the clean mAP {details['clean_map']:.4f})"
        )
        curves: dict[str, list[str]] = {}
        for cell in cells:
            curves.setdefault(cell["corruption"], []).append(f"{cell['severity']}: {cell['map']:.3f}")
        width = max(map(len, curves), default=0)
        for name, points in curves.items():
            yield f"  {name:<{width}}  severity {'  '.join(points)}"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    mlguard = session_of(terminalreporter.config)
    lines = list(summary_lines((mlguard.reporter.report or {}).get("checks", ())))
    if mlguard.is_worker or not lines:
        return
    terminalreporter.write_sep("-", "mlguard detection summary")
    for line in lines:
        terminalreporter.write_line(line)
