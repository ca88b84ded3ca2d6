"""Corruptions as plain functions over HWC float32 images in [0, 1], plus layout conversions.

``sample_*`` functions draw every random number a corruption needs; ``apply_*`` functions are
deterministic given those parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "apply_additive_noise",
    "from_unit_hwc",
    "image_layout",
    "sample_gaussian_noise",
    "to_unit_hwc",
]


def sample_gaussian_noise(rng: np.random.Generator, shape: tuple[int, ...], *, sigma: float) -> dict[str, Any]:
    return {"noise": rng.normal(0.0, sigma, size=shape).astype(np.float32)}


def apply_additive_noise(image: np.ndarray, *, noise: np.ndarray) -> np.ndarray:
    from albumentations.augmentations.pixel import functional as AF

    return np.clip(AF.add_noise(image, noise), 0.0, 1.0).astype(np.float32)


def image_layout(sample_shape: tuple[int, ...]) -> str | None:
    """``"CHW"`` for (C, H, W) with C in 1, 3, 4; ``"HW"`` for gray (H, W); ``None`` if not an image."""
    if len(sample_shape) == 3 and sample_shape[0] in (1, 3, 4):
        return "CHW"
    if len(sample_shape) == 2:
        return "HW"
    return None


def to_unit_hwc(x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """A batch in raw model units, (N, C, H, W) or (N, H, W), to HWC float32 images in [0, 1]."""
    low, high = value_range
    unit = (np.asarray(x, dtype=np.float32) - low) / (high - low)
    if unit.ndim == 3:
        unit = unit[..., None]
    else:
        unit = unit.transpose(0, 2, 3, 1)
    return np.clip(unit, 0.0, 1.0)


def from_unit_hwc(images: np.ndarray, value_range: tuple[float, float], sample_shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`to_unit_hwc`."""
    low, high = value_range
    x = images.astype(np.float32) * (high - low) + low
    if len(sample_shape) == 2:
        return x[..., 0]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
