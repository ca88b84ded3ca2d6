"""The contract between a project and pytest-mlguard: model adapters, evaluation data, pipeline, and
the ``contract`` checks of the model as it is deployed (:mod:`.family`).

The adapters are imported lazily (PEP 562), so that the plugin can register the ``contract`` family
without importing numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from .data import EvalData, as_data
    from .declaration import check_declaration, range_warning
    from .model import CallableModel, Model, SklearnModel, TorchModel, as_model
    from .pipeline import Pipeline

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
    "CallableModel": ".model",
    "EvalData": ".data",
    "Model": ".model",
    "Pipeline": ".pipeline",
    "SklearnModel": ".model",
    "TorchModel": ".model",
    "as_data": ".data",
    "as_model": ".model",
    "check_declaration": ".declaration",
    "range_warning": ".declaration",
}


__getattr__, __dir__ = _lazy_exports(__name__, _LAZY)
