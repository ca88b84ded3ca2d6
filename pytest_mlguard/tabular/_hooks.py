"""The tabular family's pytest hooks: plan its checks only for a project of records.

A conftest.py that never names :class:`~pytest_mlguard.contract.TableData` or
:class:`~pytest_mlguard.contract.RecordModel` declares a model of images or arrays, for which the
tabular checks would only skip: its plan drops them (a suite of images and one of records can share a
pyproject.toml that turns the tabular checks on), unless ``tabular.enabled`` is set, in which case they
stay and skip saying why.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .._stash import session_of

if TYPE_CHECKING:
    from ..checks._base import CheckSpec

#: names whose presence in a conftest.py's source marks a project of records
MARKERS = ("TableData", "RecordModel")


def declares_records(path: Path) -> bool:
    """Whether the conftest.py at ``path`` names :data:`MARKERS` (unreadable: assumed so)."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return True
    return any(marker in source for marker in MARKERS)


@pytest.hookimpl(tryfirst=True)  # the project's own hooks see the plan that applies
def pytest_mlguard_plan(config: pytest.Config, family: str, checks: list[CheckSpec], path: Path | None) -> None:
    if family != "tabular" or path is None:
        return
    settings = session_of(config).settings
    asked = settings.source("tabular.enabled") != "default"
    if not asked and not declares_records(path):
        checks[:] = []
