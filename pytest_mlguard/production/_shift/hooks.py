"""The ``shift`` family's fixture: ``mlguard_production``, ``None`` unless a project's conftest.py
overrides it with its logged production inputs (docs/drift.md). Registered with the family."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def mlguard_production() -> Any:
    """Logged production inputs, unlabelled (optional): ``None`` unless a project's conftest.py
    overrides it; the ``shift`` checks compare them with ``mlguard_data`` (see docs/drift.md)."""
    return None
