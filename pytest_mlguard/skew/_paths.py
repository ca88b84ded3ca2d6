"""What a project declares for the ``skew`` checks: its two feature paths (:class:`FeaturePaths`).

Importing this module imports the standard library only: the plugin declares the ``skew`` family at
start-up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument


@dataclass(frozen=True)
class FeaturePaths:
    """The offline and the online feature code of a model, which must compute the same features.

    Args:
        offline: the batch code that built the training table: a list of raw records -> a table of
            features, one row per record (a pandas DataFrame, a 2-D array, or a list of dicts or rows).
        online: the service's per-request code: one raw record -> its features (a pandas Series, a
            dict, a 1-D array or a list).
        examples: raw records as production sends them (dicts); the search starts from them, and
            infers the raw records' schema from them when ``schema`` is not given.
        schema: the raw records' schema, as :func:`pytest_mlguard.strategies.records` takes it (a dict
            of field -> type, range or categories, a pandas dtype mapping, a dataclass, a pydantic model).
        tolerance: the largest absolute difference of a numeric feature that counts as the same, for
            every column (a number) or per column (a mapping; ``"*"``: the others, else ``1e-9``).
        relative: the relative difference allowed on top of it (``relative * |offline value|``):
            float32 against float64 arithmetic.
        columns: the features' names, in the model's order, where neither path's output names them
            (arrays); a DataFrame's or a dict's names are read.
        model: what ``skew[predictions]`` predicts with from the features: a model adapter or an
            estimator with ``predict_proba``, or a callable ``features (N, d) -> probabilities``;
            ``None``: ``mlguard_model``, whose input is then the features.
        name: how reports and saved files name the paths.

    Example:
        >>> paths = FeaturePaths(offline=lambda rs: [[r["x"] * 2.0] for r in rs], online=lambda r: [r["x"] + r["x"]],
        ...                      schema={"x": (0.0, 1.0)}, columns=("x2",))
        >>> paths.column_tolerance("x2")
        1e-09
    """

    offline: Callable[[list[dict[str, Any]]], Any]
    online: Callable[[dict[str, Any]], Any]
    examples: Sequence[Mapping[str, Any]] | None = None
    schema: Any = None
    tolerance: float | Mapping[str, float] = 1e-9
    relative: float = 1e-6
    columns: Sequence[str] | None = None
    model: Any = None
    name: str = "features"

    def __post_init__(self) -> None:
        where = "FeaturePaths(...)"
        for name in ("offline", "online"):
            if not callable(getattr(self, name)):
                raise InvalidArgument.expected(f"a callable for the {name} feature path", name, getattr(self, name), where=where)
        if self.schema is None and not self.examples:
            raise InvalidArgument.expected("example raw records (a non-empty list of dicts), or a schema", "examples", self.examples, where=where)
        if self.examples is not None and (isinstance(self.examples, (str, bytes, Mapping)) or not all(isinstance(e, Mapping) for e in self.examples)):
            raise InvalidArgument.expected("a list of raw records (dicts)", "examples", self.examples, where=where)
        tolerances = self.tolerance.values() if isinstance(self.tolerance, Mapping) else [self.tolerance]
        for value in [*tolerances, self.relative]:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise InvalidArgument.expected("tolerances that are finite numbers >= 0", "tolerance", self.tolerance if value is not self.relative else value, where=where)
        if self.columns is not None and (isinstance(self.columns, str) or not all(isinstance(c, str) for c in self.columns)):
            raise InvalidArgument.expected("a sequence of column names (str)", "columns", self.columns, where=where)
        if self.model is not None and not (callable(self.model) or callable(getattr(self.model, "predict_proba", None))):
            raise InvalidArgument.expected("a model with predict_proba, or a callable features -> probabilities", "model", self.model, where=where)

    def column_tolerance(self, column: str) -> float:
        """The absolute tolerance of ``column``."""
        if isinstance(self.tolerance, Mapping):
            return float(self.tolerance.get(column, self.tolerance.get("*", 1e-9)))
        return float(self.tolerance)


def as_feature_paths(value: Any, where: str) -> FeaturePaths:
    """``value`` (what ``mlguard_features`` returned) as :class:`FeaturePaths`: a ``FeaturePaths``, or a
    mapping of its arguments."""
    if isinstance(value, FeaturePaths):
        return value
    if isinstance(value, Mapping):
        try:
            return FeaturePaths(**value)
        except TypeError as exc:
            raise InvalidArgument(f"Expected the arguments of pytest_mlguard.skew.FeaturePaths in {where} but got {sorted(value)}: {exc}") from None
    raise InvalidArgument.expected("a pytest_mlguard.skew.FeaturePaths(offline=..., online=..., examples=...)", "features", value, where=where)
