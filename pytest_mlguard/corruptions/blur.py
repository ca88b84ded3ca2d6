"""The blur corruptions: defocus (disk), glass, motion, zoom and Gaussian blur, and their kernels.

Example:
    >>> image = np.eye(16, dtype=np.float32)[..., None]
    >>> out = apply_gaussian_blur(image, sigma=0.4)
    >>> out.shape, bool((out != image).any())
    ((16, 16, 1), True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .ops import gaussian, like, zoom

__all__ = [
    "apply_defocus_blur",
    "apply_gaussian_blur",
    "apply_glass_blur",
    "apply_motion_blur",
    "apply_zoom_blur",
    "disk_kernel",
    "motion_kernel",
    "sample_defocus_blur",
    "sample_gaussian_blur",
    "sample_glass_blur",
    "sample_motion_blur",
    "sample_zoom_blur",
]


def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """ImageNet-C's defocus kernel: a disk of ``radius`` pixels on a grid of half-width
    ``max(8, radius)``, smoothed by a Gaussian of ``alias_blur`` (3x3, or 5x5 beyond radius 8).

    Edge pixels are weighted by the share of the pixel the disk covers (8 x 8 sub-samples) where
    ImageNet-C counts a pixel in or out by its centre: the same disk at whole radii, and a radius of
    a fraction of a pixel (a severity scaled to a small image) still blurs, a little.

    Example:
        >>> k = disk_kernel(3, 0.1)
        >>> k.shape, round(float(k.sum()), 6)
        ((17, 17), 1.0)
    """
    import cv2

    half = max(8, math.ceil(radius))
    sub = (np.arange(8) + 0.5) / 8 - 0.5
    axis = (np.arange(-half, half + 1)[:, None] + sub[None, :]).ravel()
    inside = (axis[:, None] ** 2 + axis[None, :] ** 2) <= radius**2
    size = 2 * half + 1
    coverage = inside.reshape(size, 8, size, 8).mean(axis=(1, 3)).astype(np.float32)
    if coverage.sum() == 0:
        coverage[half, half] = 1.0
    coverage /= coverage.sum()
    ksize = 3 if radius <= 8 else 5
    kernel = cv2.GaussianBlur(coverage, (ksize, ksize), sigmaX=max(float(alias_blur), 1e-3))
    return kernel / kernel.sum()


def sample_defocus_blur(rng: np.random.Generator, shape: tuple[int, ...], *, radius: float, alias_blur: float) -> dict[str, Any]:
    return {"radius": radius, "alias_blur": alias_blur}


def apply_defocus_blur(image: np.ndarray, *, radius: float, alias_blur: float) -> np.ndarray:
    from albumentations.augmentations.pixel import functional as AF

    return like(AF.convolve(image, disk_kernel(radius, alias_blur)), image)


def sample_glass_blur(
    rng: np.random.Generator, shape: tuple[int, ...], *, sigma: float, max_delta: float, iterations: int
) -> dict[str, Any]:
    """Offsets in ``[-D, D)`` with ``D = ceil(max_delta)``, for each interior pixel and iteration.

    A ``max_delta`` that scaling made fractional keeps each swap with probability ``max_delta / D``
    (ImageNet-C's whole-pixel deltas keep every swap), so an 8-pixel image is not shuffled as hard as
    a 224-pixel one would be by a 1-pixel delta, relative to its size.
    """
    delta = max(1, math.ceil(max_delta - 1e-9))
    inner = max(0, shape[0] - 2 * delta) * max(0, shape[1] - 2 * delta)
    dxy = rng.integers(-delta, delta, size=(inner, iterations, 2))
    if max_delta < delta:
        dxy[rng.random((inner, iterations)) >= max_delta / delta] = 0
    return {"sigma": sigma, "max_delta": delta, "iterations": iterations, "dxy": dxy}


def apply_glass_blur(image: np.ndarray, *, sigma: float, max_delta: int, iterations: int, dxy: np.ndarray) -> np.ndarray:
    from albumentations.augmentations.blur import functional as BF

    if dxy.shape[0] == 0:  # no interior pixel to swap: the two blurs only
        return like(gaussian(gaussian(image, sigma), sigma), image)
    return like(BF.glass_blur(image, sigma, max_delta, iterations, dxy, "fast"), image)


def motion_kernel(radius: float, sigma: float, angle: float) -> np.ndarray:
    """ImageMagick's motion-blur kernel: Gaussian weights ``exp(-t^2 / 2 sigma^2)`` along a one-sided
    line of ``2 * ceil(radius) + 1`` pixels at ``angle`` degrees, splatted bilinearly.

    Example:
        >>> k = motion_kernel(2, 1, 0)
        >>> k.shape, round(float(k.sum()), 6), int(k.argmax() % k.shape[1]) == k.shape[1] // 2
        ((9, 9), 1.0, True)
    """
    length = 2 * math.ceil(radius) + 1
    t = np.arange(length, dtype=np.float64)
    weights = np.exp(-(t**2) / (2.0 * max(sigma, 1e-6) ** 2))
    size = 2 * length - 1
    centre = length - 1
    kernel = np.zeros((size, size), np.float64)
    theta = math.radians(angle)
    xs, ys = centre + t * math.cos(theta), centre + t * math.sin(theta)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)), weights * w)
    return (kernel / kernel.sum()).astype(np.float32)


def sample_motion_blur(rng: np.random.Generator, shape: tuple[int, ...], *, radius: float, sigma: float) -> dict[str, Any]:
    return {"radius": radius, "sigma": sigma, "angle": float(rng.uniform(-45.0, 45.0))}


def apply_motion_blur(image: np.ndarray, *, radius: float, sigma: float, angle: float) -> np.ndarray:
    from albumentations.augmentations.pixel import functional as AF

    return like(AF.convolve(image, motion_kernel(radius, sigma, angle)), image)


def sample_zoom_blur(rng: np.random.Generator, shape: tuple[int, ...], *, zooms: tuple[float, ...]) -> dict[str, Any]:
    return {"zooms": zooms}


def apply_zoom_blur(image: np.ndarray, *, zooms: tuple[float, ...]) -> np.ndarray:
    total = image.astype(np.float32, copy=True)
    for factor in zooms:
        total += zoom(image, factor)
    return like(total / (len(zooms) + 1), image)


def sample_gaussian_blur(rng: np.random.Generator, shape: tuple[int, ...], *, sigma: float) -> dict[str, Any]:
    return {"sigma": sigma}


def apply_gaussian_blur(image: np.ndarray, *, sigma: float) -> np.ndarray:
    """A Gaussian blur truncated at 4 sigma, as scikit-image's ``gaussian`` (ImageNet-C's), with at
    least one tap either side: a sigma of a fraction of a pixel still blurs, a little."""
    from albumentations.augmentations.blur import functional as BF
    from albumentations.augmentations.pixel import functional as AF

    ksize = 2 * max(1, int(4 * sigma + 0.5)) + 1
    return like(AF.separable_convolve(image, BF.create_gaussian_kernel_1d(max(sigma, 1e-3), ksize)), image)
