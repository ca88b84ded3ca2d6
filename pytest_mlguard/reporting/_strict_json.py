"""Strict JSON for every file pytest-mlguard writes: no ``NaN``, no ``Infinity``.

Python's :func:`json.dumps` writes ``NaN`` and ``Infinity`` by default, which no strict JSON parser
(JavaScript's ``JSON.parse``, ``jq``, Go, Rust) reads; with ``allow_nan=False`` it raises instead,
which cost a run its whole report when a model returned NaN. Here a non-finite number becomes
``null`` and its place is recorded, so the file stays readable and says what was lost.

Example:
    >>> finite_copy({"value": float("nan"), "curve": [0.5, float("inf")]})
    ({'value': None, 'curve': [0.5, None]}, {'value': 'nan', 'curve[1]': 'inf'})
    >>> dumps({"ece": float("-inf")})
    '{"ece": null}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def finite_copy(value: Any, path: str = "") -> tuple[Any, dict[str, str]]:
    """A copy of ``value`` (dicts, lists, tuples and numbers) with every non-finite float replaced
    by ``None``, and where each one was: ``{"checks[2].details.curve[1]": "nan"}``.

    numpy scalars count as the numbers they hold (``float(value)``); other objects are kept as they are.
    """
    found: dict[str, str] = {}
    return _copy(value, path, found), found


def _copy(value: Any, path: str, found: dict[str, str]) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float) or _is_numpy_float(value):
        number = float(value)
        if math.isfinite(number):
            return number
        found[path or "$"] = "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")
        return None
    if isinstance(value, Mapping):
        return {key: _copy(item, f"{path}.{key}" if path else str(key), found) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(item, f"{path}[{index}]", found) for index, item in enumerate(value)]
    return value


def _is_numpy_float(value: Any) -> bool:
    kind = type(value)
    return kind.__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind == "f" and value.ndim == 0


def dumps(value: Any, **options: Any) -> str:
    """:func:`json.dumps` of :func:`finite_copy` of ``value``, with ``allow_nan=False``: strict JSON
    whatever the numbers (``options`` go to :func:`json.dumps`)."""
    return json.dumps(finite_copy(value)[0], allow_nan=False, **options)
