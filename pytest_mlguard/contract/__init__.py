"""The contract between a project and pytest-mlguard: model adapters (:class:`RecordModel` for models of
records), evaluation data (:class:`TableData` for tables, with their :class:`TableSchema`), pipeline, and
the ``contract`` checks of the model as it is deployed (:mod:`.family`).

The adapters are imported lazily (PEP 562), so that the plugin can register the ``contract`` family
without importing numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from ._data import EvalData
    from ._declaration import check_declaration, range_warning
    from ._model import CallableModel, Model, SklearnModel, TorchModel, as_model
    from ._pipeline import Pipeline
    from ._record_model import RecordModel
    from ._schema import Column, TableSchema
    from ._table import TableData, as_data

__all__ = [
    "CallableModel",
    "Column",
    "EvalData",
    "Model",
    "Pipeline",
    "RecordModel",
    "SklearnModel",
    "TableData",
    "TableSchema",
    "TorchModel",
    "as_data",
    "as_model",
    "check_declaration",
    "range_warning",
]

_LAZY = {
    "CallableModel": "._model",
    "Column": "._schema",
    "EvalData": "._data",
    "Model": "._model",
    "Pipeline": "._pipeline",
    "RecordModel": "._record_model",
    "SklearnModel": "._model",
    "TableData": "._table",
    "TableSchema": "._schema",
    "TorchModel": "._model",
    "as_data": "._table",
    "as_model": "._model",
    "check_declaration": "._declaration",
    "range_warning": "._declaration",
}


__getattr__, __dir__ = _lazy_exports(__name__, _LAZY)
