"""Valid image files: every format and mode, the rarer structures, and either of them."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ...errors import InvalidArgument
from .. import files as F
from .. import structures as S
from .cases import Case, _choices, _draw_flag, _draw_integer, _flag, _integer, _pick, _pixels, _size_value, resolutions

#: the valid file structures of :func:`structure_cases`, simplest first
STRUCTURES: tuple[str, ...] = tuple(S.STRUCTURES)
#: value ranges of float (mode ``F``) pixels: plain, 0..255, negative, huge, with NaN and inf
FLOAT_RANGES: tuple[str, ...] = ("unit", "byte", "negative", "huge", "non-finite")


def _float_range(pixels: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """Mode ``F`` pixels in an odd value range."""
    if kind == "byte":
        return pixels * 255.0
    if kind == "negative":
        return pixels * 2.0 - 1.0
    if kind == "huge":
        with np.errstate(over="ignore", invalid="ignore"):  # overflowing a small float type to inf is the point
            return (pixels - 0.5) * 6e38
    if kind == "non-finite":
        out = pixels.copy()
        flat = out.reshape(-1)
        rng = np.random.default_rng(seed)
        flat[rng.integers(0, flat.size, size=min(3, flat.size))] = [np.nan, np.inf, -np.inf][: min(3, flat.size)]
        return out
    return pixels



def file_cases(
    *,
    formats: Any = F.FORMATS,
    modes: Any = F.MODES,
    resolution: Any = None,
    interlaced: Any = None,
    exif: Any = None,
    max_frames: Any = 3,
    float_ranges: Any = FLOAT_RANGES,
) -> SearchStrategy[Case]:
    """Valid image files: a format, a mode it holds, a size, and options (interlaced/progressive,
    an EXIF orientation, several frames, a transparent palette entry). ``interlaced`` and ``exif``:
    ``None`` draws them, a bool forces them."""

    def build() -> SearchStrategy[Case]:
        fmts = _choices(formats, "formats", F.FORMATS)
        mds = _choices(modes, "modes", F.MODES)
        ranges = _choices(float_ranges, "float_ranges", FLOAT_RANGES)
        frames_max = _integer(max_frames, "max_frames", 1, 16)
        sizes = resolution if resolution is not None else resolutions(max_side=64, max_pixels=4096)
        if not isinstance(sizes, SearchStrategy):
            sizes = _size_value(sizes, "resolution")
        for value, name in ((interlaced, "interlaced"), (exif, "exif")):
            if value is not None:
                _flag(value, name)
        if isinstance(fmts, tuple) and isinstance(mds, tuple):
            fmts = tuple(f for f in fmts if any(m in F.FORMAT_MODES[f] for m in mds))
            if not fmts:
                raise InvalidArgument(
                    f"Expected at least one mode in modes={mds!r} that one of formats={formats!r} can store; "
                    f"the modes each format stores: {F.FORMAT_MODES}"
                )

        return _file_case(fmts, mds, ranges, frames_max, sizes, interlaced, exif)

    return st.deferred(build)


@st.composite
def _file_case(draw: Any, fmts: Any, mds: Any, ranges: Any, frames_max: Any, sizes: Any, interlaced: Any, exif: Any) -> Case:
    """One valid file of :func:`file_cases`: every example draws every option, applicable or not, so
    that choice sequences have the same length and shrink lexicographically (toward the first format
    and mode)."""
    fmt = _pick(draw, fmts, "formats", F.FORMATS)
    allowed = mds if isinstance(mds, SearchStrategy) else tuple(m for m in mds if m in F.FORMAT_MODES[fmt])
    if not isinstance(allowed, SearchStrategy):
        assume(allowed)
    mode = _pick(draw, allowed, "modes", F.MODES)
    assume(mode in F.FORMAT_MODES[fmt])
    height, width = draw(sizes) if isinstance(sizes, SearchStrategy) else sizes
    pixels = draw(_pixels(height, width, 4 if mode in ("RGBA", "LA") else 3))
    kind = _pick(draw, ranges, "float_ranges", FLOAT_RANGES)
    range_seed = draw(st.integers(0, 2**16))
    want_lace = draw(st.booleans()) if interlaced is None else _draw_flag(draw, interlaced, "interlaced")
    want_exif = draw(st.booleans()) if exif is None else _draw_flag(draw, exif, "exif")
    orientation: int | None = draw(st.integers(1, 8))
    frame_cap = _draw_integer(draw, frames_max, "max_frames", 1, 16)
    frames = draw(st.integers(1, frame_cap))
    want_transparency = draw(st.booleans())
    notes = []
    if mode == "F":
        pixels = _float_range(pixels, kind, range_seed)
        if kind != "unit":
            notes.append(f"values {kind}")
    lace = want_lace and mode in F.INTERLACED.get(fmt, ())
    if not (want_exif and fmt in ("PNG", "JPEG", "WEBP", "TIFF")):
        orientation = None
    elif fmt == "PNG":
        lace = False  # pypng writes no EXIF: an oriented PNG is written by Pillow, not interlaced
    frames = frames if fmt in F.MULTI_FRAME else 1
    transparency = want_transparency and mode == "P" and fmt in ("PNG", "GIF")
    return _encoded(pixels, fmt, mode, lace, orientation, frames, transparency, notes)


def _encoded(pixels: np.ndarray, fmt: str, mode: str, lace: bool, orientation: int | None, frames: int, transparency: bool, notes: list[str]) -> Case:
    """The file of ``pixels`` with these options, described."""
    height, width = pixels.shape[:2]
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite and huge float pixels are the point
        data = F.encode_file(pixels, fmt, mode, interlaced=lace, exif_orientation=orientation, frames=frames, transparency=transparency)
    if lace:
        notes.append("progressive" if fmt == "JPEG" else "interlaced")
    if orientation is not None:
        notes.append(f"EXIF orientation {orientation}")
    if frames > 1:
        notes.append(f"{frames} frames")
    if transparency:
        notes.append("transparent palette entry")
    description = f"{fmt} {width}x{height} {mode}" + (f" ({', '.join(notes)})" if notes else "")
    return Case(data, description, F.EXTENSIONS[fmt], valid=True, pixels=pixels)


def structure_cases(*, structures: Any = STRUCTURES, resolution: Any = None) -> SearchStrategy[Case]:
    """Valid files in the structures real decoder bugs come from (see
    :data:`~.structures.STRUCTURES`): compressed, BigTIFF and tiled TIFF, RLE and bit-field BMP,
    ICO, MPO, LAB TIFF, SGI, JPEG 2000, PCX."""

    def build() -> SearchStrategy[Case]:
        names = _choices(structures, "structures", STRUCTURES)
        sizes = resolution if resolution is not None else resolutions(max_side=64, max_pixels=4096)
        if not isinstance(sizes, SearchStrategy):
            sizes = _size_value(sizes, "resolution")

        @st.composite
        def case(draw: Any) -> Case:
            return _structure_case(*draw(_structure_params(names, sizes)))

        return case()

    return st.deferred(build)


@st.composite
def _structure_params(draw: Any, names: Any, sizes: Any) -> tuple[str, np.ndarray]:
    name = _pick(draw, names, "structures", STRUCTURES)
    height, width = draw(sizes) if isinstance(sizes, SearchStrategy) else sizes
    return name, draw(_pixels(height, width, 3))


def _structure_case(name: str, pixels: np.ndarray) -> Case:
    structure = S.STRUCTURES[name]
    height, width = pixels.shape[:2]
    return Case(structure.encode(pixels), f"{structure.what} {width}x{height}", structure.suffix, valid=True, pixels=pixels)


def valid_file_cases(files: SearchStrategy[Case] | None = None) -> SearchStrategy[Case]:
    """A valid file of ``files`` (default :func:`file_cases`, one frame) or of
    :func:`structure_cases`, shrinking toward the first: every example draws both (the structure's
    parameters only) and a flag, so that choice sequences have the same length and the flag's
    simplest value, ``files``, wins (Hypothesis shrinks shorter sequences first)."""
    plain = files if files is not None else file_cases(max_frames=1)
    params = _structure_params(STRUCTURES, resolutions(max_side=64, max_pixels=4096))

    @st.composite
    def case(draw: Any) -> Case:
        structured = draw(st.booleans())
        base = draw(plain)
        name, pixels = draw(params)
        return _structure_case(name, pixels) if structured else base

    return case()


