"""pytest-mlguard: a pytest plugin that turns the ways deep-learning models fail in production
into test failures.

The public API is imported lazily (PEP 562), so that pytest loading the plugin stays cheap::

    from pytest_mlguard import TorchModel, EvalData, Pipeline, ProductionLog, check_model
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports as _lazy_exports
from ._version import __version__
from .errors import (
    CheckError,
    ConfigError,
    ContractError,
    ContractWarning,
    InvalidArgument,
    MissingDependency,
    MlguardError,
    NonFiniteOutput,
    NotApplicable,
)

if TYPE_CHECKING:
    from .checks.api import check_model
    from .checks._base import CheckResult
    from .contract import CallableModel, EvalData, Model, Pipeline, RecordModel, SklearnModel, TableData, TorchModel
    from .contract import ExportedModel, HuggingFaceModel, OnnxModel, TimmModel, TorchScriptModel
    from .fixture import MlguardFixture
    from .production._shift.window import ProductionLog

__all__ = [
    "CallableModel",
    "CheckError",
    "CheckResult",
    "ConfigError",
    "ContractError",
    "ContractWarning",
    "EvalData",
    "ExportedModel",
    "HuggingFaceModel",
    "InvalidArgument",
    "MissingDependency",
    "MlguardError",
    "MlguardFixture",
    "Model",
    "NonFiniteOutput",
    "NotApplicable",
    "OnnxModel",
    "Pipeline",
    "ProductionLog",
    "RecordModel",
    "SklearnModel",
    "TableData",
    "TimmModel",
    "TorchModel",
    "TorchScriptModel",
    "__version__",
    "check_model",
]

_LAZY = {
    "CallableModel": "pytest_mlguard.contract",
    "CheckResult": "pytest_mlguard.checks._base",
    "EvalData": "pytest_mlguard.contract",
    "ExportedModel": "pytest_mlguard.contract",
    "HuggingFaceModel": "pytest_mlguard.contract",
    "OnnxModel": "pytest_mlguard.contract",
    "TimmModel": "pytest_mlguard.contract",
    "TorchScriptModel": "pytest_mlguard.contract",
    "MlguardFixture": "pytest_mlguard.fixture",
    "Model": "pytest_mlguard.contract",
    "Pipeline": "pytest_mlguard.contract",
    "ProductionLog": "pytest_mlguard.production._shift.window",
    "RecordModel": "pytest_mlguard.contract",
    "SklearnModel": "pytest_mlguard.contract",
    "TableData": "pytest_mlguard.contract",
    "TorchModel": "pytest_mlguard.contract",
    "check_model": "pytest_mlguard.checks.api",
}


__getattr__, __dir__ = _lazy_exports(__name__, _LAZY)
