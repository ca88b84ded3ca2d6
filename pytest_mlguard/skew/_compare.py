"""The features of the two paths side by side: plain functions over what each path returned.

:func:`offline_table` reads the offline path's table (a DataFrame, a 2-D array, a list of dicts or
rows), :func:`online_row` one online vector in the same columns, and :func:`differences` the
columns where they differ beyond their tolerance.

Example:
    >>> columns, rows = offline_table([{"a": 1.0, "b": "x"}], None)
    >>> differences(columns, rows[0], online_row({"a": 1.5, "b": "x"}, columns), lambda c: 1e-9, 1e-6)
    [Difference(column='a', offline=1.0, online=1.5, gap=0.5, tolerance=1.001e-06)]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .._messages import without_addresses

#: the name of a column that one path gives and the other does not
ABSENT = "<absent>"


@dataclass(frozen=True)
class Difference:
    """One feature the two paths compute differently (``gap``: ``None`` where it is not a number)."""

    column: str
    offline: Any
    online: Any
    gap: float | None
    tolerance: float | None

    def to_dict(self) -> dict[str, Any]:
        return {key: plain(value) for key, value in asdict(self).items()}

    def describe(self) -> str:
        gap = f" (difference {self.gap:.4g} > tolerance {self.tolerance:.3g})" if self.gap is not None and self.tolerance is not None else ""
        return f"{self.column}: offline {plain(self.offline)!r}, online {plain(self.online)!r}{gap}"


def plain(value: Any) -> Any:
    """``value`` as a JSON-safe Python value (numpy scalars as numbers)."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return without_addresses(repr(value))  # an object's default repr: its type, not its address


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def offline_table(table: Any, columns: Sequence[str] | None) -> tuple[tuple[str, ...], list[list[Any]]]:
    """``(columns, rows)`` of what the offline path returned."""
    if hasattr(table, "columns") and hasattr(table, "to_numpy"):  # a pandas DataFrame
        return tuple(str(c) for c in table.columns), table.to_numpy(dtype=object).tolist()
    if isinstance(table, (str, bytes, Mapping)) or not hasattr(table, "__iter__"):
        raise TypeError(f"returned {type(table).__name__}, not a table of features (a DataFrame, a 2-D array, a list of rows or dicts)")
    rows = list(table.tolist() if hasattr(table, "tolist") else table)
    if rows and isinstance(rows[0], Mapping):
        names = tuple(str(c) for c in rows[0])
        return names, [[row.get(name, ABSENT) for name in names] for row in rows]
    rows = [list(row.tolist() if hasattr(row, "tolist") else row) for row in rows]
    width = len(rows[0]) if rows else len(columns or ())
    return tuple(columns) if columns is not None else tuple(f"feature_{i}" for i in range(width)), rows


def online_row(vector: Any, columns: Sequence[str]) -> list[Any]:
    """What the online path returned for one record, in ``columns``' order (:data:`ABSENT` where it
    gives no such column; a vector longer than ``columns`` gains columns named ``feature_<i>``)."""
    if hasattr(vector, "index") and hasattr(vector, "to_dict") and not hasattr(vector, "columns"):  # a pandas Series
        vector = vector.to_dict()
    if isinstance(vector, Mapping):
        return [vector.get(name, ABSENT) for name in columns]
    if isinstance(vector, (str, bytes)) or not hasattr(vector, "__iter__"):
        raise TypeError(f"returned {type(vector).__name__}, not features (a dict, a Series, a 1-D array or a list)")
    values = vector.tolist() if hasattr(vector, "tolist") else list(vector)
    if len(values) == 1 and isinstance(values[0], (list, tuple)):  # one row of a (1, d) array
        values = list(values[0])
    return values + [ABSENT] * (len(columns) - len(values))


def same_value(offline: Any, online: Any, tolerance: float, relative: float) -> tuple[bool, float | None]:
    """Whether two values of a feature are the same, and their difference where both are numbers:
    numbers within ``tolerance + relative * |offline|`` (NaN only equals NaN), others equal."""
    if _is_number(offline) and _is_number(online):
        a, b = float(offline), float(online)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b), None if math.isnan(a) and math.isnan(b) else math.inf
        if math.isinf(a) or math.isinf(b):
            return a == b, 0.0 if a == b else math.inf
        gap = abs(a - b)
        return gap <= tolerance + relative * abs(a), gap
    try:
        return bool(offline == online), None
    except Exception:  # noqa: BLE001 - values that cannot be compared are not the same
        return False, None


def differences(
    columns: Sequence[str],
    offline: Sequence[Any],
    online: Sequence[Any],
    tolerance: Callable[[str], float],
    relative: float,
) -> list[Difference]:
    """The columns where ``online`` differs from ``offline`` (a longer online vector: its extra columns)."""
    names = list(columns) + [f"feature_{i}" for i in range(len(columns), max(len(offline), len(online)))]
    found = []
    for index, name in enumerate(names):
        a = offline[index] if index < len(offline) else ABSENT
        b = online[index] if index < len(online) else ABSENT
        limit = tolerance(name) + relative * abs(float(a)) if _is_number(a) and math.isfinite(float(a)) else tolerance(name)
        same, gap = same_value(a, b, tolerance(name), relative)
        if not same:
            found.append(Difference(name, a, b, gap, limit if gap is not None else None))
    return found
