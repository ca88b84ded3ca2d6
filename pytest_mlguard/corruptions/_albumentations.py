"""The one module through which the corruptions reach albumentations (``albumentations>=2.0.5,<2.1``,
the last MIT-licensed line: its successor, AlbumentationsX, is AGPL). Each function says what it
computes, so that replacing albumentations is a change to this module alone (docs/corruptions.md,
"Replacing albumentations"); ``tests/unit/test_albumentations_boundary.py`` keeps every other module
from importing it. albumentations is imported when a corruption first runs, never with the plugin.

Example:
    >>> image = np.ones((5, 5, 1), np.float32)
    >>> float(convolve(image, np.full((3, 3), 1 / 9, np.float32))[2, 2, 0])
    1.0
"""

from __future__ import annotations

import numpy as np


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``image`` (HWC) correlated with the 2-D ``kernel``, borders reflected (``cv2.filter2D``, ``BORDER_REFLECT_101``)."""
    from albumentations.augmentations.pixel import functional

    return np.asarray(functional.convolve(image, kernel))


def separable_convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``image`` (HWC) correlated with the 1-D ``kernel`` along rows and then columns (``cv2.sepFilter2D``)."""
    from albumentations.augmentations.pixel import functional

    return np.asarray(functional.separable_convolve(image, kernel))


def gaussian_kernel_1d(sigma: float, size: int) -> np.ndarray:
    """A normalised Gaussian of ``size`` taps (odd) and ``sigma`` (``cv2.getGaussianKernel``)."""
    from albumentations.augmentations.blur import functional

    return np.asarray(functional.create_gaussian_kernel_1d(sigma, size))


def glass_blur(image: np.ndarray, sigma: float, max_delta: int, iterations: int, dxy: np.ndarray) -> np.ndarray:
    """ImageNet-C's glass blur, vectorised: a Gaussian blur of ``sigma``, ``iterations`` rounds of pixel
    swaps by the offsets ``dxy`` (one row per interior pixel, ``max_delta`` from the border, bottom-right
    first), and the blur again (albumentations' ``glass_blur`` in its ``fast`` mode)."""
    from albumentations.augmentations.blur import functional

    return np.asarray(functional.glass_blur(image, sigma, max_delta, iterations, dxy, "fast"))


def warp_affine(image: np.ndarray, matrix: np.ndarray, interpolation: int, fill: float, border: int, size: tuple[int, int]) -> np.ndarray:
    """``image`` warped by the 3 x 3 affine ``matrix`` to ``size`` (height, width) (``cv2.warpAffine``)."""
    from albumentations.augmentations.geometric import functional

    return np.asarray(functional.warp_affine(image, matrix, interpolation, fill, border, size))


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, interpolation: int, border: int) -> np.ndarray:
    """``image`` sampled at (``map_x``, ``map_y``) for each output pixel (``cv2.remap``)."""
    from albumentations.augmentations.geometric import functional

    return np.asarray(functional.remap(image, map_x, map_y, interpolation, border))
