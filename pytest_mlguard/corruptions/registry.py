"""The corruption registry: names, groups and the five severities of each corruption.

Each corruption is split, in the manner of albumentations' ``get_params`` then ``apply``, into
``sample_params(rng, shape, **severity)`` (all randomness) and a deterministic
``apply(image, **params)``, so every corrupted image is reproducible from one seed. Importing this
module imports nothing heavy; albumentations is imported when a corruption is applied.

Example:
    >>> REGISTRY["gaussian_noise"].group
    'noise'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["REGISTRY", "SEVERITIES", "Corruption", "get"]

SEVERITIES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Corruption:
    """A corruption: its group, per-severity parameters and its sample/apply pair.

    ``sample`` and ``apply`` name functions of :mod:`pytest_mlguard.corruptions.functional`, resolved
    on first use so that the registry imports nothing heavy.
    """

    name: str
    group: str
    severity_params: tuple[Mapping[str, Any], ...]
    sample: str
    apply_name: str
    doc: str = ""

    @property
    def sample_params(self) -> Callable[..., dict[str, Any]]:
        return getattr(importlib.import_module(f"{__package__}.functional"), self.sample)

    @property
    def apply(self) -> Callable[..., np.ndarray]:
        return getattr(importlib.import_module(f"{__package__}.functional"), self.apply_name)

    def params_for(self, severity: int) -> Mapping[str, Any]:
        if severity not in SEVERITIES:
            raise ValueError(f"expected a severity in 1..5 for corruption {self.name!r}, got {severity!r}")
        return self.severity_params[severity - 1]

    def __call__(self, image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
        """Corrupt one HWC image in [0, 1] (float32) at ``severity``."""
        params = self.sample_params(rng, image.shape, **self.params_for(severity))
        return self.apply(image, **params)


REGISTRY: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption(
            "gaussian_noise",
            "noise",
            tuple({"sigma": s} for s in (0.08, 0.12, 0.18, 0.26, 0.38)),
            "sample_gaussian_noise",
            "apply_additive_noise",
            "additive Gaussian noise, sigma as in ImageNet-C",
        ),
    )
}


def get(name: str) -> Corruption:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown corruption {name!r}; expected one of {sorted(REGISTRY)}") from None
