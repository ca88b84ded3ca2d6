"""Weak slices, as plain functions over a table's columns and the model's outcomes.

:func:`define_slices` cuts the rows into slices: each category of a categorical or boolean column,
quantile bins of each numeric column (each value where it has few), the rows where a column is
missing, and (``pairs``) the intersections of two columns' slices; only slices of at least
``min_samples`` rows are kept. :func:`measure_slices` gives each its accuracy, with Clopper-Pearson
(or Wilson) intervals that hold for all the slices at once (Bonferroni over the slices), and its ECE;
:func:`weakest` ranks them, the slice whose accuracy is surely lowest (lowest upper bound) first.

Example:
    >>> columns = {"city": np.array(["a", "a", "b", "b"], dtype=object), "age": np.array([1.0, 2.0, 3.0, 4.0])}
    >>> [s.name for s in define_slices(columns, {"city": "categorical", "age": "numeric"}, bins=2, min_samples=2, pairs=False)]
    ['city = a', 'city = b', 'age <= 2.5', 'age > 2.5']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Slice:
    """Rows of the evaluation data: ``conditions`` (one per column, ANDed) name them, ``mask`` selects them."""

    conditions: tuple[str, ...]
    columns: tuple[str, ...]
    mask: np.ndarray

    @property
    def name(self) -> str:
        return " and ".join(self.conditions)

    @property
    def n(self) -> int:
        return int(self.mask.sum())


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    return np.array([v is None or (isinstance(v, float) and v != v) for v in values], dtype=bool)


def _number(value: float) -> str:
    return f"{value:.4g}"


def column_slices(name: str, values: np.ndarray, kind: str, bins: int) -> list[Slice]:
    """The slices of one column: its categories, or quantile bins of its numbers (its values where it
    has ``bins`` or fewer), and where it is missing."""
    missing = _missing(values)
    found = []
    if kind == "numeric":
        numbers = np.asarray(values, dtype=np.float64)
        present = numbers[~missing]
        distinct = np.unique(present)
        if len(distinct) <= bins:
            found = [Slice((f"{name} = {_number(v)}",), (name,), ~missing & (numbers == v)) for v in distinct]
        else:
            edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
            lower = np.concatenate([[-np.inf], edges])
            upper = np.concatenate([edges, [np.inf]])
            with np.errstate(invalid="ignore"):
                for low, high in zip(lower, upper):
                    mask = ~missing & (numbers > low) & (numbers <= high)
                    if np.isinf(low):
                        label = f"{name} <= {_number(high)}"
                    elif np.isinf(high):
                        label = f"{name} > {_number(low)}"
                    else:
                        label = f"{_number(low)} < {name} <= {_number(high)}"
                    found.append(Slice((label,), (name,), mask))
    else:
        rows: dict[Any, list[int]] = {}
        for index, (value, absent) in enumerate(zip(values, missing)):  # one pass, however many categories
            if not absent:
                rows.setdefault(value, []).append(index)
        for value, where in rows.items():
            mask = np.zeros(len(values), dtype=bool)
            mask[where] = True
            found.append(Slice((f"{name} = {value}",), (name,), mask))
    if missing.any():
        found.append(Slice((f"{name} is missing",), (name,), missing))
    return found


def define_slices(
    columns: Mapping[str, np.ndarray],
    kinds: Mapping[str, str],
    *,
    bins: int = 4,
    min_samples: int = 30,
    pairs: bool = True,
) -> list[Slice]:
    """Every slice of at least ``min_samples`` rows: of each column, then (``pairs``) of each pair of columns."""
    singles = {name: [s for s in column_slices(name, values, kinds[name], bins) if s.n >= min_samples] for name, values in columns.items()}
    found = [s for name in columns for s in singles[name]]
    if pairs:
        names = list(columns)
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                for a in singles[first]:
                    for b in singles[second]:
                        mask = a.mask & b.mask
                        if mask.sum() >= min_samples:
                            found.append(Slice(a.conditions + b.conditions, (first, second), mask))
    return found


@dataclass(frozen=True)
class SliceScore:
    """One slice's accuracy (``correct`` of ``n``), its simultaneous interval, and its ECE."""

    name: str
    columns: tuple[str, ...]
    n: int
    correct: int
    low: float
    high: float
    ece: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    def to_dict(self) -> dict[str, Any]:
        return {"slice": self.name, "columns": list(self.columns), "n": self.n, "correct": self.correct,
                "accuracy": round(self.accuracy, 6), "low": round(self.low, 6), "high": round(self.high, 6), "ece": round(self.ece, 6)}


def simultaneous_confidence(confidence: float, slices: int) -> float:
    """The level of each of ``slices`` intervals that hold all at once with probability ``confidence``
    at least (Bonferroni)."""
    return 1 - (1 - confidence) / max(1, slices)


def measure_slices(
    slices: Sequence[Slice],
    proba: np.ndarray,
    labels: np.ndarray,
    confidence: float,
    method: str = "clopper-pearson",
) -> list[SliceScore]:
    """Each slice's accuracy and ECE, with intervals at ``1 - (1 - confidence) / len(slices)`` each, so
    that all of them hold at once with probability ``confidence`` at least (Bonferroni)."""
    from ..calibration.metrics import expected_calibration_error
    from .._verdicts.intervals import binomial_bounds

    if not slices:
        return []
    correct = proba.argmax(axis=1) == labels
    counts = np.array([int(correct[s.mask].sum()) for s in slices])
    sizes = np.array([s.n for s in slices])
    each = simultaneous_confidence(confidence, len(slices))
    low, high = binomial_bounds(counts, sizes, each, method)  # type: ignore[arg-type]
    return [
        SliceScore(s.name, s.columns, int(n), int(k), float(lo), float(hi), expected_calibration_error(proba[s.mask], labels[s.mask], n_bins=10))
        for s, n, k, lo, hi in zip(slices, sizes, counts, low, high)
    ]


def weakest(scores: Sequence[SliceScore]) -> list[SliceScore]:
    """``scores`` ranked weakest first: by the upper end of the interval, then by accuracy, then fewer columns."""
    return sorted(scores, key=lambda s: (s.high, s.accuracy, len(s.columns), s.name))
