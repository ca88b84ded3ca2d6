"""The 19 corruptions on detection scenes, and mPC / rPC (Michaelis et al. 2019, "Benchmarking Robustness
in Object Detection").

Each image of a batch is corrupted with :func:`pytest_mlguard.corruptions.corrupt` (the same functions,
parameters and published reference sets as the classification checks), seeded per image. **Targets are
kept**, as COCO-C, Pascal-C and Cityscapes-C keep them: none of the 19 moves an object. The one that
displaces pixels, ``elastic_transform``, moves them by a few pixels in a smooth field and keeps every
object where it was on average, and ``zoom_blur`` averages zooms centred on the image without moving the
image itself; the published benchmarks score both against the original boxes, and so does this module.

Example:
    >>> images = np.full((2, 3, 16, 16), 0.5, np.float32)
    >>> [image.shape for image in corrupt_images(images, "gaussian_noise", 3, seed=0)]
    [(3, 16, 16), (3, 16, 16)]
    >>> performance_under_corruption({("gaussian_noise", 1): 0.4, ("gaussian_noise", 2): 0.2}, clean=0.6)
    {'mPC': 0.3, 'rPC': 0.5}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..corruptions._functional import corrupt


def corrupt_images(
    images: Sequence[np.ndarray], corruption: str, severity: int, *, seed: int = 0, scale: float | None = None, reference: str = "auto", ids: Sequence[int] | None = None
) -> list[np.ndarray]:
    """``images`` (float (C, H, W) in [0, 1], torchvision's layout, sizes may differ) under ``corruption``
    at ``severity``; image ``i`` is corrupted from the seed ``(seed, i)``, or ``(seed, ids[i])`` where ``ids``
    name the images' places in the data, so a subset is corrupted as in the whole."""
    out = []
    for i, image in enumerate(images):
        rng = np.random.default_rng([seed, i if ids is None else int(ids[i])])
        hwc = np.ascontiguousarray(np.asarray(image, np.float32).transpose(1, 2, 0))
        out.append(np.ascontiguousarray(corrupt(hwc, corruption, severity, seed=rng, scale=scale, reference=reference).transpose(2, 0, 1)))
    return out


def performance_under_corruption(values: Mapping[tuple[str, int], float], clean: float) -> dict[str, float | None]:
    """mPC, the mean of the metric (mAP) over the (corruption, severity) cells measured, and rPC = mPC /
    clean (``None`` with a clean metric of 0)."""
    if not values:
        return {"mPC": None, "rPC": None}
    mpc = float(np.mean(list(values.values())))
    return {"mPC": round(mpc, 6), "rPC": round(mpc / clean, 6) if clean > 0 else None}
