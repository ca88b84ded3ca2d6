"""Corruptions as plain functions over HWC float32 images in [0, 1], and the public :func:`corrupt`.

``sample_*`` functions draw every random number a corruption needs, given the image's shape
``(H, W, C)`` with ``C`` 1 or 3; ``apply_*`` functions are deterministic given those parameters.
The registry (:mod:`pytest_mlguard.corruptions.registry`) pairs them and holds the severities.
Where albumentations' functional API implements an ImageNet-C step with the same parameters, it is
used (noise addition, convolution, glass blur, JPEG, rain drops, resizing, affine warps and
remapping); docs/corruptions.md lists where the definitions depart from ImageNet-C.

Example:
    >>> image = np.full((32, 32, 3), 0.5, np.float32)
    >>> out = corrupt(image, "gaussian_noise", 3, seed=0)
    >>> out.shape, out.dtype, bool((out != image).any())
    ((32, 32, 3), dtype('float32'), True)
    >>> bool((corrupt(image, "gaussian_noise", 3, seed=0) == out).all())
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InvalidArgument
from .registry import REFERENCE_SIDE, get

__all__ = [
    "apply_additive_noise",
    "apply_brightness",
    "apply_contrast",
    "apply_defocus_blur",
    "apply_elastic_transform",
    "apply_fog",
    "apply_frost",
    "apply_gaussian_blur",
    "apply_glass_blur",
    "apply_impulse_noise",
    "apply_jpeg_compression",
    "apply_motion_blur",
    "apply_multiplicative_noise",
    "apply_pixelate",
    "apply_saturate",
    "apply_shot_noise",
    "apply_snow",
    "apply_spatter",
    "apply_zoom_blur",
    "corrupt",
    "default_scale",
    "disk_kernel",
    "frost_texture",
    "from_unit_hwc",
    "image_layout",
    "motion_kernel",
    "plasma_fractal",
    "sample_brightness",
    "sample_contrast",
    "sample_defocus_blur",
    "sample_elastic_transform",
    "sample_fog",
    "sample_frost",
    "sample_gaussian_blur",
    "sample_gaussian_noise",
    "sample_glass_blur",
    "sample_impulse_noise",
    "sample_jpeg_compression",
    "sample_motion_blur",
    "sample_pixelate",
    "sample_saturate",
    "sample_shot_noise",
    "sample_snow",
    "sample_spatter",
    "sample_speckle_noise",
    "sample_zoom_blur",
    "to_unit_hwc",
]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_RAIN = np.array([175, 238, 238], np.float32) / 255.0  # pale turquoise, RGB
_MUD = np.array([63, 42, 20], np.float32) / 255.0  # mud brown, RGB
_FROST_TINT = np.array([0.85, 0.93, 1.0], np.float32)  # bluish white ice, RGB


# -- helpers ------------------------------------------------------------------------------------------
def _unit(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0.0, 1.0, out=np.empty_like(image, dtype=np.float32))


def _like(result: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``result`` reshaped to ``image``'s shape (OpenCV drops a single channel) as float32 in [0, 1]."""
    return _unit(np.asarray(result, dtype=np.float32).reshape(image.shape))


def _colour(layer: np.ndarray, channels: int) -> np.ndarray:
    """An RGB layer ``(H, W, 3)`` as ``channels`` channels (gray: its luminance)."""
    return layer if channels == 3 else (layer @ _LUMA)[..., None]


def _child_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**63 - 1))


def _gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (kernel truncated at 4 sigma, reflected borders), any sigma >= 0."""
    import cv2

    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REFLECT_101)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
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
    field = _gaussian(noise, sigma / factor)
    if coarse != (height, width):
        field = cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)
    return field.reshape(height, width)


def _clipped_zoom(layer: np.ndarray, zoom: float) -> np.ndarray:
    """The central ``1 / zoom`` of a 2-D layer, resized (bilinear) back to the layer's size."""
    import cv2
    from albumentations.augmentations.geometric import functional as G

    height, width = layer.shape[:2]
    crop_h, crop_w = max(1, math.ceil(height / zoom)), max(1, math.ceil(width / zoom))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return G.resize(np.ascontiguousarray(layer[top : top + crop_h, left : left + crop_w]), (height, width), cv2.INTER_LINEAR)


def _hsv_adjust(image: np.ndarray, channel: int, factor: float, offset: float) -> np.ndarray:
    """``channel`` (1: saturation, 2: value) of an RGB image in HSV, times factor plus offset."""
    import cv2

    hsv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV)
    hsv[..., channel] = np.clip(hsv[..., channel] * factor + offset, 0.0, 1.0)
    return _like(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), image)


