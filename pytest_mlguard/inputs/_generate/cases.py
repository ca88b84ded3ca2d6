"""What every generator draws: a :class:`Case`, the checks of its arguments, sizes and pixels.

Every argument takes a value or a strategy of values. Values are validated on first use (the
strategy is ``st.deferred``); drawn values when drawn. Either way a bad argument raises
:class:`~pytest_mlguard.errors.InvalidArgument` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ...errors import InvalidArgument

#: the pixel contents, simplest first: a flat colour, a gradient, a checkerboard, noise
PATTERNS: tuple[str, ...] = ("constant", "gradient", "checker", "noise")


@dataclass(frozen=True)
class Case:
    """One generated input.

    Attributes:
        raw: what the pipeline receives (file bytes, a record, an array).
        description: what it is, for reports (``PNG 1x1 L truncated at 8 of 67 bytes``).
        suffix: the file extension to save it with (``.png``, ``.json``, ``.npy``).
        valid: whether it is a valid input (a valid input must get a prediction, not a rejection).
        pixels: the array the file was made from, if any (saved as ``.npy`` beside a failing file).
    """

    raw: Any = field(repr=False)
    description: str
    suffix: str = ".bin"
    valid: bool = False
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)


# -- argument handling ------------------------------------------------------------------------------
def _fail(what: str, name: str, value: Any, drawn: bool) -> InvalidArgument:
    if drawn:
        return InvalidArgument(
            f"Expected {what} but got {name}={value!r} (type={type(value).__name__}), drawn from the strategy passed as {name}"
        )
    return InvalidArgument.expected(what, name, value)


def _choices(value: Any, name: str, allowed: Sequence[Any]) -> tuple[Any, ...] | SearchStrategy[Any]:
    """A choice argument: one allowed value, a non-empty sequence of them, or a strategy."""
    if isinstance(value, SearchStrategy):
        return value
    values = (value,) if isinstance(value, (str, int, float)) or value is None else tuple(value)
    if not values or any(v not in allowed for v in values):
        raise _fail(f"one of {tuple(allowed)!r} or a non-empty sequence of them", name, value, False)
    return tuple(dict.fromkeys(values))


def _pick(draw: Callable[[SearchStrategy[Any]], Any], choices: Any, name: str, allowed: Sequence[Any]) -> Any:
    """Draw one of ``choices`` (a tuple: in order, shrinking to the first; a strategy: drawn, checked)."""
    if isinstance(choices, SearchStrategy):
        value = draw(choices)
        if value not in allowed:
            raise _fail(f"one of {tuple(allowed)!r}", name, value, True)
        return value
    return draw(st.sampled_from(choices))


def _integer(value: Any, name: str, low: int, high: int | None = None) -> int | SearchStrategy[int]:
    if isinstance(value, SearchStrategy):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (high is not None and value > high):
        raise _fail(f"an int in [{low}, {'inf' if high is None else high}]", name, value, False)
    return int(value)


def _draw_integer(draw: Callable[[SearchStrategy[Any]], Any], value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, SearchStrategy):
        drawn = draw(value)
        if isinstance(drawn, bool) or not isinstance(drawn, (int, np.integer)) or drawn < low or (high is not None and drawn > high):
            raise _fail(f"an int in [{low}, {'inf' if high is None else high}]", name, drawn, True)
        return int(drawn)
    return int(value)


def _flag(value: Any, name: str) -> bool | SearchStrategy[bool]:
    if isinstance(value, (SearchStrategy, bool)):
        return value
    raise _fail("a bool or a strategy of bools", name, value, False)


def _draw_flag(draw: Callable[[SearchStrategy[Any]], Any], value: Any, name: str) -> bool:
    if isinstance(value, SearchStrategy):
        drawn = draw(value)
        if not isinstance(drawn, bool):
            raise _fail("a bool", name, drawn, True)
        return drawn
    return bool(value)


# -- sizes and pixels -------------------------------------------------------------------------------
def resolutions(min_side: Any = 1, max_side: Any = 512, max_pixels: Any = 1_000_000, stride: Any = 32) -> SearchStrategy[tuple[int, int]]:
    """(height, width): any size, or an odd one (1x1, 1xN, extreme aspect ratios, a stride plus or
    minus one, the largest under ``max_pixels``); shrinks toward ``min_side`` x ``min_side``."""

    def bounds(lo: int, hi: int, cap: int, drawn: bool) -> None:
        if hi < lo:
            raise InvalidArgument(f"Expected max_side >= min_side but got min_side={lo}, max_side={hi}" + (" (drawn)" if drawn else ""))
        if lo * lo > cap:
            raise InvalidArgument(f"Expected max_pixels >= min_side**2 but got min_side={lo}, max_pixels={cap}" + (" (drawn)" if drawn else ""))

    def odd_sizes(lo: int, hi: int, cap: int, step: int | None) -> list[tuple[int, int]]:
        square = min(hi, int(math.isqrt(cap)))
        special = [(lo, hi), (hi, lo), (lo, lo + 1), (lo + 1, lo), (square, square), (max(lo, hi // 64), hi)]
        if step is not None:
            special += [(step + 1, step + 1), (step - 1, 2 * step + 1), (3 * step + 1, step - 1)]
        return [(h, w) for h, w in dict.fromkeys(special) if lo <= h <= hi and lo <= w <= hi and h * w <= cap]

    def build() -> SearchStrategy[tuple[int, int]]:
        args = (
            _integer(min_side, "min_side", 1),
            _integer(max_side, "max_side", 1),
            _integer(max_pixels, "max_pixels", 1),
            _integer(stride, "stride", 2) if stride is not None else None,
        )
        fixed = not any(isinstance(v, SearchStrategy) for v in args)
        if fixed:
            bounds(args[0], args[1], args[2], False)  # type: ignore[arg-type]

        @st.composite
        def size(draw: Any) -> tuple[int, int]:
            lo = _draw_integer(draw, args[0], "min_side", 1)
            hi = _draw_integer(draw, args[1], "max_side", 1)
            cap = _draw_integer(draw, args[2], "max_pixels", 1)
            step = _draw_integer(draw, args[3], "stride", 2) if args[3] is not None else None
            if not fixed:
                bounds(lo, hi, cap, True)
            valid = odd_sizes(lo, hi, cap, step)
            # every example draws the same choices (Hypothesis shrinks shorter choice sequences first):
            # which kind of size (0: any), then a height and a width
            pick = draw(st.integers(0, len(valid)))
            height = draw(st.integers(lo, min(hi, cap // lo)))
            width = draw(st.integers(lo, min(hi, max(lo, cap // height))))
            return (height, width) if pick == 0 else valid[pick - 1]

        return size()

    return st.deferred(build)


def make_pixels(pattern: str, height: int, width: int, channels: int, seed: int, level: float) -> np.ndarray:
    """(H, W, C) float32 pixels in [0, 1]: deterministic given the arguments."""
    if pattern == "constant":
        pixels = np.full((height, width, channels), level, np.float32)
    elif pattern == "gradient":
        ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
        pixels = np.broadcast_to(ramp, (height, width, channels)).copy()
    elif pattern == "checker":
        grid = ((np.arange(height)[:, None] // 2 + np.arange(width)[None, :] // 2) % 2).astype(np.float32)
        pixels = np.repeat(grid[..., None], channels, axis=2)
    else:
        pixels = np.random.default_rng(seed).random((height, width, channels), dtype=np.float32)
    return pixels


@st.composite
def _pixels(draw: Any, height: int, width: int, channels: int) -> np.ndarray:
    pattern = draw(st.sampled_from(PATTERNS))
    level = draw(st.integers(0, 255)) / 255.0
    seed = draw(st.integers(0, 2**32 - 1))
    return make_pixels(pattern, height, width, channels, seed, level)


def _size_value(value: Any, name: str) -> tuple[int, int]:
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in value)
    ):
        return int(value[0]), int(value[1])
    raise _fail("a (height, width) pair of positive ints, or a strategy of them", name, value, False)

