"""The schema of a table: each column's name, kind, range or categories, and whether it may be missing.

A :class:`TableSchema` is inferred from a table's columns (:func:`infer_table_schema`) or declared in
any form the record strategies accept (a dict, a pandas dtype mapping, a dataclass or a pydantic
model: :func:`pytest_mlguard.inputs.records.as_schema` parses it, this module only maps its fields to
columns); :meth:`TableSchema.completed_by` fills what a declaration leaves open (a range, the
categories) from the inferred schema.

Example:
    >>> schema = declared_table_schema({"age": (0, 120), "city": ["Paris", "Lyon"], "vip": bool})
    >>> [(c.name, c.kind) for c in schema.columns]
    [('age', 'numeric'), ('city', 'categorical'), ('vip', 'boolean')]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from ..errors import InvalidArgument

ColumnKind = Literal["numeric", "categorical", "boolean"]
_KINDS: dict[str, ColumnKind] = {
    "number": "numeric",
    "integer": "numeric",
    "boolean": "boolean",
    "category": "categorical",
    "string": "categorical",
}


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a table.

    Attributes:
        name: the column's name.
        kind: ``"numeric"``, ``"categorical"`` or ``"boolean"``.
        nullable: the column may be missing (``None`` or NaN) in valid rows.
        low, high: the range of a numeric column (``None``: open).
        categories: the values of a categorical column, most frequent first when inferred.
        integer: a numeric column of whole numbers.
    """

    name: str
    kind: ColumnKind
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    categories: tuple[Any, ...] = ()
    integer: bool = False

    def describe(self) -> dict[str, Any]:
        """A JSON-safe description."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "nullable": self.nullable}
        if self.kind == "numeric":
            out.update(low=self.low, high=self.high, integer=self.integer)
        if self.kind == "categorical":
            out["categories"] = [c if isinstance(c, (str, int, float, bool)) else repr(c) for c in self.categories]
        return out


@dataclasses.dataclass(frozen=True)
class TableSchema:
    """The columns of a table, in order."""

    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise InvalidArgument(f"Expected a column of the table, one of {list(self.names)}, but got {name!r}")

    def completed_by(self, inferred: TableSchema) -> TableSchema:
        """This (declared) schema with the ranges and categories it leaves open taken from ``inferred``
        (the schema of the data), and nullable where the data miss values; a declared column absent from
        the data is an error."""
        missing = [name for name in self.names if name not in inferred.names]
        if missing:
            raise InvalidArgument(
                f"Expected the table to hold every declared column but columns {missing} are not in it (it has {list(inferred.names)})"
            )
        columns = []
        for column in self.columns:
            seen = inferred.column(column.name)
            columns.append(
                dataclasses.replace(
                    column,
                    nullable=column.nullable or seen.nullable,
                    low=seen.low if column.low is None else column.low,
                    high=seen.high if column.high is None else column.high,
                    categories=column.categories or seen.categories,
                )
            )
        return TableSchema(tuple(columns))

    def describe(self) -> list[dict[str, Any]]:
        return [c.describe() for c in self.columns]


def declared_table_schema(declared: Any) -> TableSchema:
    """A :class:`TableSchema` from a declaration in any form :func:`~pytest_mlguard.inputs.records.as_schema`
    accepts (``{"nullable": True}`` in a dict spec and ``Optional[...]`` annotations make a column nullable)."""
    if isinstance(declared, TableSchema):
        return declared
    from ..inputs.records import as_schema

    fields = as_schema(declared).fields
    return TableSchema(
        tuple(
            Column(
                f.name,
                _KINDS[f.kind],
                nullable=f.nullable,
                low=None if f.low is None else float(f.low),
                high=None if f.high is None else float(f.high),
                categories=tuple(f.categories),
                integer=f.kind == "integer",
            )
            for f in fields
        )
    )


def is_missing(value: Any) -> bool:
    """``None``, NaN or pandas' ``NA``/``NaT``."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (str, bytes, bool, int)):
        return False
    try:
        return bool(value != value)  # NaN-like: numpy floats, pandas.NA raises TypeError
    except (TypeError, ValueError):
        return type(value).__name__ in ("NAType", "NaTType")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def missing_mask(values: np.ndarray) -> np.ndarray:
    """Where ``values`` (a column) are missing: NaN in a float array, ``None``/NaN/``NA`` in an object one."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind in "iub":
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((is_missing(v) for v in values), dtype=bool, count=len(values))


def infer_column(name: str, values: np.ndarray, categories: Sequence[Any] | None = None) -> Column:
    """The column of ``values`` (a numeric array with NaN for missing, or an object array with ``None``):
    numeric when every present value is a number, boolean when every one is a bool, else categorical
    (``categories``, or the values seen, most frequent first)."""
    mask = missing_mask(values)
    present, nullable = values[~mask], bool(mask.any())
    if categories is None and len(present) and all(isinstance(v, (bool, np.bool_)) for v in present):
        return Column(name, "boolean", nullable)
    if categories is None and (values.dtype.kind in "fiu" or (len(present) and all(_number(v) for v in present))):
        numbers = np.asarray(present, dtype=np.float64)
        if not len(numbers):
            return Column(name, "numeric", nullable)
        integer = bool(np.all(numbers == np.round(numbers)))
        return Column(name, "numeric", nullable, float(numbers.min()), float(numbers.max()), integer=integer)
    if categories is None:
        counts: dict[Any, int] = {}
        for v in present:
            key = v.item() if isinstance(v, np.generic) else v
            counts[key] = counts.get(key, 0) + 1
        categories = sorted(counts, key=lambda c: -counts[c])  # stable: ties keep their first-seen order
    return Column(name, "categorical", nullable, categories=tuple(categories))


def infer_table_schema(columns: Mapping[str, np.ndarray], dtypes: Mapping[str, Any] | None = None) -> TableSchema:
    """The schema of a table's columns; ``dtypes`` (a DataFrame's) gives the categories of pandas
    categorical columns and the booleans of bool columns."""
    out = []
    for name, values in columns.items():
        dtype = (dtypes or {}).get(name)
        categories = getattr(dtype, "categories", None)
        out.append(infer_column(name, values, None if categories is None else list(categories)))
    return TableSchema(tuple(out))
