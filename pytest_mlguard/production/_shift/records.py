"""Logged records, read for the ``shift`` checks: a list of dicts, or a JSON-lines file of them, encoded
through a model's table schema (a :class:`~pytest_mlguard.RecordModel`'s) without stopping at what the
schema cannot hold.

Production sends what the evaluation data never held: a field left out, a category nobody declared, a
number logged as a string. :func:`encode_records` encodes the records as the model's table (numbers as
they are, categories as their codes, NaN where missing) and counts, per column, the values missing and
those outside the schema (which reach the model as missing), with a few examples of the latter, and
the fields the schema does not name; the drift tests read the counts (docs/drift.md).

Example:
    >>> from pytest_mlguard.contract._schema import declared_table_schema
    >>> schema = declared_table_schema({"age": (0, 120), "city": ["Paris", "Lyon"]})
    >>> x, counts, outside = encode_records([{"age": 30, "city": "Rome"}, {"city": "Lyon"}], schema)
    >>> x.tolist(), counts["columns"]["city"]["examples"], counts["columns"]["age"]["missing"]
    ([[30.0, nan], [nan, 1.0]], ['Rome'], 1)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...contract._schema import Column, TableSchema, is_missing

#: how many values outside the schema a column's counts show
EXAMPLES = 3


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file, one object per line (blank lines skipped).

    Raises:
        ValueError: a line is not JSON, or not an object; the message names the file and the line.
    """
    records = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"file {path}, line {number}: Expected one JSON object per line but it is not JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(record, dict):
                raise ValueError(f"file {path}, line {number}: Expected one JSON object per line but it holds a {type(record).__name__}: {line.strip():.60}")
            records.append(record)
    return records


def _code(column: Column, value: Any) -> float | None:
    """``value``'s code in ``column``, or ``None`` where the schema cannot hold it."""
    if column.kind == "numeric":
        number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
        return float(value) if number else None
    if column.kind == "boolean":
        return float(value) if isinstance(value, (bool, np.bool_)) else None
    value = value.item() if isinstance(value, np.generic) else value
    try:
        return float(column.categories.index(value))
    except ValueError:
        return None


def _encoded(column: Column, values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A column's codes (NaN where missing or outside the schema), where it is outside, and its counts."""
    codes, outside = np.full(len(values), np.nan), np.zeros(len(values), dtype=bool)
    missing, examples = 0, Counter[str]()
    for i, value in enumerate(values):
        if is_missing(value):
            missing += 1
            continue
        code = _code(column, value)
        if code is None:
            outside[i] = True
            examples[value if isinstance(value, str) else repr(value)] += 1
        else:
            codes[i] = code
    counts: dict[str, Any] = {"missing": missing, "outside": int(outside.sum()), "examples": [value for value, _ in examples.most_common(EXAMPLES)]}
    if column.kind == "numeric" and (column.low is not None or column.high is not None):
        low = -np.inf if column.low is None else column.low
        high = np.inf if column.high is None else column.high
        counts["below_range"], counts["above_range"] = int(np.sum(codes < low)), int(np.sum(codes > high))
    return codes, outside, counts


def encode_records(records: Sequence[Mapping[str, Any]], schema: TableSchema) -> tuple[np.ndarray, dict[str, Any], dict[str, np.ndarray]]:
    """``(x, counts, outside)``: the records as the model's table ``(N, columns)``, in the schema's
    order; per column the values missing and outside the schema (``counts["columns"]``, with numbers
    beyond a numeric column's range as ``below_range``/``above_range``), the fields the schema does not
    name (``counts["extra_fields"]``), and where each column's values are outside the schema."""
    columns = {name: [record.get(name) for record in records] for name in schema.names}
    extra = Counter(name for record in records for name in record if name not in schema.names)
    return encode_columns(columns, len(records), schema, dict(extra.most_common()))


def encode_columns(
    columns: Mapping[str, Sequence[Any] | np.ndarray], n: int, schema: TableSchema, extra: Mapping[str, int] | None = None
) -> tuple[np.ndarray, dict[str, Any], dict[str, np.ndarray]]:
    """:func:`encode_records` of a table's ``n`` rows by column (a column absent: every value missing);
    ``extra``: the count of each field outside the schema (default: the columns it does not name)."""
    encoded, outside, by_column = [], {}, {}
    for column in schema.columns:
        codes, mask, counts = _encoded(column, columns.get(column.name, [None] * n))
        encoded.append(codes)
        outside[column.name], by_column[column.name] = mask, counts
    if extra is None:
        extra = {name: n for name in columns if name not in schema.names}
    counts = {"records": n, "columns": by_column, "extra_fields": dict(extra)}
    return np.stack(encoded, axis=1).astype(np.float32), counts, outside


def outside_summary(counts: Mapping[str, Any]) -> str:
    """A line naming the columns with values outside the schema (empty where none are)."""
    parts = [
        f"{name} {found['outside']} ({', '.join(repr(e) for e in found['examples'])})"
        for name, found in counts["columns"].items()
        if found["outside"]
    ]
    return f"values outside the schema: {'; '.join(parts)} (the model got them as missing)" if parts else ""
