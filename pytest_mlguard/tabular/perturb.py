"""What production does to a table, as plain functions over its columns (a dict of name -> numpy array):
missing values, perturbations at a severity 1..5, and the weights of a covariate shift.

Randomness is sampled apart from being applied: :func:`sample_params` draws a perturbation's random
parts from a generator, :func:`apply` is deterministic.

* :func:`set_missing`: columns set to ``None``/NaN (``"null"``) or removed (``"absent"``);
* :func:`apply` with one of :data:`PERTURBATIONS`:

  - ``numeric_noise``: Gaussian noise on every numeric column, of :data:`NOISE` times the column's spread;
  - ``rounding``: every numeric column rounded to a step of :data:`ROUNDING` times its spread;
  - ``scale_up`` / ``scale_down``: one numeric column multiplied / divided by :data:`SCALE`
    (x100 at severity 3: the upstream unit bug);
  - ``out_of_range``: one numeric column set beyond its range, on a random side, by :data:`OUT_OF_RANGE`
    times the range's width;
  - ``category_swap``: a share :data:`SHARE` of one categorical column's rows swapped to the most
    frequent other category (the one an upstream default would fill in);
  - ``unseen_category``: a share :data:`SHARE` of one categorical column's rows set to :data:`UNSEEN`;

* :func:`shift_weights`: row weights that tilt the table toward high (or low) quantiles of a numeric
  column, or toward one category, by :data:`TILT` at a severity.

The spread of a column is its standard deviation on the evaluation rows (a quarter of its range if that is 0).

Example:
    >>> from pytest_mlguard.contract import TableData
    >>> data = TableData({"amount": [10.0, 20.0, 30.0], "city": ["a", "a", "b"]}, [0, 1, 0])
    >>> params = sample_params("scale_up", 3, data.columns, data.schema, np.random.default_rng(0), column="amount")
    >>> apply("scale_up", data.columns, data.schema, **params)["amount"].tolist()
    [1000.0, 2000.0, 3000.0]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from ..contract._schema import TableSchema, missing_mask
from . import PERTURBATIONS

__all__ = [
    "NOISE",
    "OUT_OF_RANGE",
    "PERTURBATIONS",
    "PER_COLUMN",
    "ROUNDING",
    "SCALE",
    "SEVERITIES",
    "SHARE",
    "TILT",
    "UNSEEN",
    "MissingAs",
    "apply",
    "columns_for",
    "sample_params",
    "set_missing",
    "shift_weights",
    "spread",
]

#: the perturbations applied to one column at a time (the check reports the worst column)
PER_COLUMN: frozenset[str] = frozenset({"scale_up", "scale_down", "out_of_range", "category_swap", "unseen_category"})
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
#: noise, in spreads of the column, by severity
NOISE: tuple[float, ...] = (0.05, 0.1, 0.2, 0.35, 0.5)
#: rounding step, in spreads of the column, by severity
ROUNDING: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)
#: the factor of a unit change, by severity
SCALE: tuple[float, ...] = (10.0, 30.0, 100.0, 300.0, 1000.0)
#: how far beyond the range, in widths of the range, by severity
OUT_OF_RANGE: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0)
#: the share of rows whose category is swapped or unseen, by severity
SHARE: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5, 1.0)
#: the tilt of a covariate shift (log of the weight ratio between the top and bottom quantile), by severity
TILT: tuple[float, ...] = (1.0, 2.0, 3.0, 4.5, 6.0)
#: the value of an unseen category
UNSEEN = "__unseen__"

MissingAs = Literal["null", "absent"]
Columns = Mapping[str, np.ndarray]


def spread(values: np.ndarray) -> float:
    """The standard deviation of a numeric column's present values (a quarter of their range if it is
    0, and 1 if that is 0 too)."""
    present = np.asarray(values, dtype=np.float64)
    present = present[np.isfinite(present)]
    if not len(present):
        return 1.0
    std = float(present.std())
    if std > 0:
        return std
    width = float(present.max() - present.min())
    return width / 4 if width > 0 else max(1.0, abs(float(present[0])))


def columns_for(name: str, schema: TableSchema) -> tuple[str, ...]:
    """The columns perturbation ``name`` applies to: numeric ones, or categorical ones."""
    if name not in PERTURBATIONS:
        raise KeyError(f"no perturbation {name!r}; expected one of {PERTURBATIONS}")
    kind = "categorical" if name in ("category_swap", "unseen_category") else "numeric"
    return tuple(c.name for c in schema.columns if c.kind == kind)


def set_missing(columns: Columns, names: tuple[str, ...] | list[str], how: MissingAs = "null") -> dict[str, np.ndarray]:
    """The columns with ``names`` missing on every row: NaN (numeric) or ``None``, or removed (``"absent"``)."""
    out = dict(columns)
    for name in names:
        if how == "absent":
            out.pop(name, None)
            continue
        values = columns[name]
        out[name] = np.full(len(values), np.nan) if values.dtype.kind == "f" else np.full(len(values), None, dtype=object)
    return out


def sample_params(
    name: str, severity: int, columns: Columns, schema: TableSchema, rng: np.random.Generator, *, column: str | None = None
) -> dict[str, Any]:
    """The random parts of perturbation ``name`` at ``severity`` on these rows, for :func:`apply`.
    ``column``: the one column of a :data:`PER_COLUMN` perturbation."""
    if severity not in SEVERITIES:
        raise ValueError(f"expected a severity in 1..5, got {severity!r}")
    n = len(next(iter(columns.values())))
    level = severity - 1
    params: dict[str, Any] = {"severity": severity, "column": column}
    if name == "numeric_noise":
        params["noise"] = {c: rng.standard_normal(n) * NOISE[level] * spread(columns[c]) for c in columns_for(name, schema)}
    elif name == "out_of_range":
        params["sides"] = rng.random(n) < 0.5
    elif name in ("category_swap", "unseen_category"):
        params["rows"] = rng.random(n) < SHARE[level]
    elif name not in PERTURBATIONS:
        raise KeyError(f"no perturbation {name!r}; expected one of {PERTURBATIONS}")
    return params


def apply(name: str, columns: Columns, schema: TableSchema, *, severity: int, column: str | None = None, **params: Any) -> dict[str, np.ndarray]:
    """The columns under perturbation ``name`` with the parameters :func:`sample_params` drew (missing
    values stay missing)."""
    out = dict(columns)
    level = severity - 1
    if name == "numeric_noise":
        for c, noise in params["noise"].items():
            out[c] = columns[c] + noise
    elif name == "rounding":
        for c in columns_for(name, schema):
            step = ROUNDING[level] * spread(columns[c])
            out[c] = np.round(columns[c] / step) * step
    elif name in ("scale_up", "scale_down"):
        factor = SCALE[level] if name == "scale_up" else 1.0 / SCALE[level]
        out[_one(column)] = np.asarray(columns[_one(column)], dtype=np.float64) * factor
    elif name == "out_of_range":
        spec = schema.column(_one(column))
        values = np.asarray(columns[spec.name], dtype=np.float64)
        low, high = spec.low if spec.low is not None else np.nanmin(values), spec.high if spec.high is not None else np.nanmax(values)
        width = (high - low) or spread(values)
        beyond = OUT_OF_RANGE[level] * width
        out[spec.name] = np.where(np.isnan(values), np.nan, np.where(params["sides"], high + beyond, low - beyond))
    elif name in ("category_swap", "unseen_category"):
        values = columns[_one(column)].copy()
        rows = params["rows"] & ~missing_mask(values)
        if name == "unseen_category":
            values[rows] = UNSEEN
        else:
            categories = schema.column(_one(column)).categories
            for i in np.flatnonzero(rows):
                values[i] = next((c for c in categories if c != values[i]), values[i])
        out[_one(column)] = values
    else:
        raise KeyError(f"no perturbation {name!r}; expected one of {PERTURBATIONS}")
    return out


def _one(column: str | None) -> str:
    if column is None:
        raise ValueError("expected column=<name> for a perturbation of one column")
    return column


def shift_weights(values: np.ndarray, kind: str, severity: int, target: Any = "high") -> np.ndarray:
    """Row weights (mean 1) of a covariate shift along one column: toward its high or low quantiles
    (``target`` ``"high"`` or ``"low"``, a numeric column: the weight grows as ``exp(tilt * q)`` with
    the row's quantile rank ``q`` in [-1/2, 1/2]), or toward one category (``target``: that category's
    rows weigh ``exp(tilt)`` times the others). Rows where the value is missing weigh 1."""
    tilt = TILT[severity - 1]
    mask = missing_mask(values)
    weights = np.ones(len(values))
    if kind == "numeric":
        present = np.asarray(values[~mask], dtype=np.float64)
        if len(present) > 1:
            ranks = (present.argsort(kind="stable").argsort(kind="stable") + 0.5) / len(present) - 0.5
            weights[~mask] = np.exp(tilt * (ranks if target == "high" else -ranks))
    else:
        weights[np.array([not m and v == target for v, m in zip(values, mask)], dtype=bool)] = np.exp(tilt)
    return weights / weights.mean()
