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

from ._ops import gaussian, like, zoom


def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """ImageNet-C's defocus kernel: the pixels whose centres lie within ``radius`` of the centre, on
    a grid of half-width ``max(8, radius)``, smoothed by a Gaussian of ``alias_blur`` (3x3, or 5x5
    beyond radius 8). Below a radius of one pixel that is the centre pixel alone, and the kernel is
    the alias Gaussian (CIFAR-10-C's defocus severities 1-3).

    Example:
        >>> k = disk_kernel(3, 0.1)
        >>> k.shape, round(float(k.sum()), 6)
        ((17, 17), 1.0)
    """
    import cv2

    half = max(8, math.ceil(radius))
    axis = np.arange(-half, half + 1, dtype=np.float64)
    disk = ((axis[:, None] ** 2 + axis[None, :] ** 2) <= radius**2).astype(np.float32)
    disk[half, half] = 1.0
    ksize = 3 if radius <= 8 else 5
    return cv2.GaussianBlur(disk / disk.sum(), (ksize, ksize), sigmaX=max(float(alias_blur), 1e-3))


def sample_defocus_blur(rng: np.random.Generator, shape: tuple[int, ...], *, radius: float, alias_blur: float) -> dict[str, Any]:
    return {"radius": radius, "alias_blur": alias_blur}


def apply_defocus_blur(image: np.ndarray, *, radius: float, alias_blur: float) -> np.ndarray:
    return like(convolve(image, disk_kernel(radius, alias_blur)), image)


