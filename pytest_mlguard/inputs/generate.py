"""The Hypothesis strategies behind :mod:`pytest_mlguard.strategies` and the ``inputs[...]`` checks.

Each strategy here draws a :class:`Case`: the raw input together with what it is (a description,
a file extension, the pixels it was made from, whether it is valid), so that a failure can say
what the input was and save it. The public strategies map the cases to their raw values.

Randomness is sampled apart from being applied: the strategies draw parameters (a size, a format,
an offset, a seed) and call the deterministic functions of :mod:`.files`, :mod:`.compression` and
:mod:`.records`. Every choice is ordered simplest first, so Hypothesis shrinks toward the smallest
image, the first format and mode, the first corruption and the mildest setting.

Every argument takes a value or a strategy of values. Values are validated on first use (the
strategy is ``st.deferred``); drawn values when drawn. Either way a bad argument raises
:class:`~pytest_mlguard.errors.InvalidArgument` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ..errors import InvalidArgument
from . import files as F
from . import structures as S
from .compression import COMPRESSION_FORMATS, SUBSAMPLING, recompress
from .records import MUTATIONS, Schema, as_schema, infer_schema, mutate

__all__ = [
    "CORRUPTIONS",
    "STRUCTURES",
    "DTYPES",
    "LAYOUTS",
    "PATTERNS",
    "VALUE_RANGES",
    "Case",
    "array_cases",
    "compressed_cases",
    "corrupt_file_cases",
    "file_cases",
    "malformed_record_cases",
    "record_values",
    "resolutions",
    "structure_cases",
    "valid_file_cases",
]

#: corruptions of a file, simplest first
CORRUPTIONS: tuple[str, ...] = (
    "truncate",
    "bit-flip",
    "header",
    "chunk-length",
    "wrong-magic",
    "garbage",
    "bomb",
    "wrong-extension",
    "insert",
    "delete",
    *S.PNG_CORRUPTIONS,
    "container-bomb",
)
#: the valid file structures of :func:`structure_cases`, simplest first
STRUCTURES: tuple[str, ...] = tuple(S.STRUCTURES)
DTYPES: tuple[str, ...] = ("uint8", "uint16", "float32", "float16", "float64")
LAYOUTS: tuple[str, ...] = ("HWC", "CHW", "HW")
VALUE_RANGES: tuple[str, ...] = ("byte", "unit", "signed", "full")
#: the pixel contents, simplest first: a flat colour, a gradient, a checkerboard, noise
PATTERNS: tuple[str, ...] = ("constant", "gradient", "checker", "noise")
#: value ranges of float (mode ``F``) pixels: plain, 0..255, negative, huge, with NaN and inf
FLOAT_RANGES: tuple[str, ...] = ("unit", "byte", "negative", "huge", "non-finite")


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


# -- image files ------------------------------------------------------------------------------------
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

        @st.composite
        def case(draw: Any) -> Case:
            fmt = _pick(draw, fmts, "formats", F.FORMATS)
            allowed = mds if isinstance(mds, SearchStrategy) else tuple(m for m in mds if m in F.FORMAT_MODES[fmt])
            if not isinstance(allowed, SearchStrategy):
                assume(allowed)
            mode = _pick(draw, allowed, "modes", F.MODES)
            assume(mode in F.FORMAT_MODES[fmt])
            height, width = draw(sizes) if isinstance(sizes, SearchStrategy) else sizes
            pixels = draw(_pixels(height, width, 4 if mode in ("RGBA", "LA") else 3))
            # every example draws every option, applicable or not, so that choice sequences have the
            # same length and shrink lexicographically (toward the first format and mode)
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
            with np.errstate(invalid="ignore", over="ignore"):  # non-finite and huge float pixels are the point
                data = F.encode_file(
                    pixels, fmt, mode, interlaced=lace, exif_orientation=orientation, frames=frames, transparency=transparency
                )
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

        return case()

    return st.deferred(build)


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


def _size_value(value: Any, name: str) -> tuple[int, int]:
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in value)
    ):
        return int(value[0]), int(value[1])
    raise _fail("a (height, width) pair of positive ints, or a strategy of them", name, value, False)


def corrupt_file_cases(
    *,
    files: Any = None,
    corruptions: Any = CORRUPTIONS,
    max_declared_side: Any = 65_535,
) -> SearchStrategy[Case]:
    """Corrupted files: a valid file (from ``files``, a strategy of :class:`Case` or of bytes;
    default: :func:`file_cases` or :func:`structure_cases`) with one corruption: truncated at any
    offset, bit flips, a mangled header or length field, the wrong magic or extension, random
    garbage, a decompression bomb declaring up to ``max_declared_side`` pixels a side, bytes
    inserted or deleted, a PNG corruption that keeps valid CRCs (colour type, bit depth, no IDAT,
    data after IEND, APNG frame sequence, a text-chunk bomb), or a bomb in a TIFF, WebP, ICO or
    GIF frame."""

    def build() -> SearchStrategy[Case]:
        kinds = _choices(corruptions, "corruptions", CORRUPTIONS)
        side = _integer(max_declared_side, "max_declared_side", 10_000, 2**31 - 1)
        source = files if files is not None else valid_file_cases()
        if not isinstance(source, SearchStrategy):
            raise _fail("a strategy of files (bytes)", "files", files, False)

        @st.composite
        def case(draw: Any) -> Case:
            base = draw(source)
            if not isinstance(base, Case):
                if not isinstance(base, (bytes, bytearray)):
                    raise _fail("bytes", "files", base, True)
                fmt = F.file_format(bytes(base))
                base = Case(bytes(base), "a file", F.EXTENSIONS.get(fmt or "", ".bin"), valid=True)
            data: bytes = base.raw
            kind = _pick(draw, kinds, "corruptions", CORRUPTIONS)
            what = base.description
            if kind == "truncate":
                offset = draw(st.integers(0, max(0, len(data) - 1)))
                return Case(F.truncate_at(data, offset), f"{what} truncated at {offset} of {len(data)} bytes", base.suffix)
            if kind == "bit-flip":
                bits = draw(st.lists(st.integers(0, max(0, 8 * len(data) - 1)), min_size=1, max_size=16, unique=True))
                return Case(F.flip_bits(data, bits), f"{what} with bits {sorted(bits)[:8]} flipped", base.suffix)
            if kind == "header":
                offset = draw(st.integers(0, min(64, len(data))))
                junk = draw(st.binary(min_size=1, max_size=16))
                return Case(F.overwrite(data, offset, junk), f"{what} with header bytes {offset}..{offset + len(junk) - 1} overwritten", base.suffix)
            if kind == "chunk-length":
                index = draw(st.integers(0, 15))
                value = draw(st.sampled_from((0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)) | st.integers(0, 0xFFFFFFFF))
                return Case(F.mangle_length(data, index, value), f"{what} with length field {index} set to {value}", base.suffix)
            if kind == "wrong-magic":
                other = draw(st.sampled_from(F.FORMATS))
                return Case(F.replace_magic(data, other), f"{what} with the magic bytes of {other}", base.suffix)
            if kind == "garbage":
                length = draw(st.integers(0, 4096))
                prefix_fmt = draw(st.sampled_from((None, *F.FORMATS)))
                prefix = F.MAGIC[prefix_fmt] if prefix_fmt else b""
                noun = f"{prefix_fmt} magic then " if prefix_fmt else ""
                return Case(F.garbage(draw(st.integers(0, 2**32 - 1)), length, prefix), f"{noun}{length} random bytes", ".bin")
            if kind == "bomb":
                largest = _draw_integer(draw, side, "max_declared_side", 10_000, 2**31 - 1)
                width = draw(st.integers(10_000, largest))
                height = draw(st.integers(10_000, largest))
                fmt = F.file_format(data)
                if fmt not in ("PNG", "GIF", "BMP", "JPEG"):
                    data, fmt = F.encode_file(np.zeros((1, 1)), "PNG", "L"), "PNG"
                bomb = F.declare_size(data, width, height)
                return Case(bomb, f"{fmt} decompression bomb declaring {width}x{height} pixels in {len(bomb)} bytes", F.EXTENSIONS[fmt])
            if kind in ("insert", "delete"):
                offset = draw(st.integers(0, len(data)))
                if kind == "insert":
                    inserted = draw(st.binary(min_size=1, max_size=64))
                    return Case(S.insert_bytes(data, offset, inserted), f"{what} with {len(inserted)} bytes inserted at {offset}", base.suffix)
                count = draw(st.integers(1, 64))
                return Case(S.delete_bytes(data, offset, count), f"{what} with {count} bytes deleted at {offset}", base.suffix)
            if kind in S.PNG_CORRUPTIONS:
                variant = draw(st.integers(0, 15))
                noun, corrupt = S.PNG_CORRUPTIONS[kind]
                if kind == "apng-sequence":
                    height, width = draw(resolutions(max_side=16, max_pixels=256))
                    data = F.encode_file(make_pixels("noise", height, width, 3, variant, 0.0), "PNG", "RGB", frames=3)
                    what = f"APNG {width}x{height}, 3 frames"
                elif F.file_format(data) != "PNG":
                    data, what = S.STRUCTURE_PNG(np.zeros((1, 1, 3))), "PNG 1x1 RGB"
                return Case(corrupt(data, variant), f"{what} with {noun} (valid CRCs)", ".png")
            if kind == "container-bomb":
                container = draw(st.sampled_from(tuple(S.BOMB_CONTAINERS)))
                largest = _draw_integer(draw, side, "max_declared_side", 10_000, 2**31 - 1)
                width = draw(st.integers(10_000, largest))
                height = draw(st.integers(10_000, largest))
                bomb = S.bomb_in(container, width, height)
                suffix = {"tiff": ".tif", "webp": ".webp", "ico": ".ico", "gif-frame": ".gif"}[container]
                return Case(bomb, f"{S.BOMB_CONTAINERS[container][0]} decompression bomb declaring {width}x{height} pixels in {len(bomb)} bytes", suffix)
            other = draw(st.sampled_from([f for f in F.FORMATS if F.EXTENSIONS[f] != base.suffix] + [".txt"]))
            suffix = F.EXTENSIONS.get(other, other)
            return Case(data, f"{what} named *{suffix}", suffix, valid=base.valid)

        return case()

    return st.deferred(build)


# -- arrays ---------------------------------------------------------------------------------------
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

        @st.composite
        def case(draw: Any) -> Case:
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
            if shape_layout == "HW":
                array = array[..., 0]
            elif shape_layout == "CHW":
                array = np.ascontiguousarray(array.transpose(2, 0, 1))
            if with_batch:
                array = array[None]
            else:
                notes.append("no batch axis")
            range_name = span if isinstance(span, str) else f"{span[0]:g}..{span[1]:g}"
            description = f"array {tuple(array.shape)} {kind} {shape_layout} range {range_name}" + (
                f" ({', '.join(notes)})" if notes else ""
            )
            return Case(array, description, ".npy", valid=not notes or notes == ["no batch axis"], pixels=array)

        return case()

    return st.deferred(build)


# -- compression ----------------------------------------------------------------------------------
def compressed_cases(
    *,
    images: Any = None,
    formats: Any = COMPRESSION_FORMATS,
    min_quality: int | SearchStrategy[int] = 1,
    subsampling: Any = tuple(SUBSAMPLING),
    max_generations: int | SearchStrategy[int] = 10,
    scales: Any = (1.0, 0.75, 0.5, 0.25),
    output: str = "array",
) -> SearchStrategy[Case]:
    """Images with compression artifacts: down- then up-scaled, re-encoded ``generations`` times at a
    JPEG or WebP quality with a chroma subsampling. Shrinks toward the mildest: quality 100, one
    generation, no rescaling, 4:4:4. ``output``: ``"array"`` (decoded pixels in [0, 1]) or
    ``"bytes"`` (the last file)."""

    def build() -> SearchStrategy[Case]:
        fmts = _choices(formats, "formats", COMPRESSION_FORMATS)
        worst = _integer(min_quality, "min_quality", 1, 100)
        generations_max = _integer(max_generations, "max_generations", 1, 100)
        subs = _choices(subsampling, "subsampling", tuple(SUBSAMPLING))
        if isinstance(scales, SearchStrategy):
            scale_choices: Any = scales
        else:
            scale_choices = tuple(scales) if isinstance(scales, (list, tuple)) else (scales,)
            if not scale_choices or not all(isinstance(s, (int, float)) and 0 < s <= 1 for s in scale_choices):
                raise _fail("scale factors in (0, 1]", "scales", scales, False)
        if output not in ("array", "bytes"):
            raise _fail("'array' or 'bytes'", "output", output, False)
        source = images if images is not None else st.builds(
            lambda size, seed: make_pixels("noise", size[0], size[1], 3, seed, 0.0),
            resolutions(min_side=8, max_side=64, max_pixels=4096),
            st.integers(0, 2**32 - 1),
        )
        if not isinstance(source, SearchStrategy):
            raise _fail("a strategy of images (H, W) or (H, W, 3) in [0, 1]", "images", images, False)

        @st.composite
        def case(draw: Any) -> Case:
            image = np.asarray(draw(source), dtype=np.float32)
            if image.ndim == 3 and image.shape[2] == 1:
                image = image[..., 0]
            if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
                raise _fail("images of shape (H, W) or (H, W, 3)", "images", image.shape, True)
            fmt = _pick(draw, fmts, "formats", COMPRESSION_FORMATS)
            low = _draw_integer(draw, worst, "min_quality", 1, 100)
            quality = 100 - draw(st.integers(0, 100 - low))
            sub = _pick(draw, subs, "subsampling", tuple(SUBSAMPLING))  # drawn for WebP too: equal-length choices
            sub = sub if fmt == "JPEG" else None
            generations = draw(st.integers(1, _draw_integer(draw, generations_max, "max_generations", 1, 100)))
            scale = draw(scale_choices) if isinstance(scale_choices, SearchStrategy) else draw(st.sampled_from(scale_choices))
            out = recompress(image, fmt, quality, subsampling=sub, generations=generations, scale=scale)
            description = f"{fmt} quality {quality}" + (f" {sub}" if sub else "") + (
                f", {generations} generations" if generations > 1 else ""
            ) + (f", rescaled by {scale:g}" if scale < 1 else "")
            if output == "bytes":
                mode = "L" if out.ndim == 2 and fmt == "JPEG" else "RGB"
                pixels = out if mode == "L" or out.ndim == 3 else np.repeat(out[..., None], 3, axis=2)
                data = F.encode_file(pixels, fmt, mode, quality=quality)
                return Case(data, description, F.EXTENSIONS[fmt], valid=True, pixels=out)
            return Case(out, description, ".npy", valid=True, pixels=out)

        return case()

    return st.deferred(build)


# -- records --------------------------------------------------------------------------------------
def _schema(value: Any, examples: Sequence[Mapping[str, Any]] | None = None) -> Schema:
    if value is None:
        if not examples:
            raise InvalidArgument("Expected a schema, or example records to infer it from")
        return infer_schema(examples)
    return as_schema(value)


def _valid_value(spec: Any) -> SearchStrategy[Any]:
    if spec.kind == "category":
        return st.sampled_from(spec.categories)
    if spec.kind == "boolean":
        return st.booleans()
    if spec.kind == "string":
        return st.text(max_size=20)
    if spec.kind == "integer":
        low = int(math.ceil(spec.low)) if spec.low is not None else -(10**6)
        high = int(math.floor(spec.high)) if spec.high is not None else 10**6
        return st.integers(low, max(low, high))
    bottom = spec.low if spec.low is not None else -1e6
    top = spec.high if spec.high is not None else 1e6
    return st.floats(bottom, top, allow_nan=False, allow_infinity=False)


def record_values(schema: Any) -> SearchStrategy[dict[str, Any]]:
    """Valid records of ``schema`` (see :func:`~pytest_mlguard.inputs.records.as_schema`)."""

    def build() -> SearchStrategy[dict[str, Any]]:
        parsed = _schema(schema)
        return st.fixed_dictionaries({f.name: _valid_value(f) for f in parsed.fields})

    return st.deferred(build)


def malformed_record_cases(
    *,
    schema: Any = None,
    examples: Sequence[Mapping[str, Any]] | None = None,
    mutations: Any = MUTATIONS,
    max_mutations: int | SearchStrategy[int] = 3,
) -> SearchStrategy[Case]:
    """Records with one to ``max_mutations`` mutations: missing fields, ``None``, NaN, inf, empty and
    odd unicode strings, extra fields, wrong types, out-of-range values, unseen categories.

    The valid record each starts from is one of ``examples`` (shrinking toward the first) or, without
    examples, drawn from ``schema``; without a schema it is inferred from the examples.
    """

    def build() -> SearchStrategy[Case]:
        kinds = _choices(mutations, "mutations", MUTATIONS)
        most = _integer(max_mutations, "max_mutations", 1, 64)
        if examples is not None and (not isinstance(examples, Sequence) or not all(isinstance(e, Mapping) for e in examples) or not examples):
            raise _fail("a non-empty sequence of records (dicts)", "examples", examples, False)
        parsed = _schema(schema, examples)
        if not parsed.fields:
            raise InvalidArgument("Expected a schema with at least one field")
        bases = st.sampled_from([dict(e) for e in examples]) if examples else record_values(parsed)

        @st.composite
        def one(draw: Any) -> tuple[str, str, int]:
            return _pick(draw, kinds, "mutations", MUTATIONS), draw(st.sampled_from(parsed.names)), draw(st.integers(0, 15))

        @st.composite
        def case(draw: Any) -> Case:
            record = draw(bases)
            # a list, so that Hypothesis shrinks by deleting mutations that do not matter
            count = _draw_integer(draw, most, "max_mutations", 1, 64)
            notes = []
            for kind, name, variant in draw(st.lists(one(), min_size=1, max_size=count)):
                record = mutate(record, kind, name, variant=variant, schema=parsed)
                notes.append(f"{kind} {name!r}" + (f" (variant {variant})" if variant else ""))
            return Case(record, "record with " + ", ".join(notes), ".json")

        return case()

    return st.deferred(build)