# -- noise --------------------------------------------------------------------------------------------
def sample_gaussian_noise(rng: np.random.Generator, shape: tuple[int, ...], *, sigma: float) -> dict[str, Any]:
    return {"noise": rng.normal(0.0, sigma, size=shape).astype(np.float32)}


def apply_additive_noise(image: np.ndarray, *, noise: np.ndarray) -> np.ndarray:
    from albumentations.augmentations.pixel import functional as AF

    return _like(AF.add_noise(image, noise), image)


def sample_shot_noise(rng: np.random.Generator, shape: tuple[int, ...], *, photons: float) -> dict[str, Any]:
    # Poisson noise depends on the image; its generator's seed is drawn here, so apply is deterministic.
    return {"photons": photons, "seed": _child_seed(rng)}


def apply_shot_noise(image: np.ndarray, *, photons: float, seed: int) -> np.ndarray:
    counts = np.random.default_rng(seed).poisson(image.astype(np.float64) * photons)
    return _like(counts / photons, image)


def sample_impulse_noise(rng: np.random.Generator, shape: tuple[int, ...], *, amount: float) -> dict[str, Any]:
    flipped = rng.random(shape) < amount
    salt = rng.random(shape) < 0.5
    return {"salt": flipped & salt, "pepper": flipped & ~salt}


def apply_impulse_noise(image: np.ndarray, *, salt: np.ndarray, pepper: np.ndarray) -> np.ndarray:
    # per value, as ImageNet-C (skimage's random_noise): albumentations' apply_salt_and_pepper takes per-pixel masks
    return np.where(salt, np.float32(1.0), np.where(pepper, np.float32(0.0), image)).astype(np.float32)


def sample_speckle_noise(rng: np.random.Generator, shape: tuple[int, ...], *, sigma: float) -> dict[str, Any]:
    return {"noise": rng.normal(0.0, sigma, size=shape).astype(np.float32)}


def apply_multiplicative_noise(image: np.ndarray, *, noise: np.ndarray) -> np.ndarray:
    from albumentations.augmentations.pixel import functional as AF

    return _like(AF.add_noise(image, image * noise), image)


# -- blur ---------------------------------------------------------------------------------------------
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

    return _like(AF.convolve(image, disk_kernel(radius, alias_blur)), image)


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
        return _like(_gaussian(_gaussian(image, sigma), sigma), image)
    return _like(BF.glass_blur(image, sigma, max_delta, iterations, dxy, "fast"), image)


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

    return _like(AF.convolve(image, motion_kernel(radius, sigma, angle)), image)


def sample_zoom_blur(rng: np.random.Generator, shape: tuple[int, ...], *, zooms: tuple[float, ...]) -> dict[str, Any]:
    return {"zooms": zooms}


def apply_zoom_blur(image: np.ndarray, *, zooms: tuple[float, ...]) -> np.ndarray:
    total = image.astype(np.float32, copy=True)
    for zoom in zooms:
        total += _clipped_zoom(image, zoom).reshape(image.shape)
    return _like(total / (len(zooms) + 1), image)


def sample_gaussian_blur(rng: np.random.Generator, shape: tuple[int, ...], *, sigma: float) -> dict[str, Any]:
    return {"sigma": sigma}


def apply_gaussian_blur(image: np.ndarray, *, sigma: float) -> np.ndarray:
    from albumentations.augmentations.blur import functional as BF
    from albumentations.augmentations.pixel import functional as AF

    return _like(AF.separable_convolve(image, BF.create_gaussian_kernel_1d(sigma)), image)


# -- weather ------------------------------------------------------------------------------------------
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
        finer = np.zeros((2 * n, 2 * n), np.float64)
        finer[::2, ::2] = grid
        # square step: the centre of each square is the mean of its four corners
        corners = grid + np.roll(grid, -1, 0)
        corners = corners + np.roll(corners, -1, 1)
        finer[1::2, 1::2] = corners / 4 + amplitude * rng.uniform(-1, 1, (n, n))
        centres = finer[1::2, 1::2]
        # diamond step: each edge midpoint is the mean of its two corners and two centres
        finer[::2, 1::2] = (grid + np.roll(grid, -1, 1) + centres + np.roll(centres, 1, 0)) / 4 + amplitude * rng.uniform(-1, 1, (n, n))
        finer[1::2, ::2] = (grid + np.roll(grid, -1, 0) + centres + np.roll(centres, 1, 1)) / 4 + amplitude * rng.uniform(-1, 1, (n, n))
        grid = finer
        amplitude /= decay**2
    grid = grid[: shape[0], : shape[1]]
    grid = grid - grid.min()
    top = grid.max()
    return (grid / top if top > 0 else grid).astype(np.float32)