#: OpenCV's ``filter2D`` chooses its algorithm by kernel size: on a large image a kernel of 27 to 49 pixels
#: costs several times what the same kernel zero-padded to 51 does (37x37 at 224 px: 9.7 against 2.0 ms, the
#: results equal to 1e-13); at 64 px the narrower kernel is the cheaper (0.30 against 0.37 ms)
_DFT_SIDE, _LARGE_IMAGE = 51, 128 * 128


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``image`` (HWC) convolved with the square, odd-sided ``kernel``, reflected borders (OpenCV's
    ``filter2D`` through :mod:`._albumentations`). A kernel of 27 to 49 pixels on an image of at least 128 x 128
    pixels is first zero-padded to 51 x 51: the same sums, on OpenCV's faster algorithm for it."""
    from . import _albumentations

    side = kernel.shape[0]
    if 25 < side < _DFT_SIDE and image.shape[0] * image.shape[1] >= _LARGE_IMAGE:
        kernel = np.pad(kernel, (_DFT_SIDE - side + 1) // 2)
    return _albumentations.convolve(image, kernel)


def sample_glass_blur(
    rng: np.random.Generator, shape: tuple[int, ...], *, sigma: float, max_delta: float, iterations: int
) -> dict[str, Any]:
    """Offsets in ``[-D, D)`` with ``D = ceil(max_delta)``, for each interior pixel and round of swaps.

    ImageNet-C swaps pixels one after another, from the bottom-right corner up, each with a neighbour
    up to ``D`` pixels up or left more often than down or right, so a pixel moved up is met again and
    moves on: it travels further than one vectorised round of swaps takes it. ``iterations * (1 +
    1.25 / D)`` rounds (the last one partial) come near its PSNR and SSIM (at 32 and 64 px, its PSNR
    alone would take 2.3-2.7 rounds per pass at D = 1, 1.7-1.8 at D = 2, and lose SSIM: the
    reference's chains keep more local structure than independent rounds do). A ``max_delta`` that scaling made fractional
    keeps each swap with probability ``max_delta / D``, so an 8-pixel image is not shuffled as hard as
    a 224-pixel one would be by a 1-pixel delta, relative to its size.
    """
    delta = max(1, math.ceil(max_delta - 1e-9))
    inner = max(0, shape[0] - 2 * delta) * max(0, shape[1] - 2 * delta)
    rounds = iterations * (1 + 1.25 / delta)
    count = math.ceil(rounds - 1e-9)
    dxy = rng.integers(-delta, delta, size=(inner, count, 2))
    keep = np.full((inner, count), max_delta / delta)
    keep[:, -1] *= rounds - (count - 1)
    dxy[rng.random((inner, count)) >= keep] = 0
    return {"sigma": sigma, "max_delta": delta, "iterations": count, "dxy": dxy}


def apply_glass_blur(image: np.ndarray, *, sigma: float, max_delta: int, iterations: int, dxy: np.ndarray) -> np.ndarray:
    from ._albumentations import glass_blur

    if dxy.shape[0] == 0:  # no interior pixel to swap: the two blurs only
        return like(gaussian(gaussian(image, sigma), sigma), image)
    return like(glass_blur(image, sigma, max_delta, iterations, dxy), image)


def motion_kernel(radius: float, sigma: float, angle: float, whole_pixels: bool = False) -> np.ndarray:
    """ImageMagick's motion-blur kernel: Gaussian weights ``exp(-t^2 / 2 sigma^2)`` along a one-sided
    line of ``2 * ceil(radius) + 1`` pixels at ``angle`` degrees, splatted bilinearly, or each on its
    nearest pixel (``whole_pixels``: imagecorruptions' shifts, sharper streaks).

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
    if whole_pixels:
        fx, fy = np.round(fx), np.round(fy)
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)), weights * w)
    return (kernel / kernel.sum()).astype(np.float32)


def sample_motion_blur(rng: np.random.Generator, shape: tuple[int, ...], *, radius: float, sigma: float) -> dict[str, Any]:
    return {"radius": radius, "sigma": sigma, "angle": float(rng.uniform(-45.0, 45.0))}


def apply_motion_blur(image: np.ndarray, *, radius: float, sigma: float, angle: float, whole_pixels: bool = False) -> np.ndarray:
    return like(convolve(image, motion_kernel(radius, sigma, angle, whole_pixels)), image)


def sample_zoom_blur(rng: np.random.Generator, shape: tuple[int, ...], *, zooms: tuple[float, ...]) -> dict[str, Any]:
    return {"zooms": zooms}


def apply_zoom_blur(image: np.ndarray, *, zooms: tuple[float, ...]) -> np.ndarray:
    total = image.astype(np.float32, copy=True)
    for factor in zooms:
        total += clipped_zoom(image, factor)
    return like(total / (len(zooms) + 1), image)


def clipped_zoom(image: np.ndarray, factor: float) -> np.ndarray:
    """ImageNet-C's ``clipped_zoom``: the central ``ceil(side / factor)`` pixels (the top-left one of
    two middles), zoomed by ``factor`` with SciPy's corner-aligned bilinear zoom to
    ``round(crop * factor)`` pixels and trimmed back to the middle ``side``, as one affine warp.
    Where that maps the image onto itself (a zoom too small to lose a pixel), the exact zoom about
    the centre (:func:`~pytest_mlguard.corruptions._ops.zoom`) instead, so that it still blurs.
    """
    import cv2

    steps = []
    for side in image.shape[:2]:
        crop = math.ceil(side / factor)
        out = max(1, int(round(crop * factor)))
        step = (crop - 1) / (out - 1) if out > 1 else 1.0
        steps.append((step, (side - crop) // 2 + ((out - side) // 2) * step, crop == side == out))
    (row_step, row_offset, rows_same), (col_step, col_offset, cols_same) = steps
    if rows_same and cols_same:
        return zoom(image, factor)
    matrix = np.array([[col_step, 0.0, col_offset], [0.0, row_step, row_offset]], np.float64)
    size = (image.shape[1], image.shape[0])
    warped = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return warped.reshape(image.shape)


def sample_gaussian_blur(rng: np.random.Generator, shape: tuple[int, ...], *, sigma: float) -> dict[str, Any]:
    return {"sigma": sigma}


def apply_gaussian_blur(image: np.ndarray, *, sigma: float) -> np.ndarray:
    """A Gaussian blur truncated at 4 sigma, as scikit-image's ``gaussian`` (ImageNet-C's), with at
    least one tap either side: a sigma of a fraction of a pixel still blurs, a little."""
    from ._albumentations import gaussian_kernel_1d, separable_convolve

    ksize = 2 * max(1, int(4 * sigma + 0.5)) + 1
    return like(separable_convolve(image, gaussian_kernel_1d(max(sigma, 1e-3), ksize)), image)
