"""The declaration as a whole: what ``mlguard_model``, ``mlguard_data`` and ``mlguard_pipeline``
returned, checked together before any check runs.

:func:`check_declaration` adapts the fixtures' values and checks them in the order in which one
mistake explains the next: the data and the model each on its own, then the model's input shape
against the data's samples (first: a wrong ``input_shape`` makes ``mean`` look wrong too), the labels
against the number of classes, the normalisation against the channels, the device, and last one call
of the model on a few samples, whose output must be ``(batch, n_classes)`` floating-point scores.
Every violation is a :class:`~pytest_mlguard.errors.ContractError` naming the fixture.
:func:`range_warning` says when the data lie far outside the model's ``value_range``.

Example:
    >>> import numpy as np
    >>> from pytest_mlguard.contract import CallableModel, EvalData
    >>> data = EvalData(np.zeros((4, 3)), [0, 1, 0, 1])
    >>> model = CallableModel(lambda x: np.full((len(x), 2), 0.5), input_shape=(4,), n_classes=2, name="api")
    >>> check_declaration(model, data)
    Traceback (most recent call last):
    ...
    pytest_mlguard.errors.ContractError: mlguard_model and mlguard_data: Expected evaluation samples of the model's input shape (4,) but mlguard_data holds samples of shape (3,)
"""

from __future__ import annotations

from typing import Any


from .._messages import without_addresses
from ..errors import ContractError, InvalidArgument, MlguardError, NonFiniteOutput
from ._data import EvalData
from ._model import Model, TorchModel, as_model
from ._normalisation import Normalised
from ._pipeline import Pipeline
from ._record_model import RecordModel, pair_table
from ._table import TableData, as_data
from ._task_declaration import check_task_declaration, named as _named, probe_task_model


#: data may leave the model's value_range by this fraction of its width before :func:`range_warning` says so
RANGE_TOLERANCE = 0.01


def check_declaration(
    model: Any,
    data: Any,
    pipeline: Any = None,
    *,
    device: str = "cpu",
    device_source: str = "default",
    probe: bool = True,
    task: str = "classification",
    task_source: str = "default",
) -> tuple[Model, EvalData]:
    """The model adapter and the evaluation data of a declaration, checked as a whole.

    Args:
        model, data, pipeline: what the fixtures returned.
        device: the device a torch model runs on unless it names its own (``--mlguard-device``).
        device_source: where ``device`` was set, for the error when it is not available.
        probe: call the model once (:func:`probe_model`); the suite does it later, before the first
            check that is not reused from the cache, so that a cached re-run calls no model.
        task, task_source: the task the suite is planned for (the ``task`` setting) and where it was set;
            a model or a task other than classification is checked by :func:`~.task_declaration.check_task_declaration`.

    Raises:
        ContractError: the first violation, in the order of the module docstring.
    """
    if task != "classification" or getattr(model, "task", "classification") != "classification":
        adapted_task, task_data = check_task_declaration(model, data, task, task_source, device=device)
        if probe:
            probe_model(adapted_task, task_data, device)
        return adapted_task, task_data
    eval_data = _named(lambda: as_data(data), "mlguard_data")
    adapted = _named(lambda: as_model(model, eval_data), "mlguard_model")
    both = "mlguard_model and mlguard_data"
    if isinstance(adapted, RecordModel) or isinstance(eval_data, TableData):
        adapted, eval_data = _named(lambda: pair_table(adapted, eval_data), both)
    if adapted.input_shape != eval_data.sample_shape:
        raise ContractError(
            f"Expected evaluation samples of the model's input shape {adapted.input_shape} but mlguard_data "
            f"holds samples of shape {eval_data.sample_shape}{_shape_hint(adapted.input_shape, eval_data.sample_shape)}",
            fixture=both,
        )
    if int(eval_data.y.max()) >= adapted.n_classes:
        raise ContractError(
            f"Expected labels in 0..{adapted.n_classes - 1} for model {adapted.name!r} "
            f"but mlguard_data holds label {int(eval_data.y.max())}",
            fixture=both,
        )
    if isinstance(adapted, Normalised):
        _named(adapted.check_normalisation, "mlguard_model")
    if isinstance(adapted, TorchModel):
        _check_device(adapted.device or device, "mlguard_model (TorchModel device=...)" if adapted.device else device_source)
    if pipeline is not None and not isinstance(pipeline, Pipeline):
        raise ContractError(str(InvalidArgument.expected("a pytest_mlguard.Pipeline or None", "mlguard_pipeline", pipeline)), fixture="mlguard_pipeline")
    if probe:
        probe_model(adapted, eval_data, device)
    return adapted, eval_data