def sample_fog(rng: np.random.Generator, shape: tuple[int, ...], *, amount: float, decay: float) -> dict[str, Any]:
    return {"amount": amount, "plasma": plasma_fractal(rng, (shape[0], shape[1]), decay)}


def apply_fog(image: np.ndarray, *, amount: float, plasma: np.ndarray) -> np.ndarray:
    top = float(image.max())
    fogged = image + amount * plasma[..., None]
    return _like(fogged * (top / (top + amount)), image)


def frost_texture(rng: np.random.Generator, shape: tuple[int, int], crystal: float) -> np.ndarray:
    """A frost-like RGB texture in [0, 1]: cloudy ice (a plasma fractal) under bright ice needles
    about ``crystal`` pixels long, tinted bluish white. ImageNet-C crops photographs of frost instead,
    which pytest-mlguard does not ship."""
    import cv2

    height, width = shape
    cloud = 0.15 + 0.35 * plasma_fractal(rng, shape, 1.6)
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
    needles = _gaussian(needles, 0.05 * crystal)
    texture = np.clip(cloud + 0.8 * needles, 0.0, 1.0)
    return (texture[..., None] * _FROST_TINT).astype(np.float32)


def sample_frost(
    rng: np.random.Generator, shape: tuple[int, ...], *, image_weight: float, frost_weight: float, crystal: float
) -> dict[str, Any]:
    texture = frost_texture(rng, (shape[0], shape[1]), crystal)
    return {"image_weight": image_weight, "frost_weight": frost_weight, "frost": _colour(texture, shape[2])}


def apply_frost(image: np.ndarray, *, image_weight: float, frost_weight: float, frost: np.ndarray) -> np.ndarray:
    return _like(image_weight * image + frost_weight * frost, image)


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
    layer = _clipped_zoom(layer, max(1.0, flake)).reshape(shape[0], shape[1])
    layer[layer < threshold] = 0
    layer = np.clip(layer, 0.0, 1.0)
    angle = float(rng.uniform(-135.0, -45.0))
    layer = apply_motion_blur(layer[..., None], radius=radius, sigma=sigma, angle=angle)[..., 0]
    return {"snow": layer, "blend": blend}


def apply_snow(image: np.ndarray, *, snow: np.ndarray, blend: float) -> np.ndarray:
    gray = image if image.shape[2] == 1 else (image @ _LUMA)[..., None]
    whitened = blend * image + (1 - blend) * np.maximum(image, gray * 1.5 + 0.5)
    return _like(whitened + snow[..., None] + np.rot90(snow, 2)[..., None], image)


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
    from albumentations.augmentations.pixel import functional as AF

    liquid = _gaussian(rng.normal(loc, scale, size=(shape[0], shape[1])).astype(np.float32), sigma)
    liquid = liquid.reshape(shape[0], shape[1])
    liquid[liquid < threshold] = 0
    if mud_sigma is None:  # water drops
        drops = AF.get_rain_params(liquid, _RAIN, float(intensity or 0.0))["drops"]
        return {"drops": _colour(drops.astype(np.float32), shape[2])}
    mask = _gaussian((liquid > threshold).astype(np.float32), mud_sigma).reshape(shape[0], shape[1])
    mask[mask < 0.8] = 0  # ImageNet-C's sharp-edged mud (albumentations' get_mud_params has no cut-off)
    mud = _colour(mask[..., None] * _MUD, shape[2])
    return {"drops": None, "mud": mud, "clear": 1.0 - mask[..., None]}


def apply_spatter(
    image: np.ndarray, *, drops: np.ndarray | None, mud: np.ndarray | None = None, clear: np.ndarray | None = None
) -> np.ndarray:
    from albumentations.augmentations.pixel import functional as AF

    if drops is not None:
        return _like(AF.spatter_rain(image, drops), image)
    return _like(AF.spatter_mud(image, clear, mud), image)


def sample_brightness(rng: np.random.Generator, shape: tuple[int, ...], *, shift: float) -> dict[str, Any]:
    return {"shift": shift}


