"""The weather corruptions: snow, frost, fog, brightness and spatter (water drops or mud).

Example:
    >>> rng = np.random.default_rng(0)
    >>> image = np.full((16, 16, 3), 0.5, np.float32)
    >>> out = apply_fog(image, **sample_fog(rng, image.shape, amount=1.5, decay=2.0))
    >>> out.shape, bool((out != image).any())
    ((16, 16, 3), True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._blur import apply_motion_blur
from ._ops import LUMA, colour, gaussian, hsv_adjust, like, plasma_fractal, unit, zoom

_RAIN = np.array([175, 238, 238], np.float32) / 255.0  # pale turquoise, RGB
_MUD = np.array([63, 42, 20], np.float32) / 255.0  # mud brown, RGB
_EMBOSS = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32)
#: per-channel mean and standard deviation of 224-pixel crops of ImageNet-C's frost photographs 1-5
_FROST_MEAN = np.array([0.563, 0.645, 0.692], np.float32)
_FROST_STD = np.array([0.098, 0.091, 0.092], np.float32)


def sample_fog(rng: np.random.Generator, shape: tuple[int, ...], *, amount: float, decay: float) -> dict[str, Any]:
    return {"amount": amount, "plasma": plasma_fractal(rng, (shape[0], shape[1]), decay)}


def apply_fog(image: np.ndarray, *, amount: float, plasma: np.ndarray) -> np.ndarray:
    top = float(image.max())
    fogged = image + amount * plasma[..., None]
    return like(fogged * (top / (top + amount)), image)


def frost_texture(rng: np.random.Generator, shape: tuple[int, int], crystal: float) -> np.ndarray:
    """A frost-like RGB texture: cloudy ice (a plasma fractal) under ice needles about ``crystal``
    pixels long, with the per-channel mean and standard deviation of ImageNet-C's frost photographs.

    ImageNet-C crops six photographs of frost, which pytest-mlguard does not ship; what a blend with
    them does to an image's PSNR depends mostly on their mean and contrast, which the texture copies.
    """
    import cv2

    height, width = shape
    cloud = 0.35 * plasma_fractal(rng, shape, 1.6)
    needles = np.zeros(shape, np.float32)
    count = max(1, int(round(1.2 * height * width / max(crystal, 1.0) ** 2)))
    centres = rng.uniform((0, 0), (width, height), size=(count, 2))
    angles = rng.uniform(0, math.pi, size=count)
    lengths = crystal * rng.uniform(0.3, 1.0, size=count) / 2
    offsets = np.stack([np.cos(angles), np.sin(angles)], axis=1) * lengths[:, None]
    ends = np.stack([centres - offsets, centres + offsets], axis=1)
    levels = rng.integers(0, 3, size=count)
    for level, brightness in enumerate((0.45, 0.7, 1.0)):
        lines = np.round(ends[levels == level] * 16).astype(np.int32)  # 4 fractional bits
        if len(lines):
            cv2.polylines(needles, list(lines), False, brightness, thickness=1, lineType=cv2.LINE_AA, shift=4)
    texture = cloud + 0.8 * gaussian(needles, 0.05 * crystal)
    spread = float(texture.std())
    standard = (texture - texture.mean()) / spread if spread > 0 else np.zeros_like(texture)
    return np.clip(_FROST_MEAN + _FROST_STD * standard[..., None], 0.0, 1.0).astype(np.float32)


def sample_frost(
    rng: np.random.Generator, shape: tuple[int, ...], *, image_weight: float, frost_weight: float, crystal: float
) -> dict[str, Any]:
    texture = frost_texture(rng, (shape[0], shape[1]), crystal)
    return {"image_weight": image_weight, "frost_weight": frost_weight, "frost": colour(texture, shape[2])}


def apply_frost(image: np.ndarray, *, image_weight: float, frost_weight: float, frost: np.ndarray) -> np.ndarray:
    return like(image_weight * image + frost_weight * frost, image)


def sample_snow(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    *,
    loc: float,
    scale: float,
    flake: float,
    threshold: float,
    radius: float,
    sigma: float,
    blend: float,
) -> dict[str, Any]:
    layer = rng.normal(loc, scale, size=(shape[0], shape[1])).astype(np.float32)
    layer = zoom(layer, max(1.0, flake))
    layer[layer < threshold] = 0
    layer = np.clip(layer, 0.0, 1.0)
    angle = float(rng.uniform(-135.0, -45.0))
    layer = apply_motion_blur(layer[..., None], radius=radius, sigma=sigma, angle=angle, whole_pixels=True)[..., 0]
    return {"snow": layer, "blend": blend}


def apply_snow(image: np.ndarray, *, snow: np.ndarray, blend: float) -> np.ndarray:
    gray = image if image.shape[2] == 1 else (image @ LUMA)[..., None]
    whitened = blend * image + (1 - blend) * np.maximum(image, gray * 1.5 + 0.5)
    return like(whitened + snow[..., None] + np.rot90(snow, 2)[..., None], image)


def sample_spatter(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    *,
    loc: float,
    scale: float,
    sigma: float,
    threshold: float,
    intensity: float | None = None,
    mud_sigma: float | None = None,
) -> dict[str, Any]:
    """Water drops (``intensity``) or mud (``mud_sigma``), as ImageNet-C draws them: a thresholded
    blurred Gaussian field; drops are shaded by the distance to their edges. At least one drop or
    mud spot is kept (the field's peak), so that a small image is never left unchanged."""
    liquid = gaussian(rng.normal(loc, scale, size=(shape[0], shape[1])).astype(np.float32), sigma)
    liquid = liquid.reshape(shape[0], shape[1])
    peak = np.unravel_index(int(liquid.argmax()), liquid.shape)
    liquid[liquid < threshold] = 0
    liquid[peak] = max(float(liquid[peak]), threshold)
    if mud_sigma is None:
        drops = _drop_shading(liquid)[..., None] * np.float32(intensity or 0.0)
        return {"drops": drops * colour(_RAIN[None, None, :], shape[2]), "mud": None, "clear": None}
    mask = gaussian((liquid > threshold).astype(np.float32), mud_sigma).reshape(shape[0], shape[1])
    mask[mask < 0.8] = 0  # ImageNet-C's sharp-edged mud
    if not mask.any():
        mask[peak] = 1.0
    return {"drops": None, "mud": colour(mask[..., None] * _MUD, shape[2]), "clear": 1.0 - mask[..., None]}


def _drop_shading(liquid: np.ndarray) -> np.ndarray:
    """ImageNet-C's water drops: the liquid layer times a shading from the distance to the drops'
    (Canny) edges, equalised and embossed, normalised to a maximum of 1."""
    import cv2

    layer = (liquid * 255).astype(np.uint8)
    dist = cv2.distanceTransform(255 - cv2.Canny(layer, 50, 150), cv2.DIST_L2, 5)
    _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
    dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
    dist = cv2.filter2D(dist, cv2.CV_8U, _EMBOSS)
    shading = layer * cv2.blur(dist, (3, 3)).astype(np.float32)
    top = float(shading.max())
    if top == 0:  # a drop too small to have an inside: the layer itself
        shading, top = liquid.astype(np.float32), float(liquid.max())
    return shading / top


def apply_spatter(
    image: np.ndarray, *, drops: np.ndarray | None, mud: np.ndarray | None = None, clear: np.ndarray | None = None
) -> np.ndarray:
    if drops is not None:
        return like(image + drops, image)
    assert mud is not None and clear is not None  # mud (severities 4-5) comes with its mask
    return like(image * clear + mud, image)


def sample_brightness(rng: np.random.Generator, shape: tuple[int, ...], *, shift: float) -> dict[str, Any]:
    return {"shift": shift}


def apply_brightness(image: np.ndarray, *, shift: float) -> np.ndarray:
    if image.shape[2] == 1:
        return unit(image + np.float32(shift))
    return hsv_adjust(image, 2, 1.0, shift)
