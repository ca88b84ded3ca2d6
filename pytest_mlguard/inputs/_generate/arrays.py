"""Image arrays: odd shapes, layouts, dtypes and value ranges."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .cases import Case, _choices, _draw_flag, _fail, _flag, _pick, _pixels, _size_value, resolutions

DTYPES: tuple[str, ...] = ("uint8", "uint16", "float32", "float16", "float64")
LAYOUTS: tuple[str, ...] = ("HWC", "CHW", "HW")
VALUE_RANGES: tuple[str, ...] = ("byte", "unit", "signed", "full")


def _range_bounds(name: Any, dtype: np.dtype) -> tuple[float, float]:
    if isinstance(name, tuple):
        return float(name[0]), float(name[1])
    if name == "unit":
        return 0.0, 1.0
    if name == "byte":
        return 0.0, 255.0
    if name == "signed":
        return -1.0, 1.0
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return (-60000.0, 60000.0) if dtype == np.float16 else (-1e30, 1e30)


def _value_range(value: Any, name: str) -> Any:
    if isinstance(value, SearchStrategy):
        return value
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value) and value[0] < value[1]:
        return (value,)
    return _choices(value, name, VALUE_RANGES)


def array_cases(
    *,
    resolution: Any = None,
    channels: Any = (1, 3, 4),
    layout: Any = LAYOUTS,
    batch: Any = None,
    dtype: Any = DTYPES,
    value_range: Any = VALUE_RANGES,
    non_finite: Any = None,
) -> SearchStrategy[Case]:
    """Image arrays: odd resolutions, gray/RGB/RGBA, HWC, CHW or HW (no channel axis), with or
    without a batch axis of 1, in uint8, uint16 or float16/32/64, in 0-255, 0-1, -1..1 or the
    dtype's full range, with NaN and inf in float arrays when ``non_finite`` allows."""

    def build() -> SearchStrategy[Case]:
        chans = _choices(channels, "channels", (1, 3, 4))
        layouts = _choices(layout, "layout", LAYOUTS)
        dtypes = _choices(dtype, "dtype", DTYPES)
        ranges = _value_range(value_range, "value_range")
        if batch is not None:
            _flag(batch, "batch")
        if non_finite is not None:
            _flag(non_finite, "non_finite")
        sizes = resolution if resolution is not None else resolutions(max_side=256, max_pixels=65536)
        if not isinstance(sizes, SearchStrategy):
            sizes = _size_value(sizes, "resolution")
        return _array_case(sizes, chans, layouts, dtypes, ranges, batch, non_finite)

    return st.deferred(build)



@st.composite
def _array_case(draw: Any, sizes: Any, chans: Any, layouts: Any, dtypes: Any, ranges: Any, batch: Any, non_finite: Any) -> Case:
    """One array of :func:`array_cases`."""
    height, width = draw(sizes) if isinstance(sizes, SearchStrategy) else sizes
    n_channels = _pick(draw, chans, "channels", (1, 3, 4))
    shape_layout = _pick(draw, layouts, "layout", LAYOUTS)
    kind = _pick(draw, dtypes, "dtype", DTYPES)
    dt = np.dtype(kind)
    if isinstance(ranges, SearchStrategy):
        span = draw(ranges)
        if not (span in VALUE_RANGES or (isinstance(span, tuple) and len(span) == 2)):
            raise _fail(f"one of {VALUE_RANGES} or a (low, high) pair", "value_range", span, True)
    else:
        span = draw(st.sampled_from(ranges))
    with_batch = draw(st.booleans()) if batch is None else _draw_flag(draw, batch, "batch")
    unit = draw(_pixels(height, width, 1 if shape_layout == "HW" else n_channels))
    low, high = _range_bounds(span, dt)
    values = low + unit.astype(np.float64) * (high - low)
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        values = np.clip(np.round(values), info.min, info.max)
    array = values.astype(dt)
    notes = []
    allow_non_finite = draw(st.booleans()) if non_finite is None else _draw_flag(draw, non_finite, "non_finite")
    if allow_non_finite and np.issubdtype(dt, np.floating) and draw(st.booleans()):
        flat = array.reshape(-1)
        picks = draw(st.lists(st.integers(0, flat.size - 1), min_size=1, max_size=3, unique=True))
        for index, position in enumerate(picks):
            flat[position] = (np.nan, np.inf, -np.inf)[index]
        notes.append("NaN/inf")
    array = _laid_out(array, shape_layout, with_batch, notes)
    range_name = span if isinstance(span, str) else f"{span[0]:g}..{span[1]:g}"
    description = f"array {tuple(array.shape)} {kind} {shape_layout} range {range_name}" + (f" ({', '.join(notes)})" if notes else "")
    return Case(array, description, ".npy", valid=not notes or notes == ["no batch axis"], pixels=array)


def _laid_out(array: np.ndarray, layout: str, with_batch: bool, notes: list[str]) -> np.ndarray:
    """``array`` (H, W, C) in ``layout``, with a batch axis of 1 or a note that it has none."""
    if layout == "HW":
        array = array[..., 0]
    elif layout == "CHW":
        array = np.ascontiguousarray(array.transpose(2, 0, 1))
    if with_batch:
        return array[None]
    notes.append("no batch axis")
    return array
