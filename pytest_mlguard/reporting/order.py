"""How reports order checks and tell the built-in suite's from custom tests' (report.json, report.html,
the terminal and the baseline comparison use the same order)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._names import SUITE_NODE

__all__ = ["custom_test", "family_rank", "sort_key"]

_FAMILY_ORDER = ("contract", "accuracy", "corruption", "attack", "calibration", "inputs", "resources", "determinism", "drift", "gate")


def family_rank(family: str) -> int:
    """A family's place in the suite's order (families the suite does not know come last)."""
    return _FAMILY_ORDER.index(family) if family in _FAMILY_ORDER else len(_FAMILY_ORDER)


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
