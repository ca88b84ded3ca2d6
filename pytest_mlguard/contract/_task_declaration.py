"""The declaration of a model whose task is not classification (:mod:`.tasks`), checked as a whole:
the model's task against the ``task`` setting, the data of that task, the image shape, the labels
against the number of classes, and one call of the model.

Example:
    >>> from pytest_mlguard.contract._segmentation import CallableSegmentationModel
    >>> model = CallableSegmentationModel(lambda x: np.zeros((len(x), 2, 4, 4)), input_shape=(3, 4, 4), n_classes=2, name="api")
    >>> check_task_declaration(model, (np.zeros((2, 3, 4, 4)), np.zeros((2, 4, 4), int)), "classification")[0].task
    Traceback (most recent call last):
    ...
    pytest_mlguard.errors.ContractError: mlguard_model: model 'api' declares task 'segmentation' but the suite is planned for task 'classification' (task, from default): set task = "segmentation" in [tool.mlguard] of pyproject.toml (or --mlguard-set task=segmentation)
"""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401 - the example uses it

from .._messages import exception_text
from ..errors import ContractError, InvalidArgument, MlguardError, NonFiniteOutput
from ._tasks import as_task_data, ignore_index_hint

#: the adapters of each task, for the error that names them
ADAPTERS = {
    "classification": "TorchModel, CallableModel or SklearnModel",
    "segmentation": "TorchSegmentationModel or CallableSegmentationModel",
    "detection": "TorchDetectionModel or CallableDetectionModel",
}


def named(make: Any, fixture: str) -> Any:
    """``make()``, with an :class:`InvalidArgument` it raises named after ``fixture``."""
    try:
        return make()
    except ContractError:
        raise
    except InvalidArgument as exc:
        raise ContractError(str(exc), fixture=fixture) from None


def check_task_declaration(model: Any, data: Any, task: str, task_source: str = "default", *, device: str = "cpu") -> tuple[Any, Any]:
    """The model adapter and the evaluation data of a declaration whose model or ``task`` setting is not
    classification, checked (``ContractError`` for the first violation)."""
    declared = getattr(model, "task", None)
    if declared is None:
        raise ContractError(
            f"the suite is planned for task {task!r} (task, from {task_source}): expected a pytest_mlguard.contract "
            f"{ADAPTERS[task]} but got {type(model).__name__}: a bare model is taken for a classifier",
            fixture="mlguard_model",
        )
    if declared != task:
        raise ContractError(
            f"model {model.name!r} declares task {declared!r} but the suite is planned for task {task!r} (task, from {task_source}): "
            f'set task = "{declared}" in [tool.mlguard] of pyproject.toml (or --mlguard-set task={declared})',
            fixture="mlguard_model",
        )
    eval_data = named(lambda: as_task_data(data, task), "mlguard_data")
    both = "mlguard_model and mlguard_data"
    if task == "segmentation":
        if model.input_shape != eval_data.sample_shape:
            raise ContractError(
                f"Expected images of the model's input shape {model.input_shape} but mlguard_data holds images of shape {eval_data.sample_shape}",
                fixture=both,
            )
        if eval_data.max_label() >= model.n_classes:
            raise ContractError(
                f"Expected mask labels in 0..{model.n_classes - 1} (or ignore_index={eval_data.ignore_index}) for model {model.name!r} "
                f"but mlguard_data holds label {eval_data.max_label()}: " + ignore_index_hint(eval_data.max_label()),
                fixture=both,
            )
        if hasattr(model, "check_normalisation"):
            named(model.check_normalisation, "mlguard_model")
    elif eval_data.n_classes > model.n_classes:
        raise ContractError(
            f"Expected box labels in 0..{model.n_classes - 1} for model {model.name!r} but mlguard_data holds label {eval_data.n_classes - 1}",
            fixture=both,
        )
    return model, eval_data


def probe_task_model(model: Any, data: Any, device: str = "cpu", *, fixture: str = "mlguard_model") -> None:
    """One call of a segmentation or detection model on two samples: a malformed output is named now."""
    try:
        with model.running(device):
            if model.task == "detection":
                model.predict(data.images[:2])
            else:
                model.predict_proba(data.x[:2])
    except NonFiniteOutput:
        return
    except ContractError as exc:
        raise ContractError(str(exc), fixture=fixture) from None
    except MlguardError:
        raise
    except Exception as exc:  # noqa: BLE001 - the model's own error, named
        raise ContractError(f"{model.task} model {model.name!r} raised {exception_text(exc)}", fixture=fixture) from None
