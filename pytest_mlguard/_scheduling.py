"""pytest-xdist scheduling: the checks of a family that compare with each other run on one worker.

An attack check compares itself with the other attacks of its model at the same epsilon in the
process that runs them (a black-box attack that beats a gradient one shows masked gradients,
:mod:`pytest_mlguard.attacks.run`). xdist's ``load`` and ``worksteal`` hand items to workers one by
one, so two such checks could run apart, and the report would then depend on the layout: the
soundness failure lost, or carried by another check. Under those modes, and ``loadgroup``, the
plugin's ``pytest_xdist_make_scheduler`` returns :class:`SuiteScheduling`: xdist's ``loadgroup``
scheduler, whose work units are the ``xdist_group`` marks' groups and, for a family declared
``together``, all its items of one suite (``<dir>/conftest.py::mlguard::attack``), sent to one
worker in their collection order, the order a serial run has. Every other item is a unit of its own,
as under ``load``. ``loadscope`` and ``loadfile`` already keep a suite's items together.

No ``xdist_group`` mark is added to the items: under ``loadgroup`` xdist appends the group to node
ids (``...::attack[pgd-linf-0.1]@group``), and report.json's node ids and rerun commands would then
differ from a serial run's.

Imported only by the hook, which xdist alone calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from xdist.scheduler import LoadGroupScheduling

from ._names import SUITE_CLASS

#: the ``--dist`` modes that may split a suite's items between workers
REGROUPED = ("load", "worksteal", "loadgroup")


def together_scope(nodeid: str, families: Iterable[str]) -> str | None:
    """The work unit of a suite item of a ``together`` family (``<path>::mlguard::attack``), else ``None``.

    >>> together_scope("a/conftest.py::mlguard::attack[pgd-linf-0.1]", ["attack"])
    'a/conftest.py::mlguard::attack'
    >>> together_scope("a/conftest.py::mlguard::accuracy", ["attack"]) is None
    True
    """
    path, sep, rest = nodeid.partition(f"::{SUITE_CLASS}::")
    name, bracket, _ = rest.partition("[")
    if sep and bracket and name in families:
        return f"{path}{sep}{name}"
    return None


class SuiteScheduling(LoadGroupScheduling):
    """xdist's ``loadgroup`` scheduling, with the items of each ``together`` family of a suite as one unit."""

    def __init__(self, config: pytest.Config, log: Any = None, *, together: Iterable[str] = ()) -> None:
        super().__init__(config, log)
        self.together = tuple(together)

    def _split_scope(self, nodeid: str) -> str:
        """The work unit of ``nodeid`` (the method xdist's scope schedulers override to group items)."""
        scope = together_scope(nodeid, self.together)
        return scope if scope is not None else str(super()._split_scope(nodeid))
