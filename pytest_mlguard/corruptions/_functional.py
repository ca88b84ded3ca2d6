"""Corruptions as plain functions over HWC float32 images in [0, 1], and the public :func:`corrupt`.

``sample_*`` functions draw every random number a corruption needs, given the image's shape
``(H, W, C)`` with ``C`` 1 or 3; ``apply_*`` functions are deterministic given those parameters.
They live by group (:mod:`.noise`, :mod:`.blur`, :mod:`.weather`, :mod:`.digital`, with shared
building blocks in :mod:`.ops`) and are all importable from here; the registry
(:mod:`pytest_mlguard.corruptions._registry`) pairs them and holds the severities. Where
albumentations' functional API implements an ImageNet-C step with the same parameters, it is used
(noise addition, convolution, glass blur, affine warps and remapping); docs/corruptions.md lists
where the definitions depart from ImageNet-C.

Example:
    >>> image = np.full((32, 32, 3), 0.5, np.float32)
    >>> out = corrupt(image, "gaussian_noise", 3, seed=0)
    >>> out.shape, out.dtype, bool((out != image).any())
    ((32, 32, 3), dtype('float32'), True)
    >>> bool((corrupt(image, "gaussian_noise", 3, seed=0) == out).all())
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgument
from ._blur import (
    apply_defocus_blur as apply_defocus_blur,
    apply_gaussian_blur as apply_gaussian_blur,
    apply_glass_blur as apply_glass_blur,
    apply_motion_blur as apply_motion_blur,
    apply_zoom_blur as apply_zoom_blur,
    disk_kernel as disk_kernel,
    motion_kernel as motion_kernel,
    sample_defocus_blur as sample_defocus_blur,
    sample_gaussian_blur as sample_gaussian_blur,
    sample_glass_blur as sample_glass_blur,
    sample_motion_blur as sample_motion_blur,
    sample_zoom_blur as sample_zoom_blur,
)
from ._digital import (
    apply_contrast as apply_contrast,
    apply_elastic_transform as apply_elastic_transform,
    apply_jpeg_compression as apply_jpeg_compression,
    apply_pixelate as apply_pixelate,
    apply_saturate as apply_saturate,
    sample_contrast as sample_contrast,
    sample_elastic_transform as sample_elastic_transform,
    sample_jpeg_compression as sample_jpeg_compression,
    sample_pixelate as sample_pixelate,
    sample_saturate as sample_saturate,
)
from ._noise import (
    apply_additive_noise as apply_additive_noise,
    apply_impulse_noise as apply_impulse_noise,
    apply_multiplicative_noise as apply_multiplicative_noise,
    apply_shot_noise as apply_shot_noise,
    sample_gaussian_noise as sample_gaussian_noise,
    sample_impulse_noise as sample_impulse_noise,
    sample_shot_noise as sample_shot_noise,
    sample_speckle_noise as sample_speckle_noise,
)
from ._ops import plasma_fractal as plasma_fractal, to_bytes
from ._references import REFERENCES, Scale, auto_scale, reference_for
from ._registry import get
from ._weather import (
    apply_brightness as apply_brightness,
    apply_fog as apply_fog,
    apply_frost as apply_frost,
    apply_snow as apply_snow,
    apply_spatter as apply_spatter,
    frost_texture as frost_texture,
    sample_brightness as sample_brightness,
    sample_fog as sample_fog,
    sample_frost as sample_frost,
    sample_snow as sample_snow,
    sample_spatter as sample_spatter,
)


_UNUSED = np.random.default_rng(0)  # handed to corruptions that draw nothing: seeding one costs more than they do


# -- layouts ------------------------------------------------------------------------------------------
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


# -- the public entry point -----------------------------------------------------------------------------
def _as_unit_hwc(image: Any, keep_bytes: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """A user's image as HWC float32 in [0, 1] (uint8 as is with ``keep_bytes``) with 1 or 3
    channels, and its alpha channel if any."""
    array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)) or 0 in array.shape:
        raise InvalidArgument.expected(
            "an image of shape (H, W) or (H, W, C) with C in 1, 3, 4 and H, W >= 1", "image.shape", array.shape
        )
    if array.dtype == np.uint8:
        unit = array if keep_bytes else np.divide(array, np.float32(255.0), dtype=np.float32)
    elif np.issubdtype(array.dtype, np.floating):
        unit = array.astype(np.float32)
        if not np.isfinite(unit).all() or unit.min() < 0.0 or unit.max() > 1.0:
            raise InvalidArgument(
                f"Expected a float image with values in [0, 1] but got values in [{unit.min()}, {unit.max()}]: "
                "scale it to [0, 1], or pass uint8 in [0, 255]"
            )
    else:
        raise InvalidArgument.expected("a uint8 or float image", "image.dtype", array.dtype)
    if unit.ndim == 2:
        unit = unit[..., None]
    alpha = None
    if unit.shape[2] == 4:
        unit, alpha = unit[..., :3], unit[..., 3:]
    return np.ascontiguousarray(unit), alpha


def corrupt(
    image: Any,
    corruption: str,
    severity: int,
    *,
    seed: int | np.random.Generator = 0,
    scale: float | None = None,
    reference: str = "auto",
) -> np.ndarray:
    """``image`` under ``corruption`` at ``severity``, reproducible from ``seed``.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` with C 1, 3 or 4 (alpha is kept), uint8 in [0, 255] or
            float in [0, 1], any size from 1 x 1.
        corruption: a registry name, such as ``"motion_blur"``.
        severity: 1 to 5.
        seed: an int, or a numpy ``Generator`` to draw from.
        scale: multiplies the spatial parameters (blur radii, displacements); ``None``: the image's
            shorter side / the side of the published set it follows.
        reference: the published parameter set, ``"imagenet-c"`` (224 px), ``"tiny-imagenet-c"``
            (64 px) or ``"cifar-10-c"`` (32 px); ``"auto"``: the nearest to the image's size
            (:mod:`pytest_mlguard.corruptions._references`).

    Returns:
        The corrupted image, of the input's shape and dtype.

    Example:
        >>> corrupt(np.zeros((1, 1), np.uint8), "fog", 5, seed=1).shape
        (1, 1)
    """
    try:
        spec = get(corruption)
    except KeyError as exc:
        raise InvalidArgument(str(exc.args[0])) from None
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or not 1 <= severity <= 5:
        raise InvalidArgument.expected("a severity, an int in 1..5", "severity", severity)
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0):
        raise InvalidArgument.expected("a positive number or None", "scale", scale)
    if reference != "auto" and reference not in REFERENCES:
        raise InvalidArgument.expected(f"a reference, one of auto, {', '.join(REFERENCES)}", "reference", reference)
    rng = seed if isinstance(seed, np.random.Generator) else _UNUSED if spec.deterministic else np.random.default_rng(seed)
    array = np.asarray(image)
    unit, alpha = _as_unit_hwc(array, keep_bytes=spec.takes_bytes)
    out = spec(unit, int(severity), rng, scale, reference)
    if out.dtype != array.dtype:
        out = to_bytes(out) if array.dtype == np.uint8 else out.astype(array.dtype, copy=False)
    if alpha is not None:  # the input's own alpha, unchanged
        out = np.concatenate([out, array[..., 3:]], axis=2)
    return out.reshape(array.shape)


def default_scale(height: int, width: int, reference: str = "auto") -> Scale:
    """The default spatial scale of an image under ``reference``: its shorter side / the side of the
    published set it follows (see :mod:`pytest_mlguard.corruptions._references`), carrying that set.

    Example:
        >>> s = default_scale(64, 96)
        >>> float(s), s.reference
        (1.0, 'tiny-imagenet-c')
    """
    side = min(height, width)
    chosen = reference if reference != "auto" else reference_for(side)
    return Scale(auto_scale(side, chosen), chosen)
