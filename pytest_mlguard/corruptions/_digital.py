"""The digital corruptions: contrast, elastic transform, pixelate, JPEG compression and saturate.

Example:
    >>> image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1)
    >>> out = apply_pixelate(image, factor=0.5)
    >>> out.shape, len(np.unique(out)) < len(np.unique(image))
    ((8, 8, 1), True)
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._ops import hsv_adjust, like, smooth_field, to_bytes, unit


def sample_contrast(rng: np.random.Generator, shape: tuple[int, ...], *, factor: float) -> dict[str, Any]:
    return {"factor": factor}


def apply_contrast(image: np.ndarray, *, factor: float) -> np.ndarray:
    if image.dtype != np.float32 or image.ndim != 3 or image.shape[2] != 3 or not image.flags.c_contiguous:
        mean = image.mean(axis=(0, 1), keepdims=True)
        return unit((image - mean) * np.float32(factor) + mean)
    # the same float32 values, channel by channel: numpy broadcasts a (1, 1, 3) mean over an RGB
    # image three values at a time, about ten times slower than this at 224 px
    means = _channel_means(image)
    out = np.empty_like(image)
    for channel, mean in enumerate(means):
        np.subtract(image[..., channel], mean, out=out[..., channel])
    out *= np.float32(factor)
    for channel, mean in enumerate(means):
        np.add(out[..., channel], mean, out=out[..., channel])
    return np.clip(out, 0.0, 1.0, out=out)


def _channel_means(image: np.ndarray) -> np.ndarray:
    """``image.mean(axis=(0, 1))`` of a C-contiguous (H, W, 3) float32 image, the same float32 values:
    numpy sums such an image pixel after pixel into its three channels (a three-long inner loop), as
    ``np.add.accumulate`` down each channel does in a fraction of the time, then divides as ``np.mean``."""
    pixels = image.reshape(-1, 3)
    sums = np.array([np.add.accumulate(pixels[:, channel])[-1] for channel in range(3)], np.float32)
    sums += 0.0  # numpy's sum starts from +0.0: a channel of -0.0 sums to +0.0
    return np.true_divide(sums, np.intp(len(pixels)), out=sums, casting="unsafe")


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

    from ._albumentations import remap, warp_affine

    height, width = image.shape[:2]
    warped = image
    if not np.array_equal(source, target):
        matrix = np.vstack([cv2.getAffineTransform(source, target), [0.0, 0.0, 1.0]])
        warped = warp_affine(image, matrix, cv2.INTER_LINEAR, 0, cv2.BORDER_REFLECT_101, (height, width))
        warped = np.asarray(warped, np.float32).reshape(image.shape)
    columns, rows = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return like(remap(warped, columns + dx, rows + dy, cv2.INTER_LINEAR, cv2.BORDER_REFLECT_101), image)


def sample_pixelate(rng: np.random.Generator, shape: tuple[int, ...], *, factor: float) -> dict[str, Any]:
    return {"factor": factor}


def apply_pixelate(image: np.ndarray, *, factor: float) -> np.ndarray:
    """Downscaled by ``factor`` with Pillow's box filter (each output pixel the mean of the input
    pixels whose centres it covers) and upscaled back to the nearest pixel centre, on 8-bit values:
    ImageNet-C's ``resize(..., BOX)`` then its box or imagecorruptions' nearest upscaling, which agree
    when enlarging. The box filter is Pillow's, byte for byte, computed in numpy (:mod:`._box`, several
    times faster); OpenCV's exact nearest (``INTER_NEAREST_EXACT``, Pillow's rule) enlarges. (OpenCV's
    area filter weighs partial pixels in, 5.7 dB stronger than the reference at 32 px; its plain nearest
    is off by half a pixel.) A uint8 image gives a uint8 result."""
    import cv2

    from ._box import shrink

    height, width, channels = image.shape
    pixels = image if image.dtype == np.uint8 else to_bytes(image)
    small = (max(1, int(width * factor)), max(1, int(height * factor)))
    coarse = shrink(np.ascontiguousarray(pixels if channels == 3 else pixels[..., 0]), small)
    if height * width < 64 * 64:
        return _like_input(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_NEAREST_EXACT), image)
    # larger: OpenCV widens the small rows, numpy repeats whole rows (15-30 microseconds less at 224 px)
    wide = cv2.resize(coarse, (width, small[1]), interpolation=cv2.INTER_NEAREST_EXACT)
    return _like_input(np.take(wide, _nearest_rows(small[1], height), axis=0), image)


@functools.lru_cache(maxsize=256)
def _nearest_rows(rows: int, height: int) -> np.ndarray:
    """The row of ``rows`` that OpenCV's exact nearest takes for each of ``height`` rows (read from it,
    enlarging a column of row numbers)."""
    import cv2

    column = np.arange(rows, dtype=np.float32).reshape(rows, 1)  # exact to 2**24 rows
    return cv2.resize(column, (1, height), interpolation=cv2.INTER_NEAREST_EXACT).reshape(height).astype(np.intp)


def _like_input(pixels: np.ndarray, image: np.ndarray) -> np.ndarray:
    """8-bit ``pixels`` in the shape of ``image``, as uint8 if it is, else as float32 in [0, 1]."""
    pixels = pixels.reshape(image.shape)
    return pixels if image.dtype == np.uint8 else pixels.astype(np.float32) * np.float32(1 / 255.0)


def sample_jpeg_compression(rng: np.random.Generator, shape: tuple[int, ...], *, quality: int) -> dict[str, Any]:
    return {"quality": quality}


def apply_jpeg_compression(image: np.ndarray, *, quality: int) -> np.ndarray:
    """Encoded by libjpeg at ``quality`` and decoded, as ImageNet-C (Pillow): OpenCV's codec
    (libjpeg-turbo) gives Pillow's pixels (the same quality tables, 4:2:0 chroma) for less at every
    size from 32 to 448 px: about a fifth of the time at 32 (Pillow's Python around the codec), two
    thirds at 224. A uint8 image gives a uint8 result."""
    import cv2

    pixels = image if image.dtype == np.uint8 else to_bytes(image)
    colour = image.shape[2] == 3
    pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR) if colour else np.ascontiguousarray(pixels[..., 0])
    _, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    assert decoded is not None  # OpenCV decodes what it has just encoded
    return _like_input(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB) if colour else decoded, image)


def sample_saturate(rng: np.random.Generator, shape: tuple[int, ...], *, factor: float, offset: float) -> dict[str, Any]:
    return {"factor": factor, "offset": offset}


def apply_saturate(image: np.ndarray, *, factor: float, offset: float) -> np.ndarray:
    if image.shape[2] == 1:  # a gray image has no saturation to change
        return image.astype(np.float32, copy=True)
    return hsv_adjust(image, 1, factor, offset)
