"""Pillow's box filter on 8-bit images, byte for byte, in numpy: pixelate's shrinking step.

Pillow shrinks an image in two passes, across and down (down first, from Pillow 13, where the height
sheds more than twice as many pixels as the width), each output value the mean of the input pixels whose
centres its box covers, in 22-bit fixed point (each of ``n`` weights ``int(0.5 + 2**22 / n)``), rounded
to 8 bits after each pass. Here each pass gathers whole rows (the across pass on the transposed image)
and adds them: where no box covers more than two pixels (every shrinking factor above 1/2, and 1/2 of an
even side: CIFAR-10-C's and Tiny-ImageNet-C's pixelate, ImageNet-C's severities 1 and 2) the rounded
mean of two bytes is ``(a | b) - ((a ^ b) >> 1)``, in 8 bits; boxes all 2**k pixels long sum in 16 bits
and round by a shift, other wider boxes sum in 32 bits with Pillow's weights. The boxes are Pillow's
own, read from Pillow resizing a float image of a few rows, and each size's plan is checked against
Pillow on a random image (:func:`_plan`; Pillow itself shrinks where it would differ), so that a
platform's or a version's rounding of box edges holds.

Example:
    >>> shrink(np.arange(12, dtype=np.uint8).reshape(2, 6), (3, 1)).tolist()
    [[4, 6, 8]]
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

#: Pillow's fixed-point precision for 8-bit resampling (Resample.c: PRECISION_BITS = 32 - 8 - 2)
PRECISION_BITS = 22


class Axis(NamedTuple):
    """Pillow's boxes along one axis: output ``j`` averages input ``first[j]`` to ``last[j]``."""

    first: np.ndarray
    last: np.ndarray
    taps: np.ndarray | None  # (widest box, outputs): input indices, past a box's end the axis length (a zero row); None if no box is wider than 2
    weights: np.ndarray | None  # (outputs,): Pillow's fixed-point weight of each box's pixels, uint32; None if all boxes are 2**shift long
    shift: int = 0  # boxes all 2**shift pixels long (shift >= 2): Pillow's weight is 2**(22 - shift), its rounding (sum + 2**(shift - 1)) >> shift


def shrink(pixels: np.ndarray, small: tuple[int, int]) -> np.ndarray:
    """``pixels`` (H, W) or (H, W, 3), uint8, shrunk to ``small`` = (width, height) as Pillow's
    ``resize(small, Image.BOX)`` shrinks it."""
    plan = _plan(pixels.shape[0], pixels.shape[1], small)
    if plan is None:
        return _pillow(pixels, small)
    return _passes(pixels, *plan).reshape((small[1], small[0], *pixels.shape[2:]))


class Plan(NamedTuple):
    """Pillow's boxes across and down, and the order of its two passes."""

    across: Axis | None  # None: the width is kept
    down: Axis | None  # None: the height is kept
    down_first: bool


def _passes(pixels: np.ndarray, across: Axis | None, down: Axis | None, down_first: bool) -> np.ndarray:
    import cv2

    if down is not None and down_first:
        pixels = _pass(pixels, down)
    if across is not None:
        pixels = cv2.transpose(_pass(cv2.transpose(pixels), across))
    if down is not None and not down_first:
        pixels = _pass(pixels, down)
    return pixels


@functools.lru_cache(maxsize=256)
def _plan(height: int, width: int, small: tuple[int, int]) -> Plan | None:
    """How Pillow shrinks ``height`` x ``width`` pixels to ``small``: its boxes (:func:`_axis`) and the
    order of its passes (:func:`_down_first`), checked against Pillow on a random image of that size;
    None (Pillow itself shrinks) where they do not give its bytes."""
    across = _axis(width, small[0]) if small[0] != width else None
    down = _axis(height, small[1]) if small[1] != height else None
    if (across is None and small[0] != width) or (down is None and small[1] != height):
        return None
    plan = Plan(across, down, _down_first(height, width, small))
    probe = np.random.default_rng(0).integers(0, 256, (height, width), dtype=np.uint8)
    return plan if np.array_equal(_passes(probe, *plan), _pillow(probe, small)) else None


def _down_first(height: int, width: int, small: tuple[int, int]) -> bool:
    """Whether Pillow's down pass comes first: up to Pillow 12 never; Pillow 13 where the height
    shrinks by more than twice as many pixels as the width (Resample.c, to make the across pass
    cheaper). Which of the two the installed Pillow does is read from it once (:func:`_pillow_rule`)."""
    shed = height - small[1]
    return shed > 0 and shed > 2 * (width - small[0]) and _pillow_rule()


