"""How reports order checks and tell the built-in suite's from custom tests' (report.json, report.html,
the terminal and the baseline comparison use the same order)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._names import SUITE_NODE


def family_rank(family: str) -> int:
    """A family's place in the registry's order (families the run does not know come last). The order
    is the run's families' (:func:`~pytest_mlguard.checks._builtin.run_families`): the built-in ones
    where no run registered its own (a report rendered outside a run)."""
    from ..checks._builtin import run_families

    names = [f.name for f in run_families()]
    return names.index(family) if family in names else len(names)


def custom_test(check: Mapping[str, Any]) -> str | None:
    """The node id of the custom test whose ``mlguard.check(...)`` measured ``check``; ``None`` for
    the built-in suite's items (and for reports written before checks carried their node id).

    Example:
        >>> custom_test({"nodeid": "tests/test_robust.py::test_noise"}), custom_test({"nodeid": "conftest.py::mlguard::accuracy"})
        ('tests/test_robust.py::test_noise', None)
    """
    nodeid = check.get("nodeid")
    return nodeid if isinstance(nodeid, str) and SUITE_NODE not in nodeid else None


def sort_key(check: Mapping[str, Any]) -> tuple[Any, ...]:
    """Checks sort by model, family (suite order), id and the test that measured them, so that every
    run orders them alike."""
    family = check["family"]
    return (check["model"], family_rank(family), family, check["id"], str(check.get("nodeid", "")))
