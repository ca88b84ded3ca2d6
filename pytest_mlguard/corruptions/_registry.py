"""The corruption registry: the 19 ImageNet-C corruptions, their groups and five severities each.

Each corruption is split, in the manner of albumentations' ``get_params`` then ``apply``, into
``sample_params(rng, shape, **severity)`` (all randomness) and a deterministic
``apply(image, **params)``, so every corrupted image is reproducible from one seed (shot noise, whose
Poisson numbers depend on the image, hands ``apply`` the image's own generator to draw them). Importing this
module imports nothing heavy; numpy, OpenCV and albumentations are imported when a corruption runs.

The severity parameters below are those of Hendrycks and Dietterich's ImageNet-C
(``make_imagenet_c.py``), defined on 224 x 224 images; small images follow CIFAR-10-C's and
Tiny-ImageNet-C's published sets instead (:mod:`pytest_mlguard.corruptions._references`, which holds the
rule). Parameters that are lengths in pixels (blur radii and sigmas, pixel displacements, flake and
crystal sizes) are listed in ``spatial`` and multiplied by ``scale`` (by default the image's shorter
side / the set's side), so that a severity blurs a 448 x 448 image as much, relative to its size, as
it blurs a 224 x 224 one. Everything else (noise levels, blend weights, zoom factors, JPEG quality)
applies per pixel or relative to the image size and is used as published. docs/corruptions.md
tabulates the mapping and where it departs from the original.

Example:
    >>> REGISTRY["motion_blur"].group, REGISTRY["motion_blur"].params_for(3)["radius"]
    ('blur', 15)
    >>> REGISTRY["motion_blur"].params_for(3, scale=0.5)["radius"]
    7.5
    >>> REGISTRY["motion_blur"].params_for(3, reference="cifar-10-c")
    {'radius': 6, 'sigma': 2}
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ._references import REFERENCE_SIDES, auto_scale, per_severity, reference_for, small_image_params, zooms

if TYPE_CHECKING:
    import numpy as np

SEVERITIES = (1, 2, 3, 4, 5)
REFERENCE_SIDE = REFERENCE_SIDES["imagenet-c"]  # ImageNet-C's image side: the registry's parameters are in pixels at this size

Group = Literal["noise", "blur", "weather", "digital"]
GROUPS: tuple[Group, ...] = ("noise", "blur", "weather", "digital")


@dataclass(frozen=True)
class Corruption:
    """A corruption: its group, per-severity parameters and its sample/apply pair.

    Attributes:
        name: the registry name, as in ImageNet-C (``motion_blur``).
        group: ``noise``, ``blur``, ``weather`` or ``digital``, as in the ImageNet-C paper.
        severity_params: the parameters of severities 1..5 of ImageNet-C, at its side of 224 pixels
            (CIFAR-10-C's and Tiny-ImageNet-C's are in :mod:`~pytest_mlguard.corruptions._references`).
        sample: name of the ``sample_*`` function of :mod:`pytest_mlguard.corruptions._functional`.
        apply_name: name of its ``apply_*`` function.
        spatial: parameters that are lengths in pixels, multiplied by the scale.
        integer: spatial parameters that must stay whole pixels (rounded, at least 1).
        held_out: one of the four corruptions ImageNet-C holds out for validation (speckle noise,
            Gaussian blur, spatter, saturate); the mCE of the paper averages the other 15.
        colour_only: changes colour only, so it leaves gray images unchanged.
        deterministic: draws no random number, so :func:`~.functional.corrupt` makes no generator.
        takes_bytes: ``apply`` also takes a uint8 image (and then returns one): the 8-bit
            corruptions (pixelate, JPEG) skip the float round trip for uint8 input, and shot noise
            draws a uint8 image's values from per-level tables.
        doc: one line for the docs.
    """

    name: str
    group: Group
    severity_params: tuple[Mapping[str, Any], ...]
    sample: str
    apply_name: str
    spatial: tuple[str, ...] = ()
    integer: tuple[str, ...] = ()
    held_out: bool = False
    colour_only: bool = False
    deterministic: bool = False
    takes_bytes: bool = False
    doc: str = ""

    @functools.cached_property
    def sample_params(self) -> Callable[..., dict[str, Any]]:
        return getattr(importlib.import_module("._functional", __package__), self.sample)

    @functools.cached_property
    def apply(self) -> Callable[..., np.ndarray]:
        return getattr(importlib.import_module("._functional", __package__), self.apply_name)

    def params_for(self, severity: int, scale: float = 1.0, reference: str = "imagenet-c") -> dict[str, Any]:
        """The parameters of ``severity`` in the published set ``reference``, spatial ones multiplied
        by ``scale``."""
        if isinstance(severity, bool) or severity not in SEVERITIES:
            raise ValueError(f"expected a severity in 1..5 for corruption {self.name!r}, got {severity!r}")
        table = self.severity_params if reference == "imagenet-c" else small_image_params(reference)[self.name]
        params = dict(table[severity - 1])
        if scale != 1.0:
            for key in self.spatial:
                if key in params:
                    params[key] = params[key] * scale
        for key in self.integer:
            if key in params:
                params[key] = max(1, int(round(params[key])))
        return params

    def __call__(
        self, image: np.ndarray, severity: int, rng: np.random.Generator, scale: float | None = None, reference: str = "auto"
    ) -> np.ndarray:
        """Corrupt one HWC float32 image in [0, 1] with 1 or 3 channels at ``severity``.

        ``reference``: the published parameter set (``auto``: by the image's size); a
        :class:`~pytest_mlguard.corruptions._references.Scale` passed as ``scale`` brings its own.
        ``scale`` multiplies the spatial parameters; ``None``: the image's shorter side / the set's.
        """
        side = min(image.shape[0], image.shape[1])
        chosen = reference_for(side, getattr(scale, "reference", reference))
        if scale is None:
            scale = auto_scale(side, chosen)
        params = self.sample_params(rng, image.shape, **self.params_for(severity, float(scale), chosen))
        return self.apply(image, **params)


_CORRUPTIONS = (
    # -- noise ---------------------------------------------------------------------------------------
    Corruption(
        "gaussian_noise",
        "noise",
        per_severity(sigma=(0.08, 0.12, 0.18, 0.26, 0.38)),
        "sample_gaussian_noise",
        "apply_additive_noise",
        doc="additive Gaussian noise of standard deviation sigma (pixel units in [0, 1])",
    ),
    Corruption(
        "shot_noise",
        "noise",
        per_severity(photons=(60, 25, 12, 5, 3)),
        "sample_shot_noise",
        "apply_shot_noise",
        takes_bytes=True,
        doc="Poisson (photon) noise: each value becomes Poisson(value * photons) / photons",
    ),
    Corruption(
        "impulse_noise",
        "noise",
        per_severity(amount=(0.03, 0.06, 0.09, 0.17, 0.27)),
        "sample_impulse_noise",
        "apply_impulse_noise",
        doc="salt-and-pepper noise: a fraction amount of the values set to 0 or 1",
    ),
    Corruption(
        "speckle_noise",
        "noise",
        per_severity(sigma=(0.15, 0.2, 0.35, 0.45, 0.6)),
        "sample_speckle_noise",
        "apply_multiplicative_noise",
        held_out=True,
        doc="multiplicative Gaussian noise: x + x * N(0, sigma)",
    ),
    # -- blur ----------------------------------------------------------------------------------------
    Corruption(
        "defocus_blur",
        "blur",
        per_severity(radius=(3, 4, 6, 8, 10), alias_blur=(0.1, 0.5, 0.5, 0.5, 0.5)),
        "sample_defocus_blur",
        "apply_defocus_blur",
        deterministic=True,
        spatial=("radius", "alias_blur"),
        doc="convolution with an anti-aliased disk of the given radius",
    ),
    Corruption(
        "glass_blur",
        "blur",
        per_severity(sigma=(0.7, 0.9, 1.0, 1.1, 1.5), max_delta=(1, 2, 2, 3, 4), iterations=(2, 1, 3, 2, 2)),
        "sample_glass_blur",
        "apply_glass_blur",
        spatial=("sigma", "max_delta"),
        doc="Gaussian blur, local pixel swaps within max_delta, Gaussian blur again",
    ),
    Corruption(
        "motion_blur",
        "blur",
        per_severity(radius=(10, 15, 15, 15, 20), sigma=(3, 5, 8, 12, 15)),
        "sample_motion_blur",
        "apply_motion_blur",
        spatial=("radius", "sigma"),
        doc="one-sided Gaussian-weighted line blur at a random angle in [-45, 45] degrees",
    ),
    Corruption(
        "zoom_blur",
        "blur",
        per_severity(
            zooms=(zooms(12, 0.01), zooms(16, 0.01), zooms(11, 0.02), zooms(13, 0.02), zooms(11, 0.03))
        ),
        "sample_zoom_blur",
        "apply_zoom_blur",
        deterministic=True,
        doc="mean of the image and its central zooms by each factor",
    ),
    Corruption(
        "gaussian_blur",
        "blur",
        per_severity(sigma=(1, 2, 3, 4, 6)),
        "sample_gaussian_blur",
        "apply_gaussian_blur",
        deterministic=True,
        spatial=("sigma",),
        held_out=True,
        doc="Gaussian blur of standard deviation sigma",
    ),
    # -- weather -------------------------------------------------------------------------------------
    Corruption(
        "snow",
        "weather",
        per_severity(
            loc=(0.1, 0.2, 0.55, 0.55, 0.55),
            scale=(0.3, 0.3, 0.3, 0.3, 0.3),
            flake=(3, 2, 4, 4.5, 2.5),
            threshold=(0.5, 0.5, 0.9, 0.85, 0.85),
            radius=(10, 12, 12, 12, 12),
            sigma=(4, 4, 8, 8, 12),
            blend=(0.8, 0.7, 0.7, 0.65, 0.55),
        ),
        "sample_snow",
        "apply_snow",
        spatial=("flake", "radius", "sigma"),
        doc="falling snow: thresholded zoomed noise, motion-blurred, over a whitened image",
    ),
    Corruption(
        "frost",
        "weather",
        per_severity(image_weight=(1.0, 0.8, 0.7, 0.65, 0.6), frost_weight=(0.4, 0.6, 0.7, 0.7, 0.75), crystal=(12,) * 5),
        "sample_frost",
        "apply_frost",
        spatial=("crystal",),
        doc="image_weight * image + frost_weight * a generated frost texture (ImageNet-C blends photos)",
    ),
    Corruption(
        "fog",
        "weather",
        per_severity(amount=(1.5, 2.0, 2.5, 2.5, 3.0), decay=(2.0, 2.0, 1.7, 1.5, 1.4)),
        "sample_fog",
        "apply_fog",
        doc="a plasma fractal of the given wibble decay added with weight amount, rescaled",
    ),
    Corruption(
        "brightness",
        "weather",
        per_severity(shift=(0.1, 0.2, 0.3, 0.4, 0.5)),
        "sample_brightness",
        "apply_brightness",
        deterministic=True,
        doc="value (HSV) raised by shift; gray images: every pixel raised by shift",
    ),
    Corruption(
        "spatter",
        "weather",
        (
            {"loc": 0.65, "scale": 0.3, "sigma": 4, "threshold": 0.69, "intensity": 0.6},
            {"loc": 0.65, "scale": 0.3, "sigma": 3, "threshold": 0.68, "intensity": 0.6},
            {"loc": 0.65, "scale": 0.3, "sigma": 2, "threshold": 0.68, "intensity": 0.5},
            {"loc": 0.65, "scale": 0.3, "sigma": 1, "threshold": 0.65, "mud_sigma": 1.5},
            {"loc": 0.67, "scale": 0.4, "sigma": 1, "threshold": 0.65, "mud_sigma": 1.5},
        ),
        "sample_spatter",
        "apply_spatter",
        spatial=("sigma", "mud_sigma"),
        held_out=True,
        doc="water drops (severities 1-3) or mud (4-5) splashed on the lens",
    ),
    # -- digital -------------------------------------------------------------------------------------
    Corruption(
        "contrast",
        "digital",
        per_severity(factor=(0.4, 0.3, 0.2, 0.1, 0.05)),
        "sample_contrast",
        "apply_contrast",
        deterministic=True,
        doc="values pulled towards the per-channel mean: mean + factor * (x - mean)",
    ),
    Corruption(
        "elastic_transform",
        "digital",
        per_severity(
            alpha=(488.0, 488.0, 12.2, 17.08, 29.28),
            sigma=(170.8, 19.52, 2.44, 2.44, 2.44),
            affine=(24.4, 48.8, 4.88, 4.88, 4.88),
        ),
        "sample_elastic_transform",
        "apply_elastic_transform",
        spatial=("alpha", "sigma", "affine"),
        doc="a random affine warp of up to affine pixels, then a smooth random displacement field",
    ),
    Corruption(
        "pixelate",
        "digital",
        per_severity(factor=(0.6, 0.5, 0.4, 0.3, 0.25)),
        "sample_pixelate",
        "apply_pixelate",
        deterministic=True,
        takes_bytes=True,
        doc="downscaled by factor (area) and upscaled back (nearest)",
    ),
    Corruption(
        "jpeg_compression",
        "digital",
        per_severity(quality=(25, 18, 15, 10, 7)),
        "sample_jpeg_compression",
        "apply_jpeg_compression",
        deterministic=True,
        takes_bytes=True,
        doc="JPEG encoded at the given quality and decoded",
    ),
    Corruption(
        "saturate",
        "digital",
        per_severity(factor=(0.3, 0.1, 2.0, 5.0, 20.0), offset=(0.0, 0.0, 0.0, 0.1, 0.2)),
        "sample_saturate",
        "apply_saturate",
        deterministic=True,
        held_out=True,
        colour_only=True,
        doc="saturation (HSV) multiplied by factor, plus offset; gray images are unchanged",
    ),
)

REGISTRY: dict[str, Corruption] = {c.name: c for c in _CORRUPTIONS}


def get(name: str) -> Corruption:
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown corruption {name!r}; expected one of {sorted(REGISTRY)}") from None


def names(group: str | None = None) -> tuple[str, ...]:
    """Corruption names in registry order, all or those of one ``group``."""
    return tuple(name for name, c in REGISTRY.items() if group is None or c.group == group)