@functools.lru_cache(maxsize=1)
def _pillow_rule() -> bool:
    """Whether the installed Pillow goes down first where the height sheds more than twice the
    width's pixels: a 96 x 24 image shrunk to 70 x 20, on which the two orders differ (in 9 values)."""
    small = (20, 70)
    plan = Plan(_axis(24, small[0]), _axis(96, small[1]), True)  # boxes of one and two pixels: no gaps
    probe = np.random.default_rng(0).integers(0, 256, (96, 24), dtype=np.uint8)
    return bool(np.array_equal(_passes(probe, *plan), _pillow(probe, small)))


def _pillow(pixels: np.ndarray, small: tuple[int, int]) -> np.ndarray:
    """Pillow's own ``resize(small, Image.BOX)`` of (H, W) or (H, W, 3) uint8 ``pixels``."""
    from PIL import Image

    mode = "RGB" if pixels.ndim == 3 else "L"
    picture = Image.frombuffer(mode, (pixels.shape[1], pixels.shape[0]), np.ascontiguousarray(pixels), "raw", mode, 0, 1)
    return np.frombuffer(picture.resize(small, Image.Resampling.BOX).tobytes(), np.uint8).reshape((small[1], small[0], *pixels.shape[2:]))


def _pass(rows: np.ndarray, axis: Axis) -> np.ndarray:
    """One pass of the box filter down the rows of ``rows`` (uint8), rounded to 8 bits."""
    if axis.taps is None:
        a, b = np.take(rows, axis.first, axis=0), np.take(rows, axis.last, axis=0)
        return (a | b) - ((a ^ b) >> 1)  # (a + b + 1) >> 1: Pillow's (2**21 + (a + b) * 2**21) >> 22, and a for a box of one
    if axis.weights is None:  # every box 2**shift long: sums in 16 bits
        total = np.add(np.take(rows, axis.taps[0], axis=0), np.take(rows, axis.taps[1], axis=0), dtype=np.uint16)
        for taps in axis.taps[2:]:
            total += np.take(rows, taps, axis=0)
        total += 1 << (axis.shift - 1)
        total >>= axis.shift
        return total.astype(np.uint8)
    padded = np.concatenate((rows, np.zeros((1, *rows.shape[1:]), np.uint8)))
    total = np.add(np.take(padded, axis.taps[0], axis=0), np.take(padded, axis.taps[1], axis=0), dtype=np.uint32)
    for taps in axis.taps[2:]:
        total += np.take(padded, taps, axis=0)
    total *= axis.weights.reshape((-1,) + (1,) * (rows.ndim - 1))  # below 2**30: 255 * n * int(0.5 + 2**22 / n)
    total += 1 << (PRECISION_BITS - 1)
    total >>= PRECISION_BITS
    return total.astype(np.uint8)


@functools.lru_cache(maxsize=256)
def _axis(size: int, small: int) -> Axis | None:
    """Pillow's boxes shrinking ``size`` pixels to ``small``, read from Pillow: a float image whose
    row ``r`` is 1 at the pixels ``x = r (mod p)`` (``p`` longer than any box), and a last row ``x``,
    resized across by the box filter, gives each output's box length (its rows with a weight) and
    centre (the mean of ``x``); None where a box has a gap (not Pillow's box filter as known here)."""
    from PIL import Image

    period = math.ceil(size / small) + 2
    x = np.arange(size)
    comb = np.zeros((period + 1, size), np.float32)
    comb[x % period, x] = 1.0
    comb[period] = x
    weighed = np.asarray(Image.fromarray(comb).resize((small, period + 1), Image.Resampling.BOX))
    covered = weighed[:period] > 0
    lengths = covered.sum(axis=0)
    first = np.rint(weighed[period] - (lengths - 1) / 2).astype(np.intp)
    if not np.array_equal(covered, (np.arange(period)[:, None] - first) % period < lengths):
        return None
    widest = int(lengths.max())
    if widest <= 2:
        return Axis(first, first + lengths - 1, None, None)
    offsets = np.arange(widest)[:, None]
    if lengths.min() == widest and widest & (widest - 1) == 0:
        return Axis(first, first + widest - 1, first + offsets, None, widest.bit_length() - 1)
    taps = np.where(offsets < lengths, first + offsets, size)
    weights = (0.5 + (1.0 / lengths) * (1 << PRECISION_BITS)).astype(np.uint32)  # Resample.c's normalize_coeffs_8bpc
    return Axis(first, first + lengths - 1, taps, weights)
