"""The adapter of an ONNX model run by ONNX Runtime (:class:`OnnxModel`).

ONNX Runtime is imported when the model first predicts (``pip install pytest-mlguard[onnx]``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidArgument, MissingDependency
from ._adapter import Model, Output
from ._normalisation import Normalised

_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependency("onnxruntime", "OnnxModel (pip install pytest-mlguard[onnx])") from None
    return onnxruntime


def _read(model: Any) -> tuple[bytes, str | None]:
    """The model's bytes, and its path where it was given one."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model), None
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise InvalidArgument(f"Expected the path of an .onnx file but got {path!r}, which is not a file")
        with open(path, "rb") as file:
            return file.read(), path
    raise InvalidArgument.expected("the path or bytes of an ONNX model", "model", model)


class OnnxModel(Normalised, Model):
    """An ONNX model, run by ONNX Runtime: the path of an ``.onnx`` file or its bytes.

    Args:
        model: the path of the ``.onnx`` file, or its bytes (``torch.onnx.export`` to a ``BytesIO``).
        input_shape: shape of one sample; ``None`` reads it from the graph's input where its
            dimensions (but the batch's) are fixed.
        n_classes, class_names: as for :class:`~pytest_mlguard.contract.TorchModel`; ``None`` for both
            reads the number of classes from the graph's output where it is fixed.
        value_range, mean, std, output, name, batch_size: as for ``TorchModel``: the graph receives
            ``(x - mean) / std`` of raw inputs, computed here in float32.
        device: ``"cpu"`` (the CPU execution provider) or ``"cuda"``/``"cuda:N"`` (the CUDA one, which
            must be available: ``onnxruntime-gpu``); ``None`` follows ``--mlguard-device``, using CUDA
            where it is asked for and available, else the CPU.
        providers: ONNX Runtime execution providers to use as they are, in place of ``device``.
        input_name: the graph input that receives the batch (``None``: its only input).
        output_name: the graph output that holds the class scores (``None``: its first output).

    A graph whose batch dimension is fixed (exported without a dynamic axis) is sent batches of that
    size, the last one padded. Gradient attacks do not apply (ONNX Runtime computes no gradients: they
    are reported as not applicable, with the reason); black-box attacks and every other check do.

    Example:
        >>> import io, warnings, torch
        >>> buffer = io.BytesIO()
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated
        ...     torch.onnx.export(torch.nn.Linear(4, 3), (torch.zeros(1, 4),), buffer, dynamo=False)
        >>> OnnxModel(buffer.getvalue()).n_classes
        3
    """

    kind = "onnx"
    #: why the gradient attacks do not apply
    no_gradients = "ONNX Runtime computes no gradients"

    def __init__(
        self,
        model: str | os.PathLike[str] | bytes,
        *,
        input_shape: Sequence[int] | None = None,
        n_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        value_range: tuple[float, float] = (0.0, 1.0),
        mean: float | Sequence[float] | None = None,
        std: float | Sequence[float] | None = None,
        device: str | None = None,
        providers: Sequence[str] | None = None,
        output: Output = "logits",
        name: str | None = None,
        batch_size: int = 256,
        input_name: str | None = None,
        output_name: str | None = None,
    ) -> None:
        self.model_bytes, self.path = _read(model)
        #: the model's content hash: the cache's fingerprint of the model (``model_print``)
        self.version = hashlib.sha256(self.model_bytes).hexdigest()
        if device is not None:
            from ..config.parse import DEVICE_EXPECTED, is_device

            if not is_device(device) or not device.startswith(("cpu", "cuda")):
                raise InvalidArgument.expected("'cpu', 'cuda' or 'cuda:N'", "device", device, fix=DEVICE_EXPECTED)
        self.device = device
        self.providers = tuple(providers) if providers is not None else None
        self._sessions: dict[tuple[Any, ...], Any] = {}
        self._active: tuple[Any, ...] | None = None
        session = self._session(self._provider_list(device or "cpu"))
        inputs = session.get_inputs()
        if input_name is None and len(inputs) != 1:
            raise InvalidArgument(f"Expected input_name: the ONNX model has {len(inputs)} inputs {[i.name for i in inputs]}")
        graph_input = next((i for i in inputs if i.name == (input_name or inputs[0].name)), None)
        if graph_input is None:
            raise InvalidArgument.expected(f"one of the model's inputs {[i.name for i in inputs]}", "input_name", input_name)
        outputs = [o.name for o in session.get_outputs()]
        if output_name is not None and output_name not in outputs:
            raise InvalidArgument.expected(f"one of the model's outputs {outputs}", "output_name", output_name)
        self.input_name, self.output_name = graph_input.name, output_name or outputs[0]
        dims = list(graph_input.shape)
        self.fixed_batch = dims[0] if dims and isinstance(dims[0], int) and dims[0] > 0 else None
        input_shape = input_shape if input_shape is not None else self._graph_dims(dims[1:], "input_shape", "the graph's input")
        if n_classes is None and class_names is None:
            scores = next(o for o in session.get_outputs() if o.name == self.output_name)
            n_classes = self._graph_dims(list(scores.shape)[-1:], "n_classes", "the graph's output")[0]
        super().__init__(input_shape=input_shape, n_classes=n_classes, class_names=class_names, value_range=value_range, output=output, name=name, batch_size=batch_size)
        self.mean = self._check_norm(mean, "mean", positive=False)
        self.std = self._check_norm(std, "std", positive=True)

    @staticmethod
    def _graph_dims(dims: list[Any], name: str, where: str) -> tuple[int, ...]:
        if not dims or not all(isinstance(d, int) and d > 0 for d in dims):
            raise InvalidArgument(f"Expected {name}: {where} has dimensions {dims} (not all fixed), so give {name}=...")
        return tuple(dims)

    def _provider_list(self, device: str) -> tuple[Any, ...]:
        """The providers of a session on ``device``: CUDA where asked for (and available, unless only
        ``--mlguard-device`` asked: then the CPU), else the CPU."""
        if self.providers is not None:
            return self.providers
        if not device.startswith("cuda"):
            return (_CPU,)
        available = _onnxruntime().get_available_providers()
        if _CUDA not in available:
            if self.device is not None:
                raise InvalidArgument(
                    f"Expected ONNX Runtime's {_CUDA} for device={self.device!r} but "
                    f"this onnxruntime has {available}: install onnxruntime-gpu, or declare device='cpu'"
                )
            return (_CPU,)
        index = int(device.partition(":")[2] or 0)
        return ((_CUDA, {"device_id": index}), _CPU)

    def _session(self, providers: tuple[Any, ...]) -> Any:
        key = tuple(p if isinstance(p, str) else (p[0], tuple(sorted(p[1].items()))) for p in providers)
        if key not in self._sessions:
            ort = _onnxruntime()
            options = ort.SessionOptions()
            options.log_severity_level = 3  # errors only
            self._sessions[key] = ort.InferenceSession(self.model_bytes, sess_options=options, providers=list(providers))
        return self._sessions[key]

    @contextlib.contextmanager
    def running(self, device: str | None = None, mode: str | None = None) -> Iterator[OnnxModel]:
        """The model on the execution providers of ``device`` (its own ``device`` first); nothing else to restore."""
        if self._active is not None:  # re-entrant
            yield self
            return
        self._active = self._provider_list(self.device or device or "cpu")
        try:
            yield self
        finally:
            self._active = None

    @property
    def active_providers(self) -> list[str]:
        """The execution providers of the session that predicts now (outside :meth:`running`: the model's own device)."""
        return list(self._session(self._active or self._provider_list(self.device or "cpu")).get_providers())

    def _scores(self, batch: np.ndarray) -> Any:
        session = self._session(self._active or self._provider_list(self.device or "cpu"))
        x = self.normalize_array(batch)
        size = self.fixed_batch
        if size is None or len(x) == size:
            return session.run([self.output_name], {self.input_name: x})[0]
        parts = []
        for start in range(0, len(x), size):
            chunk = x[start : start + size]
            padded = np.concatenate([chunk, np.repeat(chunk[-1:], size - len(chunk), axis=0)]) if len(chunk) < size else chunk
            parts.append(session.run([self.output_name], {self.input_name: padded})[0][: len(chunk)])
        return np.concatenate(parts) if parts else np.zeros((0, self.n_classes), np.float32)

    def __getstate__(self) -> dict[str, Any]:
        """Sessions are not pickled (the resources checks send the model to another process): made again there."""
        return {**self.__dict__, "_sessions": {}, "_active": None}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            **self.normalisation(),
            "device": self.device,
            "file": self.path,
            "sha256": self.version,
            "input_name": self.input_name,
            "output_name": self.output_name,
        }
