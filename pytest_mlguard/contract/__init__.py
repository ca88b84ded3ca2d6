"""The contract between a project and pytest-mlguard: model adapters and evaluation data of each task
(classification, segmentation, detection: :mod:`._tasks`; :class:`RecordModel` for models of records and
:class:`TableData` for tables, with their :class:`TableSchema`), pipeline, and
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
    from ._detection import CallableDetectionModel, DetectionModel, TorchDetectionModel
    from ._model import CallableModel, Model, SklearnModel, TorchModel, as_model
    from ._onnx import OnnxModel
    from ._pipeline import Pipeline
    from ._pretrained import HuggingFaceModel, TimmModel
    from ._programs import ExportedModel, TorchScriptModel
    from ._record_model import RecordModel
    from ._schema import Column, TableSchema
    from ._table import TableData, as_data
    from ._segmentation import CallableSegmentationModel, TorchSegmentationModel
    from ._tasks import TASKS, DetectionData, SegmentationData, as_task_data

__all__ = [
    "TASKS",
    "CallableDetectionModel",
    "CallableModel",
    "CallableSegmentationModel",
    "Column",
    "DetectionData",
    "DetectionModel",
    "EvalData",
    "ExportedModel",
    "HuggingFaceModel",
    "Model",
    "OnnxModel",
    "Pipeline",
    "RecordModel",
    "SegmentationData",
    "SklearnModel",
    "TableData",
    "TableSchema",
    "TimmModel",
    "TorchDetectionModel",
    "TorchModel",
    "TorchScriptModel",
    "TorchSegmentationModel",
    "as_data",
    "as_model",
    "as_task_data",
    "check_declaration",
    "range_warning",
]

_LAZY = {
    "TASKS": "._tasks",
    "CallableDetectionModel": "._detection",
    "CallableSegmentationModel": "._segmentation",
    "DetectionData": "._tasks",
    "DetectionModel": "._detection",
    "SegmentationData": "._tasks",
    "TorchDetectionModel": "._detection",
    "TorchSegmentationModel": "._segmentation",
    "as_task_data": "._tasks",
    "CallableModel": "._model",
    "Column": "._schema",
    "EvalData": "._data",
    "ExportedModel": "._programs",
    "HuggingFaceModel": "._pretrained",
    "OnnxModel": "._onnx",
    "TimmModel": "._pretrained",
    "TorchScriptModel": "._programs",
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
