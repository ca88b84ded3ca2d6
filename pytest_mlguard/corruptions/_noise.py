"""The noise corruptions: Gaussian, shot (Poisson), impulse (salt and pepper) and speckle noise.

Example:
    >>> rng = np.random.default_rng(0)
    >>> image = np.full((4, 4, 1), 0.5, np.float32)
    >>> out = apply_additive_noise(image, **sample_gaussian_noise(rng, image.shape, sigma=0.1))
    >>> out.shape, bool((out != image).any())
    ((4, 4, 1), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._ops import like


def sample_gaussian_noise(rng: np.random.Generator, shape: tuple[int, ...], *, sigma: float) -> dict[str, Any]:
    return {"noise": _normal(rng, shape, sigma)}


def _normal(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """N(0, sigma) noise as float32 (drawn in float64: the stream every seed has drawn so far)."""
    return rng.normal(0.0, sigma, size=shape).astype(np.float32)


def apply_additive_noise(image: np.ndarray, *, noise: np.ndarray) -> np.ndarray:
    return like(image + noise, image)


def sample_shot_noise(rng: np.random.Generator, shape: tuple[int, ...], *, photons: float) -> dict[str, Any]:
    # Poisson noise depends on the image, so apply draws it, from the image's own generator handed over
    # here: seeding a second generator per image cost about 8 microseconds, a twentieth of the call at 32 px
    return {"photons": photons, "rng": rng}


def apply_shot_noise(image: np.ndarray, *, photons: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson(image * photons) / photons, drawn from ``rng``, clipped to 1, as float32; a uint8 image
    gives those values as uint8, drawn through per-level tables (:mod:`._poisson`)."""
    if image.dtype == np.uint8:
        from ._poisson import shot_noise_bytes

        return shot_noise_bytes(image, photons, rng)
    counts = rng.poisson(np.multiply(image, photons, dtype=np.float64))
    # like(counts / photons, image) in one pass: the float64 quotients rounded to float32 as they are
    # written, then clipped to 1 (counts are never negative); a few microseconds less at 32 px
    out = np.divide(counts, photons, out=np.empty(image.shape, np.float32))
    return np.minimum(out, np.float32(1.0), out=out)


def sample_impulse_noise(rng: np.random.Generator, shape: tuple[int, ...], *, amount: float) -> dict[str, Any]:
    flipped = rng.random(shape) < amount
    salt = rng.random(shape) < 0.5
    return {"salt": flipped & salt, "pepper": flipped & ~salt}


def apply_impulse_noise(image: np.ndarray, *, salt: np.ndarray, pepper: np.ndarray) -> np.ndarray:
    # per value, as ImageNet-C (skimage's random_noise): albumentations' apply_salt_and_pepper takes per-pixel masks
    return np.where(salt, np.float32(1.0), np.where(pepper, np.float32(0.0), image)).astype(np.float32)


def sample_speckle_noise(rng: np.random.Generator, shape: tuple[int, ...], *, sigma: float) -> dict[str, Any]:
    return {"noise": _normal(rng, shape, sigma)}


def apply_multiplicative_noise(image: np.ndarray, *, noise: np.ndarray) -> np.ndarray:
    return like(image + image * noise, image)
