"""Building blocks the corruptions share: clipping, Gaussian blurs, smooth random fields, zooms,
HSV adjustments and ImageNet-C's plasma fractal, over HWC (or 2-D) float32 arrays in [0, 1].

Example:
    >>> layer = np.eye(8, dtype=np.float32)
    >>> zoom(layer, 1.5).shape, bool((zoom(layer, 1.01) != layer).any())
    ((8, 8), True)
"""

from __future__ import annotations

import math

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def unit(image: np.ndarray) -> np.ndarray:
    """``image`` clipped to [0, 1], as a new float32 array."""
    return np.clip(image, 0.0, 1.0, out=np.empty_like(image, dtype=np.float32))


def to_bytes(image: np.ndarray) -> np.ndarray:
    """Values in [0, 1] as uint8 0..255, rounded to nearest (ties to even, as ``np.round``), of the
    same shape; OpenCV's saturating conversion, several times faster than ``np.round``."""
    import cv2

    return cv2.convertScaleAbs(np.ascontiguousarray(image, dtype=np.float32), alpha=255.0).reshape(image.shape)


def like(result: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``result`` reshaped to ``image``'s shape (OpenCV drops a single channel) as float32 in [0, 1]."""
    return unit(np.asarray(result, dtype=np.float32).reshape(image.shape))


def colour(layer: np.ndarray, channels: int) -> np.ndarray:
    """An RGB layer ``(H, W, 3)`` as ``channels`` channels (gray: its luminance)."""
    return layer if channels == 3 else (layer @ LUMA)[..., None]


def gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (kernel truncated at 4 sigma, reflected borders), any sigma >= 0."""
    import cv2

    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REFLECT_101)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Uniform(-1, 1) noise blurred by a Gaussian of ``sigma`` pixels (reflected borders).

    For wide kernels the noise is drawn on a grid ``f = sigma / 4`` times coarser, with its variance
    divided by ``f**2`` (the variance of an ``f x f`` block mean), blurred by ``sigma / f`` and
    resized back: the same second-order statistics at a cost that does not grow with sigma.
    """
    import cv2

    height, width = shape
    factor = max(1.0, sigma / 4.0)
    coarse = (max(1, math.ceil(height / factor)), max(1, math.ceil(width / factor)))
    noise = rng.uniform(-1.0, 1.0, size=coarse).astype(np.float32) / np.float32(factor)
    field = gaussian(noise, sigma / factor)
    if coarse != (height, width):
        field = cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)
    return field.reshape(height, width)


def zoom(layer: np.ndarray, factor: float) -> np.ndarray:
    """``layer`` (2-D or HWC) magnified by ``factor`` about its centre, bilinear, to its own size.

    ImageNet-C crops the central ``ceil(side / factor)`` pixels and resizes them, so a zoom that does
    not shorten the crop by a whole pixel (1.05 on an 8-pixel image) changes nothing; the affine zoom
    here is exact at any size.
    """
    import cv2

    height, width = layer.shape[:2]
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    matrix = np.array([[factor, 0.0, cx * (1 - factor)], [0.0, factor, cy * (1 - factor)]], np.float64)
    out = cv2.warpAffine(layer, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(layer.shape)


def hsv_adjust(image: np.ndarray, channel: int, factor: float, offset: float) -> np.ndarray:
    """``channel`` (1: saturation, 2: value) of an RGB image in HSV, times factor plus offset."""
    import cv2

    hsv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV)
    hsv[..., channel] = np.clip(hsv[..., channel] * factor + offset, 0.0, 1.0)
    return like(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), image)


def plasma_fractal(rng: np.random.Generator, shape: tuple[int, int], decay: float) -> np.ndarray:
    """A diamond-square plasma fractal in [0, 1] (ImageNet-C's fog), cropped to ``shape``.

    The map is periodic, of side the next power of two; the random amplitude of each finer level is
    divided by ``decay ** 2`` (ImageNet-C's ``wibble * uniform(-wibble, wibble)`` with ``wibble``
    divided by ``decay`` per level). albumentations' ``generate_plasma_pattern`` renormalises every
    level and cannot be made as smooth as ImageNet-C's fog, hence this function.
    """
    side = 1 << max(1, math.ceil(math.log2(max(shape[0], shape[1], 2))))
    grid = np.zeros((1, 1), np.float64)
    amplitude = 1.0
    while grid.shape[0] < side:
        n = grid.shape[0]
        finer = np.empty((2 * n, 2 * n), np.float64)  # every entry is set below
        finer[::2, ::2] = grid
        wibble = amplitude * rng.uniform(-1, 1, (3, n, n))  # the three draws of a level, in their order
        # square step: the centre of each square is the mean of its four corners
        below = grid + _up(grid, 0)
        centres = finer[1::2, 1::2]
        centres[...] = (below + _up(below, 1)) / 4 + wibble[0]
        # diamond step: each edge midpoint is the mean of its two corners and two centres
        finer[::2, 1::2] = (grid + _up(grid, 1) + centres + _down(centres, 0)) / 4 + wibble[1]
        finer[1::2, ::2] = (below + centres + _down(centres, 1)) / 4 + wibble[2]
        grid = finer
        amplitude /= decay**2
    grid = grid[: shape[0], : shape[1]]
    grid = grid - grid.min()
    top = grid.max()
    return (grid / top if top > 0 else grid).astype(np.float32)


def _up(grid: np.ndarray, axis: int) -> np.ndarray:
    """``np.roll(grid, -1, axis)`` for a 2-D array, without ``np.roll``'s Python overhead."""
    return np.concatenate((grid[1:], grid[:1]) if axis == 0 else (grid[:, 1:], grid[:, :1]), axis=axis)


def _down(grid: np.ndarray, axis: int) -> np.ndarray:
    """``np.roll(grid, 1, axis)`` for a 2-D array."""
    return np.concatenate((grid[-1:], grid[:-1]) if axis == 0 else (grid[:, -1:], grid[:, :-1]), axis=axis)
