"""The ``corruption`` check's measurement: accuracy on the corrupted evaluation data."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..checks.base import CheckSpec, Measurement
from ..errors import CheckError
from . import functional as F
from .registry import get

if TYPE_CHECKING:
    from ..checks.evaluation import Evaluation

__all__ = ["corrupt_batch", "run_check"]


def corrupt_batch(images: np.ndarray, name: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Corrupt a batch of HWC images in [0, 1], one parameter draw per image.

    Example:
        >>> out = corrupt_batch(np.zeros((2, 8, 8, 1), np.float32), "gaussian_noise", 3, np.random.default_rng(0))
        >>> out.shape, out.dtype
        ((2, 8, 8, 1), dtype('float32'))
    """
    corruption = get(name)
    return np.stack([corruption(image, severity, rng) for image in images])


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    model, data = evaluation.model, evaluation.data
    if F.image_layout(model.input_shape) is None:
        raise CheckError(
            f"corruptions apply to images, shape (C, H, W) or (H, W); model {model.name!r} takes {model.input_shape}: "
            "disable them with [tool.mlguard.corruption] enabled = false"
        )
    name, severity = spec.param("corruption"), spec.param("severity")
    rng = evaluation.rng(spec)
    correct = np.zeros(data.n, dtype=bool)
    for batch in evaluation.batches(model.batch_size):
        images = F.to_unit_hwc(data.x[batch], model.value_range)
        corrupted = F.from_unit_hwc(corrupt_batch(images, name, severity, rng), model.value_range, model.input_shape)
        correct[batch] = model.predict(corrupted) == data.y[batch]
    return Measurement(
        value=float(correct.mean()),
        n=data.n,
        clean=evaluation.clean_accuracy(),
        details={"corruption": name, "severity": severity, "clean_accuracy": evaluation.clean_accuracy()},
    )