def _shape_hint(model_shape: tuple[int, ...], data_shape: tuple[int, ...]) -> str:
    if len(model_shape) == 3 and data_shape == (*model_shape[1:], model_shape[0]):
        return ": channels last? give the samples channels first (x.transpose(0, 3, 1, 2))"
    if len(model_shape) == len(data_shape) == 3 and model_shape[1:] == data_shape[1:]:
        return f": check input_shape=(C, H, W) of the model, whose C={model_shape[0]}, against the data's {data_shape[0]} channels"
    return ""


def _check_device(device: str, source: str) -> None:
    """The device exists on this machine (torch is imported already: the model is a torch model)."""
    import torch

    kind, _, index = device.partition(":")
    backends = {"cuda": torch.cuda, "xpu": getattr(torch, "xpu", None), "mps": getattr(torch.backends, "mps", None)}
    backend = backends.get(kind)
    if backend is None:
        return
    if not backend.is_available():
        raise ContractError(f"device {device!r} (from {source}) is not available on this machine: torch.{kind} reports none", fixture="mlguard_model")
    count = getattr(backend, "device_count", lambda: 1)()
    if index and int(index) >= count:
        raise ContractError(f"device {device!r} (from {source}) does not exist: this machine has {count} {kind} device(s), 0..{count - 1}", fixture="mlguard_model")


def probe_model(model: Model, data: EvalData, device: str = "cpu", *, fixture: str = "mlguard_model") -> None:
    """One call of the model on a few samples: a malformed output is named now, not in every check,
    as the output of ``fixture``.

    The probe's batch size differs from the number of classes, so that outputs transposed to
    ``(n_classes, batch)`` cannot pass for ``(batch, n_classes)``.
    """
    if model.task != "classification":
        return probe_task_model(model, data, device, fixture=fixture)
    size = min(data.n, 3 if model.n_classes == 2 else 2)
    batch = data.x[:size]
    try:
        with model.running(device):
            model.predict_proba(batch)
    except NonFiniteOutput:
        return  # a wrong prediction, not a malformed one: the checks fail on it, naming the samples
    except ContractError as exc:
        raise ContractError(str(exc), fixture=fixture) from None
    except MlguardError:
        raise
    except Exception as exc:  # noqa: BLE001 - the model's own error, named with where it was raised
        raise ContractError(
            f"model {model.name!r} raised {type(exc).__name__}{_where(exc)} on a batch of shape {batch.shape}: {without_addresses(str(exc))}",
            fixture=fixture,
        ) from None


def _where(exc: BaseException) -> str:
    """`` at file.py:12`` for the innermost frame of ``exc`` outside pytest-mlguard and torch."""
    import os

    frame, where = exc.__traceback__, ""
    while frame is not None:
        path = frame.tb_frame.f_code.co_filename
        if not any(part in path for part in (f"{os.sep}pytest_mlguard{os.sep}", f"{os.sep}torch{os.sep}", f"{os.sep}numpy{os.sep}")):
            where = f" at {os.path.basename(path)}:{frame.tb_lineno}"
        frame = frame.tb_next
    return where


def range_warning(model: Model, data: EvalData, tolerance: float = RANGE_TOLERANCE) -> str | None:
    """A warning when ``data`` lie outside ``model.value_range`` by more than ``tolerance`` of its width
    (the data in other units than the model's declared range), else ``None``.

    Example:
        >>> import numpy as np
        >>> from pytest_mlguard.contract import CallableModel, EvalData
        >>> model = CallableModel(lambda x: x, input_shape=(1,), n_classes=2, name="api")
        >>> range_warning(model, EvalData(np.array([[0.0], [16.0]]), [0, 1])).split(":")[0]
        "mlguard_data 'data' holds values in [0, 16], outside the value_range (0, 1) of mlguard_model 'api'"
    """
    if isinstance(data, TableData):
        return None  # a table's columns have their ranges in its schema; value_range is for arrays
    low, high = model.value_range
    seen_low, seen_high = data.bounds()
    margin = tolerance * (high - low)
    if seen_low >= low - margin and seen_high <= high + margin:
        return None
    return (
        f"mlguard_data {data.name!r} holds values in [{seen_low:g}, {seen_high:g}], outside the value_range "
        f"({low:g}, {high:g}) of mlguard_model {model.name!r}: attacks clip their inputs to value_range (so the "
        "clean samples change before any attack), corruptions and the compression curve clip them to it before "
        "corrupting, and garbage inputs are drawn from it. Declare the range of the raw inputs "
        "(value_range=(low, high)), or give mlguard_data in raw units, before normalisation"
    )
