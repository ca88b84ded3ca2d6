"""How reports order checks and tell the built-in suite's from custom tests' (report.json, report.html,
the terminal and the baseline comparison use the same order)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._names import SUITE_NODE


#: the families in the registry's order (:func:`~pytest_mlguard.checks.registry.families` sets it, as
#: this module is below the registry): the built-in ones until then
_family_order: tuple[str, ...] = ("contract", "accuracy", "corruption", "attack", "calibration", "inputs", "resources", "determinism", "drift", "gate")


def use_family_order(names: tuple[str, ...]) -> None:
    """Order the families of reports as ``names`` (the registry's families, the run's own included)."""
    global _family_order
    _family_order = names


def family_rank(family: str) -> int:
    """A family's place in the registry's order (families the run does not know come last)."""
    return _family_order.index(family) if family in _family_order else len(_family_order)


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
