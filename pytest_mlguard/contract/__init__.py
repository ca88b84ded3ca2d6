"""The contract between a project and pytest-mlguard: model adapters, evaluation data, pipeline."""

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
