"""The model contract: what a project's ``mlguard_model`` fixture returns.

Three adapters give every check one interface, :meth:`Model.predict_proba` over a numpy batch in
the model's *raw input units* (the units the value range is given in, before any normalisation):

* :class:`TorchModel` wraps a ``torch.nn.Module`` with its input spec;
* :class:`CallableModel` wraps any callable ``batch -> scores`` (a black box, say a model behind an
  HTTP API);
* :class:`SklearnModel` wraps a scikit-learn style estimator with ``predict_proba``.

A fixture may also return the bare module, estimator or callable: :func:`as_model` then infers the
input shape and value range from the evaluation data.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    >>> model = TorchModel(net, input_shape=(1, 8, 8), n_classes=10, name="digits")
    >>> model.predict_proba(np.zeros((2, 1, 8, 8), np.float32)).shape
    (2, 10)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidArgument

if TYPE_CHECKING:
    import torch

    from ._data import EvalData

from ._adapter import Model, Output, classes_of
from ._torch_model import TorchModel


class CallableModel(Model):
    """Any callable ``batch -> scores``: a black box, such as a model behind an HTTP API.

    The callable receives a float32 numpy batch ``(N, *input_shape)`` in raw input units and returns
    ``(N, n_classes)`` scores (``output``: probabilities by default). Gradient attacks do not apply;
    black-box attacks do.

    Example:
        >>> model = CallableModel(lambda x: np.full((len(x), 2), 0.5), input_shape=(4,), n_classes=2)
        >>> model.predict(np.zeros((3, 4))).tolist()
        [0, 0, 0]
    """

    kind = "callable"

    def __init__(
        self,
        fn: Callable[[np.ndarray], Any],
        *,
        input_shape: Sequence[int],
        n_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        value_range: tuple[float, float] = (0.0, 1.0),
        output: Output = "probabilities",
        name: str | None = None,
        batch_size: int = 256,
    ) -> None:
        if not callable(fn):
            raise InvalidArgument.expected("a callable batch -> scores", "fn", fn)
        super().__init__(
            input_shape=input_shape,
            n_classes=n_classes,
            class_names=class_names,
            value_range=value_range,
            output=output,
            name=name,
            batch_size=batch_size,
        )
        self.fn = fn

    def _scores(self, batch: np.ndarray) -> Any:
        return self.fn(batch)  # arrays, tensors, rows of numbers: check_scores converts them


class SklearnModel(Model):
    """A scikit-learn style estimator with ``predict_proba``.

    Samples are flattened to ``(N, n_features)`` before ``predict_proba``. The estimator's
    ``classes_`` must be ``0 .. n_classes - 1`` in order, matching the labels of the data.

    Example:
        >>> from sklearn.linear_model import LogisticRegression
        >>> est = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
        >>> SklearnModel(est, input_shape=(1,)).n_classes
        2
    """

    kind = "sklearn"

    def __init__(
        self,
        estimator: Any,
        *,
        input_shape: Sequence[int] | None = None,
        class_names: Sequence[str] | None = None,
        value_range: tuple[float, float] = (0.0, 1.0),
        name: str | None = None,
        batch_size: int = 4096,
    ) -> None:
        if not callable(getattr(estimator, "predict_proba", None)):
            raise InvalidArgument.expected("an estimator with predict_proba", "estimator", estimator)
        n_classes = classes_of(estimator)
        if input_shape is None:
            n_features = getattr(estimator, "n_features_in_", None)
            if n_features is None:
                raise InvalidArgument("Expected input_shape, or an estimator with n_features_in_")
            input_shape = (int(n_features),)
        super().__init__(
            input_shape=input_shape,
            n_classes=n_classes,
            class_names=class_names,
            value_range=value_range,
            output="probabilities",
            name=name,
            batch_size=batch_size,
        )
        self.estimator = estimator

    def _scores(self, batch: np.ndarray) -> Any:
        return self.estimator.predict_proba(batch.reshape(len(batch), -1))


def as_model(obj: Any, data: EvalData | None = None, *, name: str | None = None, fixture: str = "mlguard_model") -> Model:
    """Turn what ``mlguard_model`` (or ``fixture``, such as ``mlguard_baseline_model``) returned into a :class:`Model`.

    Bare modules, estimators and callables get their input shape from ``data``, their value range
    from the data's minimum and maximum, and their number of classes from the labels.
    """
    from ._record_model import RecordModel
    from ._table import TableData

    if isinstance(obj, RecordModel) and isinstance(data, TableData):
        return obj.bind(data)
    if isinstance(obj, Model):
        return obj
    if isinstance(data, TableData):
        return RecordModel(obj, schema=data, n_classes=data.n_classes, name=name)
    expected = (
        "a pytest_mlguard.TorchModel, CallableModel, SklearnModel or RecordModel, a torch.nn.Module, "
        "a fitted estimator with predict_proba, or a callable batch -> scores"
    )
    if data is None:
        raise InvalidArgument.expected(expected, fixture, obj)
    spec: dict[str, Any] = {
        "input_shape": data.sample_shape,
        "value_range": data.value_range(),
        "name": name,
    }
    if callable(getattr(obj, "predict_proba", None)) and hasattr(obj, "classes_"):
        return SklearnModel(obj, **spec)
    torch_module = _torch_module_type()
    if torch_module is not None and isinstance(obj, torch_module):
        return TorchModel(obj, n_classes=data.n_classes, **spec)
    if callable(obj):
        return CallableModel(obj, n_classes=data.n_classes, **spec)
    raise InvalidArgument.expected(expected, fixture, obj)


def _torch_module_type() -> type[torch.nn.Module] | None:
    import sys

    torch = sys.modules.get("torch")  # a bare nn.Module means torch is imported already
    return torch.nn.Module if torch is not None else None
