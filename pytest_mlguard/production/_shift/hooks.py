"""The ``shift`` family's fixture: ``mlguard_production``, ``None`` unless a project's conftest.py
overrides it with its logged production inputs (docs/drift.md), and the report's drift table. Registered with the family."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def mlguard_production() -> Any:
    """Logged production inputs, unlabelled (optional): ``None`` unless a project's conftest.py
    overrides it; the ``shift`` checks compare them with ``mlguard_data`` (see docs/drift.md)."""
    return None


def pytest_mlguard_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """``report["shift"]``: by model, the drift table, the embedding's null distribution and the
    estimated accuracy (:func:`~.tables.shift_tables`; docs/report-schema.md)."""
    from .tables import shift_tables

    tables = shift_tables(report.get("checks", ()))
    if tables:
        report["shift"] = tables
