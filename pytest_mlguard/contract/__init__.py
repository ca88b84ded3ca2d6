"""The contract between a project and pytest-mlguard: model adapters, evaluation data, pipeline, and
the ``contract`` checks of the model as it is deployed (:mod:`.family`).

The adapters are imported lazily (PEP 562), so that the plugin can register the ``contract`` family
without importing numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from ._data import EvalData, as_data
    from ._declaration import check_declaration, range_warning
    from ._model import CallableModel, Model, SklearnModel, TorchModel, as_model
    from ._pipeline import Pipeline

__all__ = [
    "CallableModel",
    "EvalData",
    "Model",
    "Pipeline",
    "SklearnModel",
    "TorchModel",
    "as_data",
    "as_model",
    "check_declaration",
    "range_warning",
]

_LAZY = {
    "CallableModel": "._model",
    "EvalData": "._data",
    "Model": "._model",
    "Pipeline": "._pipeline",
    "SklearnModel": "._model",
    "TorchModel": "._model",
    "as_data": "._data",
    "as_model": "._model",
    "check_declaration": "._declaration",
    "range_warning": "._declaration",
}


__getattr__, __dir__ = _lazy_exports(__name__, _LAZY)