def apply_brightness(image: np.ndarray, *, shift: float) -> np.ndarray:
    if image.shape[2] == 1:
        return _unit(image + np.float32(shift))
    return _hsv_adjust(image, 2, 1.0, shift)


# -- digital ------------------------------------------------------------------------------------------
def sample_contrast(rng: np.random.Generator, shape: tuple[int, ...], *, factor: float) -> dict[str, Any]:
    return {"factor": factor}


def apply_contrast(image: np.ndarray, *, factor: float) -> np.ndarray:
    mean = image.mean(axis=(0, 1), keepdims=True)
    return _unit((image - mean) * np.float32(factor) + mean)


def sample_elastic_transform(
    rng: np.random.Generator, shape: tuple[int, ...], *, alpha: float, sigma: float, affine: float
) -> dict[str, Any]:
    height, width = shape[0], shape[1]
    centre = np.array([height // 2, width // 2], dtype=np.float32)
    square = min(height, width) // 3
    source = np.array([centre + square, [centre[0] + square, centre[1] - square], centre - square], dtype=np.float32)
    target = source + rng.uniform(-affine, affine, size=source.shape).astype(np.float32)
    dx = _smooth_field(rng, (height, width), sigma) * np.float32(alpha)
    dy = _smooth_field(rng, (height, width), sigma) * np.float32(alpha)
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
    return _like(G.remap(warped, columns + dx, rows + dy, cv2.INTER_LINEAR, cv2.BORDER_REFLECT_101), image)


def sample_pixelate(rng: np.random.Generator, shape: tuple[int, ...], *, factor: float) -> dict[str, Any]:
    return {"factor": factor}


def apply_pixelate(image: np.ndarray, *, factor: float) -> np.ndarray:
    import cv2
    from albumentations.augmentations.geometric import functional as G

    height, width = image.shape[:2]
    small = (max(1, int(height * factor)), max(1, int(width * factor)))
    coarse = G.resize(image, small, cv2.INTER_AREA)
    return _like(G.resize(coarse.reshape(*small, image.shape[2]), (height, width), cv2.INTER_NEAREST), image)


def sample_jpeg_compression(rng: np.random.Generator, shape: tuple[int, ...], *, quality: int) -> dict[str, Any]:
    return {"quality": quality}


def apply_jpeg_compression(image: np.ndarray, *, quality: int) -> np.ndarray:
    from albumentations.augmentations.pixel import functional as AF

    return _like(AF.image_compression(np.ascontiguousarray(image), int(quality), ".jpg"), image)


def sample_saturate(rng: np.random.Generator, shape: tuple[int, ...], *, factor: float, offset: float) -> dict[str, Any]:
    return {"factor": factor, "offset": offset}


def apply_saturate(image: np.ndarray, *, factor: float, offset: float) -> np.ndarray:
    if image.shape[2] == 1:  # a gray image has no saturation to change
        return image.astype(np.float32, copy=True)
    return _hsv_adjust(image, 1, factor, offset)


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
def _as_unit_hwc(image: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """A user's image as HWC float32 in [0, 1] with 1 or 3 channels, and its alpha channel if any."""
    array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)) or 0 in array.shape:
        raise InvalidArgument.expected(
            "an image of shape (H, W) or (H, W, C) with C in 1, 3, 4 and H, W >= 1", "image.shape", array.shape
        )
    if array.dtype == np.uint8:
        unit = array.astype(np.float32) / 255.0
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
) -> np.ndarray:
    """``image`` under ``corruption`` at ``severity``, reproducible from ``seed``.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` with C 1, 3 or 4 (alpha is kept), uint8 in [0, 255] or
            float in [0, 1], any size from 1 x 1.
        corruption: a registry name, such as ``"motion_blur"``.
        severity: 1 to 5.
        seed: an int, or a numpy ``Generator`` to draw from.
        scale: multiplies the spatial parameters (blur radii, displacements); ``None``: the image's
            shorter side / 224, ImageNet-C's size.

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
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    array = np.asarray(image)
    unit, alpha = _as_unit_hwc(array)
    out = spec(unit, int(severity), rng, scale)
    out = np.round(out * 255.0).astype(np.uint8) if array.dtype == np.uint8 else out.astype(array.dtype, copy=False)
    if alpha is not None:  # the input's own alpha, unchanged
        out = np.concatenate([out, array[..., 3:]], axis=2)
    return out.reshape(array.shape)


def default_scale(height: int, width: int) -> float:
    """The default spatial scale of an image: its shorter side / 224 (ImageNet-C's side)."""
    return min(height, width) / REFERENCE_SIDE
