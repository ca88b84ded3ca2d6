"""The adapters of a semantic segmentation model: images ``(N, C, H, W)`` in, per-pixel class scores
``(N, n_classes, H, W)`` out.

* :class:`TorchSegmentationModel` wraps a ``torch.nn.Module``; a torchvision segmentation model
  (``fcn_resnet50``, ``deeplabv3_*``, ``lraspp_*``), which returns ``{"out": scores, "aux": ...}``, is read
  through its ``"out"`` (``output_key``);
* :class:`CallableSegmentationModel` wraps any callable ``images -> scores``.

Both are :class:`~pytest_mlguard.contract.Model` s whose ``task`` is ``"segmentation"``:
:meth:`predict_proba` gives per-pixel probabilities ``(N, n_classes, H, W)`` and :meth:`predict` the
masks ``(N, H, W)``. A malformed output (a class vector per image, another spatial size than the
input's) is a :class:`~pytest_mlguard.errors.ContractError` at the first call.

Example:
    >>> import torch
    >>> net = torch.nn.Conv2d(3, 4, 1)
    >>> model = TorchSegmentationModel(net, input_shape=(3, 8, 8), n_classes=4, name="seg")
    >>> model.predict_proba(np.zeros((2, 3, 8, 8), np.float32)).shape
    (2, 4, 8, 8)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import ContractError, InvalidArgument
from ._adapter import Output
from ._model import CallableModel
from ._output import _to_numpy, describe_output
from ._torch_model import TorchModel


def check_pixel_scores(raw: Any, *, model: str, n: int, n_classes: int, size: tuple[int, int], output: str) -> np.ndarray:
    """``raw``, one call's output for ``n`` images of ``size`` ``(H, W)``, as float64 scores ``(n, n_classes, H, W)``.

    Raises:
        ContractError: ``raw`` is not one array of floating-point scores of that shape.

    Example:
        >>> check_pixel_scores(np.zeros((1, 2, 4, 4)), model="api", n=1, n_classes=2, size=(4, 4), output="logits").shape
        (1, 2, 4, 4)
    """
    expected = f"({n}, {n_classes}, {size[0]}, {size[1]})"
    who = f"segmentation model {model!r} returned"
    if isinstance(raw, dict):
        fix = "; a torchvision segmentation model returns {'out': ...}: declare output_key='out'" if "out" in raw else ""
        raise ContractError(f"{who} {describe_output(raw)} for a batch of {n} images: expected an array of shape {expected} of {output}{fix}")
    scores = np.asarray(_to_numpy(raw)) if raw is not None and not isinstance(raw, (list, tuple, str, bytes)) else None
    if scores is None:
        raise ContractError(f"{who} {describe_output(raw)} for a batch of {n} images: expected an array of shape {expected} of {output}")
    if not np.issubdtype(scores.dtype, np.floating):
        hint = " (per-pixel class scores, not the predicted masks)" if np.issubdtype(scores.dtype, np.integer) or scores.dtype == bool else ""
        raise ContractError(f"{who} outputs of dtype {scores.dtype}: expected floating-point {output}{hint}, an array of shape {expected}")
    if scores.shape != (n, n_classes, *size):
        hint = ""
        if scores.shape == (n, n_classes):
            hint = ": one class vector per image is a classifier's output; declare it with TorchModel or CallableModel"
        elif scores.ndim == 4 and scores.shape[:2] == (n, n_classes):
            hint = f": scores at another resolution than the input's; upsample them to {size} (torch.nn.functional.interpolate) in the model"
        elif scores.ndim == 4 and scores.shape[-1] == n_classes:
            hint = ": channels last? return scores.permute(0, 3, 1, 2)"
        raise ContractError(f"{who} outputs of shape {scores.shape} for a batch of {n} images: expected {expected} (images, classes, height, width){hint}")
    return scores.astype(np.float64, copy=False)


class _PerPixel:
    """What the segmentation adapters share: per-pixel scores, checked, as probabilities over axis 1."""

    task: ClassVar[str] = "segmentation"
    input_shape: tuple[int, ...]
    name: str
    n_classes: int
    output: Output

    def _check_image_shape(self) -> None:
        if len(self.input_shape) != 3:
            raise InvalidArgument.expected("the shape (C, H, W) of one image", "input_shape", self.input_shape)

    def _to_proba(self, raw: Any, n: int) -> np.ndarray:
        scores = check_pixel_scores(raw, model=self.name, n=n, n_classes=self.n_classes, size=self.input_shape[1:], output=self.output)  # type: ignore[arg-type]
        if self.output == "logits":
            shifted = scores - scores.max(axis=1, keepdims=True)
            exp = np.exp(shifted)
            return exp / exp.sum(axis=1, keepdims=True)
        if self.output == "log_probabilities":
            return np.exp(scores)
        return scores

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "task": self.task}  # type: ignore[misc]


class TorchSegmentationModel(_PerPixel, TorchModel):
    """A ``torch.nn.Module`` that segments images: ``(N, C, H, W)`` in, ``(N, n_classes, H, W)`` scores out.

    Takes :class:`~pytest_mlguard.contract.TorchModel`'s arguments (``input_shape`` is one image's
    ``(C, H, W)``; ``mean``/``std`` are applied by mlguard), and ``output_key``: the entry of a dict
    output that holds the scores (``"out"`` for torchvision's segmentation models; ``None``: the module
    returns the scores themselves).
    """

    kind = "torch"

    def __init__(self, module: Any, *, output_key: str | None = None, **spec: Any) -> None:
        if output_key is None and type(module).__module__.startswith("torchvision.models.segmentation"):
            output_key = "out"
        super().__init__(module, **spec)
        self._check_image_shape()
        self.output_key = output_key

    def _scores(self, batch: np.ndarray) -> Any:
        import torch

        with self.running(), torch.inference_mode():
            tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(self.active_device)
            out = self.module(self.normalize(tensor))
            if self.output_key is not None and isinstance(out, dict) and self.output_key in out:
                out = out[self.output_key]
            if isinstance(out, torch.Tensor) and out.is_floating_point():
                return out.float().cpu().numpy()
            return out

    def raw_module(self) -> Any:
        """A module over raw inputs that returns the scores alone (the ``output_key`` entry of a dict)."""
        import torch

        outer, inner = self, super().raw_module()

        class RawScores(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                out = self.inner(x)
                return out[outer.output_key] if outer.output_key is not None and isinstance(out, dict) else out

        return RawScores()


class CallableSegmentationModel(_PerPixel, CallableModel):
    """Any callable ``images -> scores`` that segments: a float32 batch ``(N, C, H, W)`` in raw input
    units in, ``(N, n_classes, H, W)`` scores out (``output``: probabilities by default). Takes
    :class:`~pytest_mlguard.contract.CallableModel`'s arguments; gradient attacks do not apply."""

    def __init__(self, fn: Any, **spec: Any) -> None:
        super().__init__(fn, **spec)
        self._check_image_shape()
