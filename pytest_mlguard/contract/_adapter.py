"""The adapters' common part: :class:`Model`, the interface every check calls
(:meth:`Model.predict_proba` over a numpy batch in the model's raw input units), and the checks of an
adapter's declaration (input shape, value range, output kind). The adapters themselves are in
:mod:`.model` and :mod:`.torch_model`."""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from ..errors import InvalidArgument, NonFiniteOutput
from ._output import check_scores, non_finite_rows

if TYPE_CHECKING:

    pass


Output = Literal["logits", "probabilities", "log_probabilities"]
_OUTPUTS = ("logits", "probabilities", "log_probabilities")
Mode = Literal["eval", "as-given"]
_MODES = ("eval", "as-given")


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _check_shape(shape: Any, name: str = "input_shape") -> tuple[int, ...]:
    if (
        not isinstance(shape, (tuple, list))
        or not shape
        or not all(isinstance(dim, (int, np.integer)) and not isinstance(dim, bool) and dim > 0 for dim in shape)
    ):
        raise InvalidArgument.expected("a non-empty tuple of positive ints, such as (3, 32, 32)", name, shape)
    return tuple(int(dim) for dim in shape)


def _check_range(value_range: Any) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise InvalidArgument.expected("a pair (low, high) of numbers", "value_range", value_range) from None
    if not np.isfinite([low, high]).all() or not low < high:
        raise InvalidArgument.expected("a pair (low, high) of finite numbers with low < high", "value_range", value_range)
    return low, high


class Model(abc.ABC):
    """Base of the model adapters. Subclasses implement :meth:`_scores`."""

    kind: ClassVar[str]
    #: what the model does (:mod:`.tasks`): one class vector per input, for every adapter of this module
    task: ClassVar[str] = "classification"

    def __init__(
        self,
        *,
        input_shape: Sequence[int],
        n_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        value_range: tuple[float, float] = (0.0, 1.0),
        output: Output = "probabilities",
        name: str | None = None,
        batch_size: int = 256,
    ) -> None:
        self.input_shape = _check_shape(input_shape)
        self.value_range = _check_range(value_range)
        if class_names is not None:
            if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
                raise InvalidArgument.expected("a sequence of class-name strings", "class_names", class_names)
            class_names = tuple(class_names)
            if len(set(class_names)) != len(class_names):
                raise InvalidArgument.expected("distinct class names", "class_names", class_names)
        if n_classes is None:
            if class_names is None:
                raise InvalidArgument("Expected n_classes or class_names: a model needs its number of classes")
            n_classes = len(class_names)
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise InvalidArgument.expected("an int >= 2", "n_classes", n_classes)
        if class_names is not None and len(class_names) != n_classes:
            raise InvalidArgument(
                f"Expected {n_classes} class names (n_classes={n_classes}) but got {len(class_names)}: {class_names!r}"
            )
        if output not in _OUTPUTS:
            raise InvalidArgument.expected(f"one of {_OUTPUTS}", "output", output)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgument.expected("a positive int", "batch_size", batch_size)
        self.n_classes = int(n_classes)
        self.class_names: tuple[str, ...] = class_names or tuple(str(i) for i in range(self.n_classes))
        self.output: Output = output
        self.name = name or self.kind
        self.batch_size = batch_size

    # -- subclass interface -------------------------------------------------------------------
    @abc.abstractmethod
    def _scores(self, batch: np.ndarray) -> Any:
        """Raw outputs (as declared by ``output``) for one batch in raw input units, as the model
        returned them; :meth:`_to_proba` checks them."""

    # -- public -------------------------------------------------------------------------------
    def predict_proba(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities, shape ``(N, n_classes)``, for ``x`` of shape ``(N, *input_shape)``.

        Raises:
            ContractError: the model returned something other than ``(batch, n_classes)`` float scores.
            NonFiniteOutput: some probabilities are NaN or inf (it names the rows).
        """
        x = self._check_batch(x)
        size = batch_size or self.batch_size
        parts = []
        for start in range(0, len(x), size):
            batch = x[start : start + size]
            parts.append(self._to_proba(self._scores(batch), len(batch)))
        if not parts:
            return np.zeros((0, self.n_classes), np.float32)
        proba = np.concatenate(parts).astype(np.float32, copy=False)
        bad = non_finite_rows(proba)
        if len(bad):
            raise NonFiniteOutput(self.name, bad.tolist(), len(proba))
        return proba

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        """The model's outputs as it returns them (``output``) for one batch of samples of any shape,
        unchecked: the ``contract`` checks send the model images of other sizes than ``input_shape``."""
        return np.asarray(self._scores(np.ascontiguousarray(x, dtype=np.float32)))

    def predict(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Top-1 class indices for ``x``."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    @contextlib.contextmanager
    def running(self, device: str | None = None, mode: str | None = None) -> Iterator[Model]:
        """Context in which checks use the model; adapters with state restore it on exit.

        ``mode`` is one of :meth:`modes` (``None``: the mode the model is served in).
        """
        yield self

    def modes(self) -> tuple[str | None, ...]:
        """The modes the determinism and drift checks run the model in, the one it is served in first:
        ``(None,)``, its only one, unless a :class:`TorchModel` was given with submodules in train mode."""
        return (None,)

    @property
    def active_mode(self) -> str | None:
        """The mode of :meth:`running` now (``None``: the mode the model is served in)."""
        return None

    def describe(self) -> dict[str, Any]:
        """A JSON-safe description for reports."""
        return {
            "name": self.name,
            "kind": self.kind,
            "input_shape": list(self.input_shape),
            "value_range": list(self.value_range),
            "n_classes": self.n_classes,
            "class_names": list(self.class_names),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, input_shape={self.input_shape}, n_classes={self.n_classes})"

    # -- helpers ------------------------------------------------------------------------------
    def _check_batch(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != len(self.input_shape) + 1 or tuple(x.shape[1:]) != self.input_shape:
            raise InvalidArgument(
                f"Expected a batch of shape (N, {', '.join(map(str, self.input_shape))}) for model {self.name!r} "
                f"but got shape {tuple(x.shape)}"
            )
        return x.astype(np.float32, copy=False)

    def _to_proba(self, raw: Any, n: int) -> np.ndarray:
        """One call's raw output for ``n`` samples, checked (:func:`~.output.check_scores`), as probabilities."""
        scores = check_scores(raw, model=self.name, n=n, n_classes=self.n_classes, output=self.output)
        if self.output == "logits":
            return _softmax(scores)
        if self.output == "log_probabilities":
            return np.exp(scores)
        return scores
