"""Hooks other plugins and conftest files implement to extend pytest-mlguard.

Registered with ``pytest_addhooks``, in the manner of pytest-xdist's ``newhooks.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from .checks._base import CheckResult, CheckSpec, Family


@pytest.hookspec
def pytest_mlguard_families(config: pytest.Config) -> Sequence[Family] | Family | None:
    """Called in ``pytest_configure`` (conftest.py files of the command line's paths and plugins):
    return the families to add to the run, as :class:`~pytest_mlguard.checks._base.Family` objects
    (docs/extending.md). Installed packages may use the ``pytest_mlguard.families`` entry-point group."""


@pytest.hookspec
def pytest_mlguard_plan(config: pytest.Config, family: str, checks: list[CheckSpec], path: Path | None) -> None:
    """Called at collection with the checks planned for ``family``; add, remove or reorder in place.
    ``path`` is the conftest.py whose suite is planned (its fixtures are the project's declarations)."""


@pytest.hookspec
def pytest_mlguard_result(config: pytest.Config, result: CheckResult) -> None:
    """Called after a check has run (on the process that ran it), with its result."""


@pytest.hookspec
def pytest_mlguard_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """Called on the controller with the report before it is written; modify it in place."""
