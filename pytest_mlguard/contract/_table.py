"""Labelled tabular evaluation data: what ``mlguard_data`` returns for a model of records.

:class:`TableData` keeps the table's columns by name, with their kinds (numeric, categorical,
boolean) and missing values, and its :class:`~._schema.TableSchema`, inferred or declared. It is an
:class:`~._data.EvalData`, so the families that read ``data.x`` run on it: ``x`` is the table
encoded as numbers, one column each (numbers as they are, booleans as 0/1, categories as their
index in the schema, NaN where a value is missing), which a :class:`~._record_model.RecordModel`
decodes back into the table before it calls the model.

Example:
    >>> data = TableData([{"age": 30, "city": "Paris"}, {"age": None, "city": "Lyon"}], [0, 1])
    >>> data.schema.column("age").nullable, data.x.tolist()
    (True, [[30.0, 0.0], [nan, 1.0]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidArgument
from ._data import EvalData, _integer_labels, _to_numpy
from ._data import as_data as as_eval_data
from ._schema import Column, TableSchema, declared_table_schema, infer_table_schema, missing_mask

#: what a table may be
TABLE_FORMS = "a pandas DataFrame, a list of dicts (records), a dict of column -> values, or a 2-D numpy array with columns=[...]"


def _column_values(values: Any) -> np.ndarray:
    """One column as a float64 array (numbers, NaN for missing) or an object array (``None`` for missing)."""
    if hasattr(values, "to_numpy") and getattr(values, "dtype", None) is not None:  # a pandas Series
        dtype = values.dtype
        if getattr(dtype, "kind", "O") in "fiu" and not hasattr(dtype, "categories"):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        values = values.astype(object).to_numpy()
    array = np.asarray(values)
    if array.dtype.kind in "fiu":
        return array.astype(np.float64)
    out = np.empty(len(array), dtype=object)
    mask = missing_mask(array)
    for i, value in enumerate(array):
        out[i] = None if mask[i] else (value.item() if isinstance(value, np.generic) else value)
    return out


def read_table(table: Any, columns: Sequence[str] | None = None) -> tuple[dict[str, np.ndarray], Mapping[str, Any]]:
    """``(columns by name, dtypes)`` of a table in any of :data:`TABLE_FORMS` (``dtypes``: a DataFrame's)."""
    if hasattr(table, "columns") and hasattr(table, "dtypes") and hasattr(table, "iloc"):  # pandas DataFrame
        names = [str(c) for c in table.columns]
        return {str(c): _column_values(table[c]) for c in table.columns}, dict(zip(names, table.dtypes))
    if isinstance(table, np.ndarray) or hasattr(table, "detach"):
        array = _to_numpy(table)
        if array.ndim != 2 or columns is None or len(columns) != array.shape[1]:
            raise InvalidArgument(
                f"Expected a 2-D array with one name per column in columns=[...] but got an array of shape {array.shape} "
                f"and columns={columns!r}"
            )
        return {str(name): _column_values(array[:, j]) for j, name in enumerate(columns)}, {}
    if isinstance(table, Mapping):
        return {str(name): _column_values(values) for name, values in table.items()}, {}
    if isinstance(table, Sequence) and not isinstance(table, (str, bytes)) and all(isinstance(r, Mapping) for r in table):
        names = list(columns or dict.fromkeys(name for record in table for name in record))
        return {str(n): _column_values([record.get(n) for record in table]) for n in names}, {}
    raise InvalidArgument.expected(TABLE_FORMS, "table", table)


def encode_column(column: Column, values: np.ndarray, *, where: str = "the table") -> np.ndarray:
    """A column of a table as numbers (see the module docstring); a category or a boolean outside the
    schema is an :class:`InvalidArgument` naming the column and the row."""
    mask = missing_mask(values)
    out = np.full(len(values), np.nan)
    if column.kind == "numeric":
        try:
            out[~mask] = np.asarray(values[~mask], dtype=np.float64)
        except (TypeError, ValueError):
            bad = next(i for i, v in enumerate(values) if not mask[i] and not _is_number(v))
            raise InvalidArgument(
                f"Expected numbers in column {column.name!r} of {where} but row {bad} holds {values[bad]!r} (type={type(values[bad]).__name__})"
            ) from None
        return out
    index = {True: 1.0, False: 0.0} if column.kind == "boolean" else {c: float(i) for i, c in enumerate(column.categories)}
    for i in np.flatnonzero(~mask):
        value = values[i]
        code = index.get(value.item() if isinstance(value, np.generic) else value) if _hashable(value) else None
        if code is None:
            allowed = "True or False" if column.kind == "boolean" else f"one of its categories {list(column.categories)[:10]}"
            raise InvalidArgument(f"Expected {allowed} in column {column.name!r} of {where} but row {i} holds {value!r}")
        out[i] = code
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def decode_column(column: Column, codes: np.ndarray) -> np.ndarray:
    """The inverse of :func:`encode_column`: numbers (int64 for a whole-number column without missing
    values), or an object array of booleans or categories with ``None`` where missing."""
    codes = np.asarray(codes, dtype=np.float64)
    mask = np.isnan(codes)
    if column.kind == "numeric":
        return codes.astype(np.int64) if column.integer and not mask.any() else codes
    out = np.empty(len(codes), dtype=object)
    table = (False, True) if column.kind == "boolean" else column.categories
    for i, code in enumerate(codes):
        out[i] = None if mask[i] else table[int(code)]
    return out


class TableData(EvalData):
    """Labelled rows of a table, with column names and kinds.

    Args:
        table: a pandas DataFrame, a list of dicts, a dict of column -> values, or a 2-D numpy array
            with ``columns``.
        y: integer labels ``0 .. K-1``, one per row; or ``None`` with ``label`` naming the column that holds them.
        columns: the column names of a numpy array (or the columns to keep, in order, of records).
        schema: the declared schema (any form :func:`pytest_mlguard.strategies.records` accepts, or a
            :class:`~._schema.TableSchema`); what it leaves open is inferred from the table. ``None``:
            inferred (the range of each numeric column, the categories of the others, nullable
            where a value is missing).
        label: the column of ``table`` that holds the labels (removed from the features).
        name: a name for reports.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"age": [30, 41], "city": pd.Categorical(["Paris", "Lyon"])})
        >>> TableData(frame, [0, 1]).schema.column("city").categories
        ('Lyon', 'Paris')
    """

    def __init__(
        self,
        table: Any,
        y: Any = None,
        *,
        columns: Sequence[str] | None = None,
        schema: Any = None,
        label: str | None = None,
        name: str | None = None,
    ) -> None:
        values, dtypes = read_table(table, columns)
        if label is not None:
            if label not in values:
                raise InvalidArgument(f"Expected label= to name a column of the table, one of {list(values)}, but got {label!r}")
            y = values.pop(label)
            if y.dtype.kind == "f" and np.isfinite(y).all() and np.all(y == np.round(y)):
                y = y.astype(np.int64)  # an integer column read as numbers
        if y is None:
            raise InvalidArgument("Expected labels: y=[...] or label='<column>' (the table holds no labels on its own)")
        inferred = infer_table_schema(values, dtypes)
        resolved = inferred if schema is None else declared_table_schema(schema).completed_by(inferred)
        self._init(values, y, resolved, name)

    def _init(self, values: dict[str, np.ndarray], y: Any, schema: TableSchema, name: str | None) -> None:
        n = len(next(iter(values.values()))) if values else 0
        if not values or n == 0:
            raise InvalidArgument(f"Expected a table with at least one column and one row but got {len(values)} columns of {n} rows")
        lengths = {k: len(v) for k, v in values.items()}
        if len(set(lengths.values())) != 1:
            raise InvalidArgument(f"Expected columns of one length but got lengths {lengths}")
        labels = _to_numpy(y)
        if labels.dtype.kind not in "biuf":
            raise InvalidArgument(
                f"Expected integer class labels 0..K-1 but got labels of dtype {labels.dtype}, such as {labels[:3].tolist()!r}: "
                "encode them (sklearn.preprocessing.LabelEncoder) and pass class_names to the model"
            )
        if labels.ndim != 1 or len(labels) != n:
            raise InvalidArgument(f"Expected y of shape ({n},), one label per row, but got shape {labels.shape}")
        labels = _integer_labels(labels)
        if labels.min() < 0:
            raise InvalidArgument(f"Expected class labels 0..K-1 in y but got a label {int(labels.min())}")
        self.columns = {c.name: values[c.name] for c in schema.columns}
        self.schema = schema
        self.x = np.stack([encode_column(c, self.columns[c.name], where="mlguard_data") for c in schema.columns], axis=1).astype(np.float32)
        self.y = labels.astype(np.int64)
        self.name = name or "table"

    # -- the table --------------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return self.schema.names

    def to_frame(self) -> Any:
        """The features as a pandas DataFrame (pandas must be installed)."""
        return as_input(self.columns, self.schema, "dataframe")

    def with_schema(self, schema: TableSchema) -> TableData:
        """The same rows encoded under ``schema`` (a model's declared schema)."""
        data = TableData.__new__(TableData)
        data._init({c.name: self.columns[c.name] for c in schema.columns}, self.y, schema, self.name)
        return data

    def take(self, index: np.ndarray) -> TableData:
        """The rows at ``index``, in that order."""
        data = TableData.__new__(TableData)
        data.columns = {k: v[index] for k, v in self.columns.items()}
        data.schema, data.x, data.y, data.name = self.schema, self.x[index], self.y[index], self.name
        return data

    def subset(self, n: int | None, seed: int) -> TableData:
        if n is None or n >= self.n:
            return self
        return self.take(self.subset_index(n, seed))

    def value_range(self) -> tuple[float, float]:
        """The range of the encoded values (missing ones left out)."""
        finite = self.x[np.isfinite(self.x)]
        low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        return (low, high if high > low else low + 1.0)

    def __repr__(self) -> str:
        return f"TableData(name={self.name!r}, n={self.n}, columns={list(self.names)})"


def as_input(columns: Mapping[str, np.ndarray], schema: TableSchema, form: str) -> Any:
    """A table's columns (some possibly absent, in ``schema``'s order, then any extra ones) as the
    model takes them: a pandas DataFrame, a list of dicts (an absent column is absent from every
    record; a missing value is ``None``), or a 2-D object array (absent columns left out)."""
    names = [n for n in schema.names if n in columns] + [n for n in columns if n not in schema.names]
    if form == "dataframe":
        import pandas as pd

        frame = {}
        for name in names:
            values = columns[name]
            frame[name] = values if values.dtype != object or any(v is None for v in values) else _narrow(values)
        return pd.DataFrame(frame)
    if form == "records":
        n = len(next(iter(columns.values()))) if columns else 0
        return [{name: _plain(columns[name][i]) for name in names} for i in range(n)]
    return np.stack([columns[name] for name in names], axis=1) if names else np.empty((0, 0))


def _narrow(values: np.ndarray) -> np.ndarray:
    """An object column without missing values as a typed one where it holds booleans only."""
    return values.astype(bool) if all(isinstance(v, (bool, np.bool_)) for v in values) else values


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and value != value else value


def as_table_data(obj: Any) -> TableData | None:
    """A pair ``(table, y)`` whose table is a DataFrame or a list of dicts as :class:`TableData`; else ``None``."""
    if isinstance(obj, TableData):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2:
        table = obj[0]
        is_frame = hasattr(table, "columns") and hasattr(table, "iloc")
        is_records = isinstance(table, list) and bool(table) and all(isinstance(r, Mapping) for r in table)
        if is_frame or is_records:
            return TableData(table, obj[1])
    return None


def as_data(obj: Any) -> EvalData:
    """Turn what ``mlguard_data`` returned into :class:`~._data.EvalData`: a :class:`TableData`, a pair
    ``(DataFrame or records, y)`` as a :class:`TableData`, anything else as :func:`~._data.as_data` reads it."""
    table = as_table_data(obj)
    return table if table is not None else as_eval_data(obj)


#: the kinds of columns, for the docs
COLUMN_KINDS: tuple[str, ...] = ("numeric", "categorical", "boolean")
