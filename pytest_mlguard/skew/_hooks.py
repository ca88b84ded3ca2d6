"""The ``skew`` family's fixture: ``mlguard_features``, ``None`` unless a project's conftest.py overrides
it with its offline and online feature paths (docs/tabular-skew.md). Registered with the family."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def mlguard_features() -> Any:
    """The offline and online feature paths (optional): a ``pytest_mlguard.skew.FeaturePaths``; ``None``
    unless a project's conftest.py overrides it (see docs/tabular-skew.md)."""
    return None
