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

import abc
import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from ..errors import InvalidArgument, NonFiniteOutput
from .output import check_scores, non_finite_rows

if TYPE_CHECKING:
    import torch

    from .data import EvalData

__all__ = ["CallableModel", "Model", "SklearnModel", "TorchModel", "as_model"]

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


class TorchModel(Model):
    """A ``torch.nn.Module`` with its input spec.

    Args:
        module: the network; it receives *normalised* inputs ``(x - mean) / std``.
        input_shape: shape of one sample, channels first for images, such as ``(3, 224, 224)``.
        n_classes: number of classes (or give ``class_names``).
        class_names: names of the classes, in output order.
        value_range: range of raw inputs, such as ``(0, 1)`` or ``(0, 255)``; attacks clip to it and
            their epsilons are in these units.
        mean, std: per-channel normalisation applied before ``module`` (``None``: none).
        device: torch device to run on; ``None`` uses ``--mlguard-device`` (default ``cpu``).
        output: what the module returns: ``"logits"`` (default), ``"probabilities"`` or
            ``"log_probabilities"``.
        name: name in node ids and reports.
        batch_size: batch size for inference.
        mode: the mode the service runs the module in. ``"eval"`` (default): every submodule in eval
            mode; the checks put it there, and a submodule given in train mode that computes
            something else there (batch norm, dropout) is a mistake: a warning at declaration, and
            ``contract[eval-mode]`` fails naming it. ``"as-given"``: each submodule in the mode it has
            here, on purpose (dropout at inference, batch statistics at inference); every check runs
            it so. Either way the determinism and drift checks run the module in both modes where
            they differ.

    The train/eval mode of every submodule is recorded here, at declaration: :attr:`train_mode`
    names the submodules in train mode, :attr:`train_mode_layers` those of torch's layers among them
    that compute something else there.

    Example:
        >>> import torch
        >>> TorchModel(torch.nn.Linear(4, 3), input_shape=(4,), n_classes=3).n_classes
        3
    """

    kind = "torch"

    def __init__(
        self,
        module: torch.nn.Module,
        *,
        input_shape: Sequence[int],
        n_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        value_range: tuple[float, float] = (0.0, 1.0),
        mean: float | Sequence[float] | None = None,
        std: float | Sequence[float] | None = None,
        device: str | None = None,
        output: Output = "logits",
        name: str | None = None,
        batch_size: int = 256,
        mode: Mode = "eval",
    ) -> None:
        import torch

        if not isinstance(module, torch.nn.Module):
            raise InvalidArgument.expected("a torch.nn.Module", "module", module)
        if mode not in _MODES:
            raise InvalidArgument.expected("'eval' or 'as-given'", "mode", mode)
        super().__init__(
            input_shape=input_shape,
            n_classes=n_classes,
            class_names=class_names,
            value_range=value_range,
            output=output,
            name=name,
            batch_size=batch_size,
        )
        self.module = module
        self.mean = self._check_norm(mean, "mean", positive=False)
        self.std = self._check_norm(std, "std", positive=True)
        if device is not None:
            from ..config.parse import DEVICE_EXPECTED, is_device

            if not is_device(device):
                raise InvalidArgument.expected(DEVICE_EXPECTED, "device", device)
        self.device = device
        self._active_device: str | None = None
        self._record_modes(mode)

    def _record_modes(self, mode: Mode) -> None:
        """Record the train/eval mode of every submodule as given, and warn of layers in train mode."""
        from .modes import computes_otherwise_in_train_mode, defined_outside_torch, name_modules

        self.mode: Mode = mode
        self.given_modes: dict[str, bool] = {name: m.training for name, m in self.module.named_modules()}
        submodules = dict(self.module.named_modules())
        #: names of the submodules in train mode at declaration (``""``: the module itself)
        self.train_mode: tuple[str, ...] = tuple(name for name, training in self.given_modes.items() if training)
        #: those of torch's layers among them that compute something else in train mode
        self.train_mode_layers: tuple[str, ...] = tuple(n for n in self.train_mode if computes_otherwise_in_train_mode(submodules[n]))
        #: those defined outside torch, whose own code may read ``self.training``
        self.train_mode_own: tuple[str, ...] = tuple(n for n in self.train_mode if defined_outside_torch(submodules[n]))
        self._active_mode: str | None = None
        if self.train_mode_layers and mode == "eval":
            import warnings

            layers = name_modules(self.train_mode_layers, self.module)
            verb = "is" if len(self.train_mode_layers) == 1 else "are"
            warnings.warn(
                f"model {self.name!r}: {layers} {verb} in train mode, where {'it computes' if verb == 'is' else 'they compute'} "
                "something else than in eval mode (batch statistics, dropout); the checks put the module in eval mode, "
                "the service runs it as it is: call .eval() on the module before serving and declaring it, or declare "
                "TorchModel(..., mode='as-given') if the service runs it so on purpose. Until then contract[eval-mode] "
                "fails, and the determinism and drift checks run it in both modes",
                UserWarning,
                stacklevel=3,
            )

    def modes(self) -> tuple[str | None, ...]:
        """``("eval", "given")`` (the mode served in first) where submodules given in train mode may
        compute something else there, else ``(None,)``."""
        if not (self.train_mode_layers or self.train_mode_own):
            return (None,)
        return ("given", "eval") if self.mode == "as-given" else ("eval", "given")

    @property
    def active_mode(self) -> str | None:
        return self._active_mode

    @staticmethod
    def _check_norm(value: Any, name: str, *, positive: bool) -> tuple[float, ...] | None:
        """Numbers, finite (and positive for ``std``); their count is checked against the channels of
        ``input_shape`` by :meth:`check_normalisation`, after the input shape itself."""
        if value is None:
            return None
        values = (value,) if np.isscalar(value) else tuple(value)
        try:
            floats = tuple(float(v) for v in values)
        except (TypeError, ValueError):
            raise InvalidArgument.expected("a number or one number per channel", name, value) from None
        if not floats or not np.isfinite(floats).all() or (positive and min(floats) <= 0):
            what = f"a {'positive ' if positive else ''}number or one {'positive ' if positive else ''}number per channel"
            raise InvalidArgument.expected(what, name, value)
        return floats

    @property
    def channels(self) -> int:
        """Channels of one sample: the first dimension of an image's ``input_shape``, else 1."""
        return self.input_shape[0] if len(self.input_shape) >= 3 else 1

    def check_normalisation(self) -> None:
        """``mean`` and ``std`` hold one number, or one per channel of ``input_shape``.

        Checked when the model first normalises a batch, and by the suite after it has checked the
        input shape against the data: a wrong ``input_shape`` is named as such, not as a wrong ``mean``.
        """
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values is not None and len(values) not in (1, self.channels):
                raise InvalidArgument(
                    f"Expected 1 or {self.channels} per-channel numbers (input_shape={self.input_shape} has "
                    f"{self.channels} channel{'s' if self.channels != 1 else ''}) but got {name}={values!r}"
                )

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` with the model's normalisation (identity if none)."""
        self.check_normalisation()

        def per_channel(values: tuple[float, ...]) -> torch.Tensor:
            tensor = x.new_tensor(values)
            return tensor.reshape((1, -1) + (1,) * (x.dim() - 2)) if len(values) > 1 else tensor

        if self.mean is not None:
            x = x - per_channel(self.mean)
        if self.std is not None:
            x = x / per_channel(self.std)
        return x

    def raw_module(self) -> torch.nn.Module:
        """A module over raw inputs: normalisation, then the network (sharing its parameters)."""
        import torch

        outer = self

        class RawInput(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = outer.module

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.net(outer.normalize(x))

        return RawInput()

    @property
    def active_device(self) -> str:
        return self._active_device or self.device or "cpu"

    @contextlib.contextmanager
    def running(self, device: str | None = None, mode: str | None = None) -> Iterator[TorchModel]:
        """The module in ``mode`` on ``device``; on exit the module is exactly as it was.

        ``mode``: ``"eval"`` (every submodule in eval mode), ``"given"`` (each in its mode at
        declaration) or ``None``, the mode it is served in (``"eval"``, or ``"given"`` for
        ``mode="as-given"``); inside another :meth:`running`, ``None`` keeps the mode of that one.
        Restores each submodule's train/eval mode, each parameter's ``requires_grad`` and
        ``.grad``, the device of the parameters, and the buffers a run in train mode overwrote.
        """
        if self._active_device is not None:  # re-entrant
            if mode is None or mode == self._active_mode:
                yield self
            else:
                with self._in_mode(mode):
                    yield self
            return
        module = self.module
        target = self.device or device or "cpu"
        modes = [(m, m.training) for m in module.modules()]
        params = list(module.parameters())
        grads = [(p, p.requires_grad, p.grad) for p in params]
        original = params[0].device if params else None
        try:
            with self._in_mode(mode or ("given" if self.mode == "as-given" else "eval")):
                if original is not None and str(original) != target:
                    module.to(target)
                self._active_device = target
                yield self
        finally:
            self._active_device = None
            if original is not None and str(next(iter(module.parameters())).device) != str(original):
                module.to(original)
            for m, training in modes:
                m.training = training
            for p, requires_grad, grad in grads:
                p.requires_grad_(requires_grad)
                p.grad = grad

    @contextlib.contextmanager
    def _in_mode(self, mode: str) -> Iterator[None]:
        """Submodules in ``mode`` (``"eval"`` or ``"given"``), and back to the mode before on exit;
        buffers that a run in train mode overwrites are restored."""
        from .modes import kept_buffers, set_modes

        if mode not in ("eval", "given"):
            raise ValueError(f"expected mode 'eval' or 'given' but got mode={mode!r}")
        before = self._active_mode
        keep = kept_buffers(self.module) if mode == "given" and self.train_mode else contextlib.nullcontext()
        with keep:
            set_modes(self.module, self.given_modes if mode == "given" else None)
            self._active_mode = mode
            try:
                yield
            finally:
                self._active_mode = before
                if before is not None:
                    set_modes(self.module, self.given_modes if before == "given" else None)

    def _scores(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with self.running(), torch.inference_mode():
            tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(self.active_device)
            out = self.module(self.normalize(tensor))
            if isinstance(out, torch.Tensor) and out.is_floating_point():
                return out.float().cpu().numpy()
            return out  # anything else: check_scores names it

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "mean": list(self.mean) if self.mean else None,
            "std": list(self.std) if self.std else None,
            "device": self.device,
            "parameters": int(sum(p.numel() for p in self.module.parameters())),
            "mode": self.mode,
            "train_mode": sorted(self.train_mode),
        }


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
        classes = getattr(estimator, "classes_", None)
        if classes is None:
            raise InvalidArgument(f"Expected a fitted estimator (with classes_) but got {estimator!r}: fit it first")
        if list(classes) != list(range(len(classes))):
            raise InvalidArgument(
                f"Expected estimator.classes_ == [0, 1, ..., K-1] but got {list(classes)!r}: "
                "encode the labels as 0..K-1 (sklearn.preprocessing.LabelEncoder) and pass class_names"
            )
        if input_shape is None:
            n_features = getattr(estimator, "n_features_in_", None)
            if n_features is None:
                raise InvalidArgument("Expected input_shape, or an estimator with n_features_in_")
            input_shape = (int(n_features),)
        super().__init__(
            input_shape=input_shape,
            n_classes=len(classes),
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
    if isinstance(obj, Model):
        return obj
    expected = (
        "a pytest_mlguard.TorchModel, CallableModel or SklearnModel, a torch.nn.Module, "
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
