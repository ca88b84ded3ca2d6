"""The published parameter sets the corruptions follow, one per image size, and the rule between them.

Hendrycks and Dietterich published three sets of per-severity parameters (hendrycks/robustness,
``ImageNet-C/create_c``): ImageNet-C for 224 x 224 images (``make_imagenet_c.py``, the parameters of
:mod:`pytest_mlguard.corruptions._registry`), Tiny-ImageNet-C for 64 x 64 (``make_tinyimagenet_c.py``)
and CIFAR-10-C for 32 x 32 (``make_cifar_c.py``). The small-image sets are not ImageNet-C scaled down:
their noise levels, JPEG qualities and pixelation factors differ too, and results on CIFAR-10-C and
Tiny-ImageNet-C in papers are measured with them.

The rule (``corruption.reference = "auto"``, the default): an image whose shorter side is ``s`` takes
the published set whose side is nearest to ``s`` by ratio (CIFAR-10-C up to 45 pixels, Tiny-ImageNet-C
from 46 to 119, ImageNet-C from 120), and that set's spatial parameters (lengths in pixels) are
multiplied by ``s / side``, except that a set is never scaled below its own side for images smaller
than the smallest published one (CIFAR-10-C's parameters are used as published from 1 to 32 pixels:
scaled further down, a blur of 0.4 pixels would change nothing). ``corruption.reference`` forces one
set, still scaled to the image; ``corruption.scale`` replaces the scale.

Example:
    >>> reference_for(32), reference_for(56), reference_for(224), reference_for(8)
    ('cifar-10-c', 'tiny-imagenet-c', 'imagenet-c', 'cifar-10-c')
    >>> auto_scale(8, "auto"), auto_scale(112, "auto"), auto_scale(448, "imagenet-c")
    (1.0, 1.75, 2.0)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any, Literal

ReferenceName = Literal["imagenet-c", "tiny-imagenet-c", "cifar-10-c"]
#: the published sets, smallest side first: the image side each was defined at
REFERENCE_SIDES: dict[ReferenceName, int] = {"cifar-10-c": 32, "tiny-imagenet-c": 64, "imagenet-c": 224}
REFERENCES: tuple[ReferenceName, ...] = tuple(REFERENCE_SIDES)


class Scale(float):
    """A spatial scale that remembers the reference it scales (a float, so reports stay JSON-safe).

    Example:
        >>> s = Scale(0.5, "tiny-imagenet-c")
        >>> s * 2, s.reference
        (1.0, 'tiny-imagenet-c')
    """

    reference: str

    def __new__(cls, value: float, reference: str = "auto") -> Scale:  # noqa: PYI034 - typing.Self is 3.11+
        scale = super().__new__(cls, value)
        scale.reference = reference
        return scale

    def __reduce__(self) -> tuple[Any, ...]:
        return (Scale, (float(self), self.reference))


@functools.lru_cache(maxsize=256)
def reference_for(side: int, setting: str = "auto") -> ReferenceName:
    """The published set an image of shorter side ``side`` follows: ``setting`` if not ``auto``,
    else the one whose side is nearest by ratio."""
    if setting != "auto":
        if setting not in REFERENCE_SIDES:
            raise ValueError(f"expected a reference, one of auto, {', '.join(REFERENCES)}; got {setting!r}")
        return setting  # checked against the keys just above
    return min(REFERENCES, key=lambda name: abs(math.log(max(side, 1) / REFERENCE_SIDES[name])))


@functools.lru_cache(maxsize=256)
def auto_scale(side: int, setting: str = "auto") -> float:
    """The spatial scale of an image of shorter side ``side`` under its reference: ``side / set side``,
    at least 1 under CIFAR-10-C (the smallest set); a forced larger set scales down freely."""
    reference = reference_for(side, setting)
    scale = side / REFERENCE_SIDES[reference]
    if reference == REFERENCES[0]:  # CIFAR-10-C's own parameters are the floor
        scale = max(scale, 1.0)
    return scale


def per_severity(**columns: tuple[Any, ...]) -> tuple[dict[str, Any], ...]:
    """``per_severity(a=(1, 2, 3, 4, 5))`` -> ``({"a": 1}, {"a": 2}, ...)``."""
    return tuple({key: values[i] for key, values in columns.items()} for i in range(5))


def zooms(count: int, step: float) -> tuple[float, ...]:
    """``count`` zoom factors ``1, 1 + step, ...``: ImageNet-C's ``np.arange(1, stop, step)``, whose
    floating-point ``stop`` gives 12 factors for ``arange(1, 1.11, 0.01)``, one more than it reads."""
    return tuple(round(1.0 + i * step, 4) for i in range(count))


def _drops(*rows: tuple[float, ...]) -> tuple[dict[str, Any], ...]:
    """Spatter rows as published, ``(loc, scale, sigma, threshold, intensity or mud sigma, mud)``."""
    keys = ("loc", "scale", "sigma", "threshold")
    return tuple({**dict(zip(keys, row[:4])), ("mud_sigma" if row[5] else "intensity"): row[4]} for row in rows)


def _snow(*rows: tuple[float, ...]) -> tuple[dict[str, Any], ...]:
    """Snow rows as published, ``(loc, scale, flake, threshold, radius, sigma, blend)``."""
    return tuple(dict(zip(("loc", "scale", "flake", "threshold", "radius", "sigma", "blend"), row)) for row in rows)


def _elastic(side: int, *rows: tuple[float, float, float]) -> tuple[dict[str, Any], ...]:
    """Elastic rows as published, ``IMSIZE * (alpha, sigma, affine)``."""
    return tuple({"alpha": side * a, "sigma": side * s, "affine": side * f} for a, s, f in rows)


_CIFAR_10_C: dict[str, tuple[Mapping[str, Any], ...]] = {
    "gaussian_noise": per_severity(sigma=(0.04, 0.06, 0.08, 0.09, 0.10)),
    "shot_noise": per_severity(photons=(500, 250, 100, 75, 50)),
    "impulse_noise": per_severity(amount=(0.01, 0.02, 0.03, 0.05, 0.07)),
    "speckle_noise": per_severity(sigma=(0.06, 0.1, 0.12, 0.16, 0.2)),
    "defocus_blur": per_severity(radius=(0.3, 0.4, 0.5, 1, 1.5), alias_blur=(0.4, 0.5, 0.6, 0.2, 0.1)),
    "glass_blur": per_severity(sigma=(0.05, 0.25, 0.4, 0.25, 0.4), max_delta=(1, 1, 1, 1, 1), iterations=(1, 1, 1, 2, 2)),
    "motion_blur": per_severity(radius=(6, 6, 6, 8, 9), sigma=(1, 1.5, 2, 2, 2.5)),
    "zoom_blur": per_severity(zooms=(zooms(7, 0.01), zooms(12, 0.01), zooms(16, 0.01), zooms(21, 0.01), zooms(26, 0.01))),
    "gaussian_blur": per_severity(sigma=(0.4, 0.6, 0.7, 0.8, 1)),
    "snow": _snow(
        (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
        (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
    ),
    # the frost photographs are shrunk to 0.2 before cropping: crystals 0.2 times ImageNet-C's
    "frost": per_severity(image_weight=(1, 1, 0.9, 0.85, 0.75), frost_weight=(0.2, 0.3, 0.4, 0.4, 0.45), crystal=(2.4,) * 5),
    "fog": per_severity(amount=(0.2, 0.5, 0.75, 1, 1.5), decay=(3, 3, 2.5, 2, 1.75)),
    "brightness": per_severity(shift=(0.05, 0.1, 0.15, 0.2, 0.3)),
    "spatter": _drops(
        (0.62, 0.1, 0.7, 0.7, 0.5, 0),
        (0.65, 0.1, 0.8, 0.7, 0.5, 0),
        (0.65, 0.3, 1, 0.69, 0.5, 0),
        (0.65, 0.1, 0.7, 0.69, 0.6, 1),
        (0.65, 0.1, 0.5, 0.68, 0.6, 1),
    ),
    "contrast": per_severity(factor=(0.75, 0.5, 0.4, 0.3, 0.15)),
    "elastic_transform": _elastic(
        32, (0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03)
    ),
    "pixelate": per_severity(factor=(0.95, 0.9, 0.85, 0.75, 0.65)),
    "jpeg_compression": per_severity(quality=(80, 65, 58, 50, 40)),
    "saturate": per_severity(factor=(0.3, 0.1, 1.5, 2, 2.5), offset=(0, 0, 0, 0.1, 0.2)),
}

_TINY_IMAGENET_C: dict[str, tuple[Mapping[str, Any], ...]] = {
    "gaussian_noise": per_severity(sigma=(0.04, 0.08, 0.12, 0.15, 0.18)),
    "shot_noise": per_severity(photons=(250, 100, 50, 30, 15)),
    "impulse_noise": per_severity(amount=(0.01, 0.02, 0.05, 0.08, 0.14)),
    "speckle_noise": per_severity(sigma=(0.15, 0.2, 0.25, 0.3, 0.35)),
    "defocus_blur": per_severity(radius=(0.5, 1, 1.5, 2.5, 3), alias_blur=(0.6, 0.1, 0.1, 0.01, 0.1)),
    "glass_blur": per_severity(sigma=(0.1, 0.5, 0.6, 0.7, 0.9), max_delta=(1, 1, 1, 2, 2), iterations=(1, 1, 2, 1, 2)),
    "motion_blur": per_severity(radius=(10, 10, 10, 10, 12), sigma=(1, 1.5, 2, 2.5, 3)),
    "zoom_blur": _CIFAR_10_C["zoom_blur"],
    "gaussian_blur": per_severity(sigma=(0.5, 0.75, 1, 1.25, 1.5)),
    "snow": _snow(
        (0.1, 0.2, 1, 0.6, 8, 3, 0.8),
        (0.1, 0.2, 1, 0.5, 10, 4, 0.8),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.7),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.65),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.6),
    ),
    # the frost photographs are shrunk to 0.3 before cropping
    "frost": per_severity(image_weight=(1, 0.9, 0.8, 0.75, 0.7), frost_weight=(0.3, 0.4, 0.45, 0.5, 0.55), crystal=(3.6,) * 5),
    "fog": per_severity(amount=(0.4, 0.7, 1, 1.5, 2), decay=(3, 3, 2.5, 2, 1.75)),
    "brightness": per_severity(shift=(0.1, 0.2, 0.3, 0.4, 0.5)),
    "spatter": _drops(
        (0.62, 0.1, 0.7, 0.7, 0.6, 0),
        (0.65, 0.1, 0.8, 0.7, 0.6, 0),
        (0.65, 0.3, 1, 0.69, 0.6, 0),
        (0.65, 0.1, 0.7, 0.68, 0.6, 1),
        (0.65, 0.1, 0.5, 0.67, 0.6, 1),
    ),
    "contrast": per_severity(factor=(0.4, 0.3, 0.2, 0.1, 0.05)),
    "elastic_transform": _elastic(
        64, (0, 0, 0.08), (0.05, 0.3, 0.06), (0.1, 0.08, 0.06), (0.1, 0.03, 0.03), (0.16, 0.03, 0.02)
    ),
    "pixelate": per_severity(factor=(0.9, 0.8, 0.7, 0.6, 0.5)),
    "jpeg_compression": per_severity(quality=(65, 58, 50, 40, 25)),
    "saturate": per_severity(factor=(0.3, 0.1, 2, 5, 30), offset=(0, 0, 0, 0.1, 0.2)),
}


def small_image_params(reference: str) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
    """The per-severity parameters of the small-image sets, by corruption (ImageNet-C's are the
    registry's own)."""
    return {"cifar-10-c": _CIFAR_10_C, "tiny-imagenet-c": _TINY_IMAGENET_C}[reference]


#: severities ``s`` whose published parameters do less damage at ``s + 1`` than at ``s`` (mean absolute
#: difference from the clean image, averaged over photos), by parameter set: kept as published.
NOT_MONOTONE: dict[str, dict[str, tuple[int, ...]]] = {
    "imagenet-c": {
        "elastic_transform": (1, 2, 3, 4),  # severities 1-2 warp the whole image, 3-5 locally
        "frost": (3,),  # image weight .7 -> .65 at the same frost weight .7: less bright
        "saturate": (2,),  # saturation x.1 at 2, x2 at 3
    },
    "tiny-imagenet-c": {
        "elastic_transform": (1, 2, 3, 4),
        "frost": (2,),
        "glass_blur": (1,),  # blur sigma .1 -> .5 before the same swaps: smoother, less changed
        "saturate": (2,),
        "spatter": (3,),  # water drops at 1-3, mud at 4-5
    },
    "cifar-10-c": {
        "elastic_transform": (1, 2, 3, 4),  # severity 1 is an affine warp of 2.6 pixels alone
        "frost": (3, 4),  # image weight .9 -> .85 -> .75 at frost weights .4, .4, .45
        "glass_blur": (1, 2, 4),  # sigma .05 and .25 both below a pixel; 4 -> 5 more blur, same swaps
        "motion_blur": (3,),  # radius 6 -> 8 at the same sigma 2: the added taps weigh nothing
        "saturate": (2,),
        "spatter": (3,),
    },
}
#: more, below CIFAR-10-C's 32 pixels, where its parameters are used unscaled
NOT_MONOTONE_BELOW_32: dict[str, tuple[int, ...]] = {
    "pixelate": (1, 3),  # 8 pixels x .95 and x .9 both give 7; x .85 and x .75 both 6
    "snow": (2,),  # a few flakes on a few pixels
}
