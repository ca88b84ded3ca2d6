"""The digital corruptions: contrast, elastic transform, pixelate, JPEG compression and saturate.

Example:
    >>> image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1)
    >>> out = apply_pixelate(image, factor=0.5)
    >>> out.shape, len(np.unique(out)) < len(np.unique(image))
    ((8, 8, 1), True)
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .ops import hsv_adjust, like, smooth_field, unit

__all__ = [
    "apply_contrast",
    "apply_elastic_transform",
    "apply_jpeg_compression",
    "apply_pixelate",
    "apply_saturate",
    "sample_contrast",
    "sample_elastic_transform",
    "sample_jpeg_compression",
    "sample_pixelate",
    "sample_saturate",
]


def sample_contrast(rng: np.random.Generator, shape: tuple[int, ...], *, factor: float) -> dict[str, Any]:
    return {"factor": factor}


def apply_contrast(image: np.ndarray, *, factor: float) -> np.ndarray:
    mean = image.mean(axis=(0, 1), keepdims=True)
    return unit((image - mean) * np.float32(factor) + mean)


def sample_elastic_transform(
    rng: np.random.Generator, shape: tuple[int, ...], *, alpha: float, sigma: float, affine: float
) -> dict[str, Any]:
    height, width = shape[0], shape[1]
    centre = np.array([height // 2, width // 2], dtype=np.float32)
    square = min(height, width) // 3
    source = np.array([centre + square, [centre[0] + square, centre[1] - square], centre - square], dtype=np.float32)
    target = source + rng.uniform(-affine, affine, size=source.shape).astype(np.float32)
    dx = smooth_field(rng, (height, width), sigma) * np.float32(alpha)
    dy = smooth_field(rng, (height, width), sigma) * np.float32(alpha)
    # ImageNet-C's affine points are (row, column) pairs passed to OpenCV as (x, y): kept as published
    return {"source": source, "target": target if square > 0 else source, "dx": dx, "dy": dy}


def apply_elastic_transform(
    image: np.ndarray, *, source: np.ndarray, target: np.ndarray, dx: np.ndarray, dy: np.ndarray
) -> np.ndarray:
    import cv2
    from albumentations.augmentations.geometric import functional as G

    height, width = image.shape[:2]
    warped = image
    if not np.array_equal(source, target):
        matrix = np.vstack([cv2.getAffineTransform(source, target), [0.0, 0.0, 1.0]])
        warped = G.warp_affine(image, matrix, cv2.INTER_LINEAR, 0, cv2.BORDER_REFLECT_101, (height, width))
        warped = np.asarray(warped, np.float32).reshape(image.shape)
    columns, rows = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return like(G.remap(warped, columns + dx, rows + dy, cv2.INTER_LINEAR, cv2.BORDER_REFLECT_101), image)


def sample_pixelate(rng: np.random.Generator, shape: tuple[int, ...], *, factor: float) -> dict[str, Any]:
    return {"factor": factor}


def apply_pixelate(image: np.ndarray, *, factor: float) -> np.ndarray:
    """Downscaled by ``factor`` with a box filter (OpenCV's area), upscaled back to the nearest pixel
    centre (ImageNet-C: Pillow's box and nearest filters; OpenCV's plain nearest is off by half a pixel)."""
    import cv2

    height, width = image.shape[:2]
    small = (max(1, int(width * factor)), max(1, int(height * factor)))
    coarse = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
    return like(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_NEAREST_EXACT), image)


def sample_jpeg_compression(rng: np.random.Generator, shape: tuple[int, ...], *, quality: int) -> dict[str, Any]:
    return {"quality": quality}


def apply_jpeg_compression(image: np.ndarray, *, quality: int) -> np.ndarray:
    """Encoded by Pillow's libjpeg at ``quality`` and decoded, as ImageNet-C."""
    from PIL import Image

    pixels = np.round(image * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if image.shape[2] == 1 else pixels).save(buffer, "JPEG", quality=int(quality))
    buffer.seek(0)
    decoded = np.asarray(Image.open(buffer), dtype=np.float32)
    return (decoded * np.float32(1 / 255.0)).reshape(image.shape)


def sample_saturate(rng: np.random.Generator, shape: tuple[int, ...], *, factor: float, offset: float) -> dict[str, Any]:
    return {"factor": factor, "offset": offset}


def apply_saturate(image: np.ndarray, *, factor: float, offset: float) -> np.ndarray:
    if image.shape[2] == 1:  # a gray image has no saturation to change
        return image.astype(np.float32, copy=True)
    return hsv_adjust(image, 1, factor, offset)
