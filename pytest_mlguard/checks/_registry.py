"""The families of checks, in the order the suite runs and reports them, and every settings key.

The registry is open: besides the built-in :data:`FAMILIES`, a package adds families through the
entry-point group ``pytest_mlguard.families`` (an entry point names a :class:`Family`, a sequence of
them, or a function returning them), and a ``conftest.py`` through the ``pytest_mlguard_families``
hook; the run's session hands those to :func:`use_families`. Everything else reads :func:`families`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .._budget import BUDGET_KEYS
from .._baseline import BASELINE_KEYS
from ..config._settings import CORE_KEYS, Key, Settings
from ..errors import InvalidArgument
from ..reporting import PROGRESS_KEYS, REPORT_KEYS
from ..reporting._score import score_keys
from .._verdicts import VERDICT_KEYS
from ._base import Family, register_families
from ._builtin import FAMILIES


#: the entry-point group through which installed packages add families
ENTRY_POINT_GROUP = "pytest_mlguard.families"

_entry_points: tuple[Family, ...] | None = None
_extra: tuple[Family, ...] = ()  # the run's families from conftest.py files (the session's)
_NAME = re.compile(r"[a-z_]+")


def as_families(value: Any, where: str) -> tuple[Family, ...]:
    """``value`` (a :class:`Family`, an iterable of them, or ``None``) as a tuple, each checked.

    Raises:
        InvalidArgument: not a ``Family``, or a name that is not a family name (``[a-z_]+``).
    """
    items = () if value is None else (value,) if isinstance(value, Family) else value
    if not isinstance(items, Iterable) or isinstance(items, (str, bytes)):
        raise InvalidArgument.expected("a pytest_mlguard.checks.Family or a list of them", "families", value, where=where)
    found = tuple(items)
    for item in found:
        if not isinstance(item, Family):
            raise InvalidArgument.expected("a pytest_mlguard.checks.Family", "family", item, where=where)
        if not _NAME.fullmatch(item.name):
            raise InvalidArgument.expected("a family name of lower-case letters and underscores, such as 'text_length'", "Family.name", item.name, where=where)
    return found


def entry_point_families() -> tuple[Family, ...]:
    """The families installed packages declare in the ``pytest_mlguard.families`` entry-point group,
    loaded once, in the order of the entry points' names."""
    global _entry_points
    if _entry_points is None:
        from importlib.metadata import entry_points

        found: list[Family] = []
        for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
            loaded = point.load()
            value = loaded() if callable(loaded) and not isinstance(loaded, Family) else loaded
            found += as_families(value, f"entry point {point.name!r} ({point.value}) of group {ENTRY_POINT_GROUP!r}")
        _entry_points = _unique(FAMILIES, found)
    return _entry_points


def use_families(extra: Iterable[Family], where: str = "the pytest_mlguard_families hook") -> tuple[Family, ...]:
    """Add ``extra`` (a conftest's families) to the registry for this run, replacing those of an
    earlier run; returns them. ``use_families(())`` forgets them."""
    global _extra
    _extra = ()
    _extra = _unique((*FAMILIES, *entry_point_families()), as_families(tuple(extra), where), where)
    return _extra


def families() -> tuple[Family, ...]:
    """Every family of the run: the built-in ones, then those of entry points, then those of conftest
    files; the reports order checks so, and read what the score needs (:func:`register_families`)."""
    every = (*FAMILIES, *entry_point_families(), *_extra)
    register_families(every)
    return every


def family(name: str) -> Family:
    for candidate in families():
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown check family {name!r}; expected one of {[f.name for f in families()]}")


def planned_checks(settings: Settings) -> int:
    """How many checks the suite plans for one model under ``settings`` (every family of the run)."""
    return sum(len(family.planned(settings)) for family in families())


def all_keys() -> tuple[Key, ...]:
    every = families()
    return (*CORE_KEYS, *BUDGET_KEYS, *VERDICT_KEYS, *score_keys([f.name for f in every], [f.name for f in every if not f.scored]), *REPORT_KEYS, *PROGRESS_KEYS, *BASELINE_KEYS, *(key for fam in every for key in fam.all_keys))


def _unique(known: Iterable[Family], added: Iterable[Family], where: str = f"group {ENTRY_POINT_GROUP!r}") -> tuple[Family, ...]:
    names = {f.name for f in known}
    result = []
    for item in added:
        if item.name in names:
            raise InvalidArgument(f"Expected a new family name but got Family(name={item.name!r}) from {where}: a family of that name is already registered")
        names.add(item.name)
        result.append(item)
    return tuple(result)


register_families(FAMILIES)  # until the run's own are known
