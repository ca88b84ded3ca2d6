"""The adapter of a model of records (a tabular model): :class:`RecordModel`.

It wraps a scikit-learn estimator or Pipeline (a ``ColumnTransformer`` over a DataFrame, say), a
torch module over a feature vector with its preprocessing function, or a plain callable, and gives
the checks both interfaces: :meth:`RecordModel.predict_proba` over the numbers of
:class:`~._table.TableData` ``x`` (what the accuracy and calibration families call), which it decodes
into the table, and :meth:`RecordModel.predict_table` over the table's columns by name, where a
column may hold values outside its schema or be absent (what the ``tabular`` family calls).

It returns class probabilities; regression models are not supported yet.

Example:
    >>> model = RecordModel(lambda rows: [[1.0, 0.0] if r["age"] < 50 else [0.0, 1.0] for r in rows],
    ...                     schema={"age": (0, 120)}, n_classes=2, input="records")
    >>> model.predict_table({"age": np.array([30.0, 70.0])}).argmax(axis=1).tolist()
    [0, 1]
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np

from ..errors import InvalidArgument
from ._adapter import Model, Output, classes_of
from ._schema import TableSchema, declared_table_schema
from ._table import TableData, as_input, decode_column

InputForm = Literal["dataframe", "records", "array"]
_FORMS = ("dataframe", "records", "array")


class RecordModel(Model):
    """A model of records: it takes a table and returns class probabilities.

    Args:
        model: a fitted scikit-learn estimator or Pipeline (anything with ``predict_proba`` and
            ``classes_`` ``0 .. K-1``), a ``torch.nn.Module`` over the feature vectors ``preprocess``
            makes, or a callable ``table -> scores``.
        schema: the table's columns: a :class:`TableData` (its schema), a
            :class:`~._schema.TableSchema`, or a declaration as :func:`pytest_mlguard.strategies.records`
            takes it (a dict, a pandas dtype mapping, a pydantic model); ``None``: that of ``mlguard_data``.
        n_classes, class_names: the classes (an estimator's come from its ``classes_``).
        preprocess: a function ``table -> features`` applied before the model (required for a torch module).
        input: the form the model (or ``preprocess``) takes the table in: ``"dataframe"`` (pandas),
            ``"records"`` (a list of dicts) or ``"array"`` (a 2-D numpy array in the schema's column order).
        output: what the model returns (an estimator: probabilities).
        name, batch_size: the model's name in reports; rows per call.
    """

    kind = "records"

    def __init__(
        self,
        model: Any,
        *,
        schema: Any = None,
        n_classes: int | None = None,
        class_names: Any = None,
        preprocess: Callable[[Any], Any] | None = None,
        input: InputForm = "dataframe",  # noqa: A002 - the public keyword, as Pipeline(fn, input=...)
        output: Output = "probabilities",
        name: str | None = None,
        batch_size: int = 4096,
    ) -> None:
        if input not in _FORMS:
            raise InvalidArgument.expected(f"one of {_FORMS}", "input", input)
        if input == "dataframe":
            _require_pandas(name)
        if preprocess is not None and not callable(preprocess):
            raise InvalidArgument.expected("a callable table -> features", "preprocess", preprocess)
        self.model, self.preprocess, self.input = model, preprocess, input
        self._call = self._caller(model, preprocess)
        if callable(getattr(model, "predict_proba", None)):
            n_classes, output = classes_of(model), "probabilities"
        self.schema: TableSchema | None = None
        if schema is not None:
            self.schema = schema.schema if isinstance(schema, TableData) else declared_table_schema(schema)
        super().__init__(
            input_shape=(len(self.schema.columns) if self.schema else 1,),
            n_classes=n_classes,
            class_names=class_names,
            value_range=(0.0, 1.0),
            output=output,
            name=name,
            batch_size=batch_size,
        )

    def _caller(self, model: Any, preprocess: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
        prepare = preprocess or (lambda table: table)
        if callable(getattr(model, "predict_proba", None)):
            return lambda table: model.predict_proba(prepare(table))
        if type(model).__module__.startswith("torch") or (hasattr(model, "parameters") and hasattr(model, "forward")):
            if preprocess is None:
                raise InvalidArgument(
                    "Expected preprocess=<function table -> feature array> for a torch module: it takes feature vectors, not a table"
                )
            return lambda table: _torch_scores(model, prepare(table))
        if not callable(model):
            raise InvalidArgument.expected("an estimator with predict_proba, a torch module, or a callable table -> scores", "model", model)
        return lambda table: model(prepare(table))

    def bind(self, data: TableData) -> RecordModel:
        """This adapter over ``data``'s columns (a copy, when it declared no schema of its own)."""
        return self if self.schema is not None else self._over(data.schema)

    def _over(self, schema: TableSchema) -> RecordModel:
        bound = copy.copy(self)
        bound.schema = schema
        bound.input_shape = (len(schema.columns),)
        return bound

    def _table_schema(self) -> TableSchema:
        if self.schema is None:
            raise InvalidArgument(f"RecordModel {self.name!r} has no schema: give schema=... or pair it with a TableData")
        return self.schema

    def _scores(self, batch: np.ndarray) -> Any:
        schema = self._table_schema()
        columns = {c.name: decode_column(c, batch[:, j]) for j, c in enumerate(schema.columns)}
        return self._call(as_input(columns, schema, self.input))

    def predict_table(self, columns: Mapping[str, np.ndarray], batch_size: int | None = None) -> np.ndarray:
        """Class probabilities, shape ``(N, n_classes)``, for a table's columns by name (each an array
        of N values; a column may be absent, or hold values its schema does not allow).

        Raises:
            ContractError: the model returned something other than ``(N, n_classes)`` scores.
            NonFiniteOutput: some probabilities are NaN or inf (it names the rows).
        """
        schema = self._table_schema()
        n = len(next(iter(columns.values()))) if columns else 0

        def scores(start: int, stop: int) -> Any:
            return self._call(as_input({k: v[start:stop] for k, v in columns.items()}, schema, self.input))

        return self._batched(n, batch_size or self.batch_size, scores)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(input=self.input, columns=self.schema.describe() if self.schema else None)
        return out


def _torch_scores(module: Any, features: Any) -> Any:
    import torch

    with torch.no_grad():
        tensor = torch.as_tensor(np.asarray(features, dtype=np.float32))
        return module(tensor).detach().cpu().numpy()


def pair_table(model: Model, data: Any) -> tuple[RecordModel, TableData]:
    """A record model and its table under one schema: the model's declared one, completed by the data's
    (and the data encoded under it), or the data's.

    Raises:
        InvalidArgument: one of the two is not tabular, or the model declares columns the data lack.
    """
    if not isinstance(data, TableData):
        raise InvalidArgument(
            f"Expected mlguard_data to be a TableData (a table with named columns) for the RecordModel {model.name!r} "
            f"but got {type(data).__name__} of samples of shape {data.sample_shape}: return TableData(frame, y)"
        )
    if not isinstance(model, RecordModel):
        raise InvalidArgument(
            f"Expected a RecordModel (or a bare estimator, torch module or callable, which become one) for the TableData "
            f"{data.name!r} but got {type(model).__name__} {model.name!r}: wrap it as RecordModel(estimator, schema=data)"
        )
    if model.schema is None or model.schema == data.schema:
        return model.bind(data), data
    schema = model.schema.completed_by(data.schema)
    return model._over(schema), data.with_schema(schema)


def _require_pandas(name: str | None) -> None:
    """pandas, which ``input="dataframe"`` hands the table in, is an optional dependency: its absence is
    named where the model is declared, not as an ImportError in the middle of a check."""
    try:
        import pandas as pd  # noqa: F401
    except ImportError:
        raise InvalidArgument(
            f"RecordModel {name or 'model'!r} takes the table as a pandas DataFrame (input='dataframe', the default) but "
            "pandas is not installed: pip install 'pytest-mlguard[tabular]' (or pandas), or declare input='records' or 'array'"
        ) from None
