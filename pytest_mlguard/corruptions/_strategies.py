"""A Hypothesis strategy over (corruption, severity, seed), for property-based robustness tests.

Examples shrink towards the lowest severity, then the first corruption (in registry order), then
seed 0, so a failing property reports the least severe corruption that breaks it::

    from hypothesis import given
    from pytest_mlguard.strategies import corruptions

    @given(case=corruptions("brightness", severities=range(1, 3)))
    def test_top1_survives_mild_brightness(case):
        assert model.predict(case.apply_batch(images)).tolist() == clean_predictions

Arguments are validated on first use and each accepts a value or a strategy (Hypothesis'
``extra.numpy.arrays`` style); an invalid one raises :class:`~pytest_mlguard.errors.InvalidArgument`
naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ..errors import InvalidArgument
from ._registry import GROUPS, REGISTRY, SEVERITIES, names as registry_names


_SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class CorruptionCase:
    """One corruption at one severity with one seed: a drawn example of :func:`corruptions`.

    Example:
        >>> case = CorruptionCase("gaussian_noise", 2, seed=0)
        >>> case.apply(np.zeros((4, 4), np.uint8)).shape
        (4, 4)
        >>> str(case)
        'gaussian_noise-2 (seed=0)'
    """

    corruption: str
    severity: int
    seed: int = 0

    def apply(self, image: Any, *, scale: float | None = None) -> np.ndarray:
        """One image, ``(H, W)`` or ``(H, W, C)``, uint8 or float in [0, 1], corrupted."""
        from ._functional import corrupt

        return corrupt(image, self.corruption, self.severity, seed=self.seed, scale=scale)

    def apply_batch(self, images: Any, *, scale: float | None = None) -> np.ndarray:
        """A batch ``(N, H, W)`` or ``(N, H, W, C)``; image ``i`` is corrupted with seed ``[seed, i]``."""
        from ._functional import corrupt

        batch = np.asarray(images)
        if batch.ndim not in (3, 4):
            raise InvalidArgument.expected("a batch of shape (N, H, W) or (N, H, W, C)", "images.shape", batch.shape)
        return np.stack(
            [
                corrupt(image, self.corruption, self.severity, seed=np.random.default_rng([self.seed, i]), scale=scale)
                for i, image in enumerate(batch)
            ]
        )

    def __str__(self) -> str:
        return f"{self.corruption}-{self.severity} (seed={self.seed})"


def _names(value: Any) -> SearchStrategy[str]:
    if isinstance(value, SearchStrategy):
        return value.map(lambda name: _check_name(name, "names"))
    entries = [value] if isinstance(value, str) else value
    if value is None:
        entries = ["all"]
    if not isinstance(entries, Sequence) or not entries:
        raise InvalidArgument.expected("a corruption name, group or 'all', a non-empty sequence of them, or a strategy", "names", value)
    chosen: list[str] = []
    for entry in entries:
        if entry == "all" or entry in GROUPS:
            expanded = registry_names(None if entry == "all" else entry)
        else:
            expanded = (_check_name(entry, "names"),)
        chosen.extend(name for name in expanded if name not in chosen)
    return st.sampled_from(chosen)


def _check_name(name: Any, argument: str) -> str:
    if not isinstance(name, str) or name not in REGISTRY:
        raise InvalidArgument.expected(
            f"a corruption name, one of {', '.join(REGISTRY)}, or a group, one of {', '.join(GROUPS)}", argument, name
        )
    return name


def _check_severity(severity: Any) -> int:
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or severity not in SEVERITIES:
        raise InvalidArgument.expected("a severity, an int in 1..5", "severities", severity)
    return int(severity)


def _severities(value: Any) -> SearchStrategy[int]:
    if isinstance(value, SearchStrategy):
        return value.map(_check_severity)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return st.just(_check_severity(value))
    if not isinstance(value, (Sequence, range)) or isinstance(value, str) or len(value) == 0:
        raise InvalidArgument.expected("a severity 1..5, a non-empty sequence of them, or a strategy", "severities", value)
    return st.sampled_from(sorted({_check_severity(s) for s in value}))


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= _SEED_MAX:
        raise InvalidArgument.expected(f"a seed, an int in [0, {_SEED_MAX}]", "seeds", seed)
    return int(seed)


def _seeds(value: Any) -> SearchStrategy[int]:
    if value is None:
        return st.integers(0, _SEED_MAX)
    if isinstance(value, SearchStrategy):
        return value.map(_check_seed)
    return st.just(_check_seed(value))


def corruptions(
    names: str | Sequence[str] | SearchStrategy[str] | None = None,
    *,
    severities: int | Sequence[int] | SearchStrategy[int] = SEVERITIES,
    seeds: int | SearchStrategy[int] | None = None,
) -> SearchStrategy[CorruptionCase]:
    """Corruptions at severities with seeds, shrinking to the lowest severity and the first name.

    Args:
        names: a corruption name, a group (``noise``, ``blur``, ``weather``, ``digital``), ``all``
            (the default), a sequence of those, or a strategy of names.
        severities: a severity, a sequence of them (``range(1, 3)``: up to 2), or a strategy.
        seeds: a seed, or a strategy of seeds; ``None``: any 32-bit seed, shrinking to 0.

    Example:
        >>> from hypothesis import find
        >>> find(corruptions("blur", severities=range(2, 6)), lambda case: True)
        CorruptionCase(corruption='defocus_blur', severity=2, seed=0)
    """

    def build() -> SearchStrategy[CorruptionCase]:
        # severity first: the shrinker minimises earlier choices first
        return st.tuples(_severities(severities), _names(names), _seeds(seeds)).map(
            lambda drawn: CorruptionCase(drawn[1], drawn[0], drawn[2])
        )

    return st.deferred(build)
