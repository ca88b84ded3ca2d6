"""The adapters of an object detection model, in torchvision's convention: a list of images ``(C, H, W)``
in raw input units in, one dict ``{"boxes": (M, 4) as (x1, y1, x2, y2) in pixels, "labels": (M,),
"scores": (M,)}`` per image out.

* :class:`TorchDetectionModel` wraps a torchvision detection model (``fasterrcnn_*``, ``retinanet_*``,
  ``ssd*``, ``fcos_*``) or any ``torch.nn.Module`` that follows the convention;
* :class:`CallableDetectionModel` wraps any callable ``images -> detections``.

:meth:`DetectionModel.predict` checks every output (:func:`check_detections`): a malformed one is a
:class:`~pytest_mlguard.errors.ContractError` that names the image and what is wrong.

Example:
    >>> fn = lambda images: [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int), "scores": np.zeros(0)} for _ in images]
    >>> model = CallableDetectionModel(fn, n_classes=3, name="det")
    >>> model.predict([np.zeros((3, 8, 8), np.float32)])[0]["boxes"].shape
    (0, 4)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import ContractError, InvalidArgument
from ._adapter import _check_range
from ._output import _to_numpy, describe_output
from ._tasks import check_target


def check_detections(raw: Any, *, model: str, n: int) -> list[dict[str, np.ndarray]]:
    """``raw``, one call's output for ``n`` images, as one dict of numpy arrays per image.

    Raises:
        ContractError: not a list of ``n`` dicts with ``boxes`` ``(M, 4)``, ``labels`` and ``scores`` ``(M,)``.
    """
    who = f"detection model {model!r} returned"
    expected = f"a list of {n} dicts {{'boxes': (M, 4), 'labels': (M,), 'scores': (M,)}}, one per image"
    if not isinstance(raw, (list, tuple)) or len(raw) != n:
        raise ContractError(f"{who} {describe_output(raw)} for {n} images: expected {expected}")
    # tensors to numpy, a floating one (bfloat16, float16) as float32 first: numpy has no bfloat16
    raw = [{key: _to_numpy(value) for key, value in item.items()} if isinstance(item, dict) else item for item in raw]
    try:
        return [check_target(item, index, scores=True) for index, item in enumerate(raw)]
    except InvalidArgument as exc:
        raise ContractError(f"{who} a malformed detection: {exc}") from None


class DetectionModel:
    """Base of the detection adapters; subclasses implement :meth:`_detect` over a list of images.

    Args:
        n_classes: the number of labels the model gives (torchvision's: the background ``0`` counted).
        class_names: names of the labels, in order.
        value_range: range of the raw inputs (torchvision's detectors take ``(0, 1)``).
        name: name in node ids and reports.
        batch_size: images per call.
    """

    task: ClassVar[str] = "detection"
    kind: ClassVar[str]

    def __init__(
        self,
        *,
        n_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        value_range: tuple[float, float] = (0.0, 1.0),
        name: str | None = None,
        batch_size: int = 8,
    ) -> None:
        if n_classes is None and class_names is None:
            raise InvalidArgument("Expected n_classes or class_names: a detection model needs its number of labels")
        n_classes = len(class_names) if n_classes is None and class_names is not None else n_classes
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
            raise InvalidArgument.expected("an int >= 1", "n_classes", n_classes)
        if class_names is not None and len(class_names) != n_classes:
            raise InvalidArgument(f"Expected {n_classes} class names (n_classes={n_classes}) but got {len(class_names)}: {class_names!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgument.expected("a positive int", "batch_size", batch_size)
        self.n_classes = int(n_classes)
        self.class_names: tuple[str, ...] = tuple(class_names) if class_names is not None else tuple(str(i) for i in range(self.n_classes))
        self.value_range = _check_range(value_range)
        self.name = name or self.kind
        self.batch_size = batch_size

    def _detect(self, images: list[np.ndarray]) -> Any:
        raise NotImplementedError

    def predict(self, images: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """One checked dict of boxes, labels and scores per image (batches of :attr:`batch_size`)."""
        found: list[dict[str, np.ndarray]] = []
        images = [np.ascontiguousarray(image, dtype=np.float32) for image in images]
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            found += check_detections(self._detect(batch), model=self.name, n=len(batch))
        return found

    @contextlib.contextmanager
    def running(self, device: str | None = None, mode: str | None = None) -> Iterator[DetectionModel]:
        yield self

    def modes(self) -> tuple[str | None, ...]:
        return (None,)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "task": self.task, "value_range": list(self.value_range), "n_classes": self.n_classes, "class_names": list(self.class_names)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, n_classes={self.n_classes})"


class CallableDetectionModel(DetectionModel):
    """Any callable ``images -> detections`` (a list of float32 ``(C, H, W)`` arrays in, a list of dicts out)."""

    kind = "callable"

    def __init__(self, fn: Callable[[list[np.ndarray]], Any], **spec: Any) -> None:
        if not callable(fn):
            raise InvalidArgument.expected("a callable images -> detections", "fn", fn)
        super().__init__(**spec)
        self.fn = fn

    def _detect(self, images: list[np.ndarray]) -> Any:
        return self.fn(images)


class TorchDetectionModel(DetectionModel):
    """A torchvision-style detection ``torch.nn.Module``, run in eval mode on ``device`` (``None``:
    ``--mlguard-device``); it normalises its inputs itself, as torchvision's detectors do."""

    kind = "torch"

    def __init__(self, module: Any, *, device: str | None = None, **spec: Any) -> None:
        import torch

        if not isinstance(module, torch.nn.Module):
            raise InvalidArgument.expected("a torch.nn.Module", "module", module)
        super().__init__(**spec)
        self.module = module
        #: the submodules in train mode as declared (``running`` puts them in eval mode): contract[eval-mode] reads them
        self.train_mode: tuple[str, ...] = tuple(name for name, m in module.named_modules() if m.training)
        self.device = device
        self._active_device: str | None = None

    @contextlib.contextmanager
    def running(self, device: str | None = None, mode: str | None = None) -> Iterator[TorchDetectionModel]:
        """The module in eval mode on the device; its modes and device restored on exit."""
        if self._active_device is not None:
            yield self
            return
        modes = [(m, m.training) for m in self.module.modules()]
        target = self.device or device or "cpu"
        params = list(self.module.parameters())
        original = params[0].device if params else None
        try:
            self.module.eval()
            if original is not None and str(original) != target:
                self.module.to(target)
            self._active_device = target
            yield self
        finally:
            self._active_device = None
            if original is not None and str(original) != target:
                self.module.to(original)
            for m, training in modes:
                m.training = training

    def _detect(self, images: list[np.ndarray]) -> Any:
        import torch

        with self.running(), torch.inference_mode():
            device = self._active_device or "cpu"
            return self.module([torch.from_numpy(image).to(device) for image in images])  # check_detections converts the tensors
