"""Corrupted image files: one corruption of a valid file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .. import files as F
from .. import structures as S
from .cases import Case, _choices, _draw_integer, _fail, _integer, _pick, make_pixels, resolutions
from .image_files import valid_file_cases

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
        return _corrupt_case(source, kinds, side)

    return st.deferred(build)


@st.composite
def _corrupt_case(draw: Any, source: SearchStrategy[Any], kinds: Any, side: Any) -> Case:
    """A file of ``source`` (a :class:`Case` or bytes) with one corruption of ``kinds``."""
    base = draw(source)
    if not isinstance(base, Case):
        if not isinstance(base, (bytes, bytearray)):
            raise _fail("bytes", "files", base, True)
        fmt = F.file_format(bytes(base))
        base = Case(bytes(base), "a file", F.EXTENSIONS.get(fmt or "", ".bin"), valid=True)
    kind = _pick(draw, kinds, "corruptions", CORRUPTIONS)
    corrupt = _CORRUPT.get(kind, _png_corruption if kind in S.PNG_CORRUPTIONS else _wrong_extension)
    return corrupt(draw, kind, base, side)


# each corruption: (draw, its name, the valid file, max_declared_side) -> the corrupted file
Draw = Callable[[SearchStrategy[Any]], Any]


def _truncate(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    data = base.raw
    offset = draw(st.integers(0, max(0, len(data) - 1)))
    return Case(F.truncate_at(data, offset), f"{base.description} truncated at {offset} of {len(data)} bytes", base.suffix)


def _bit_flip(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    bits = draw(st.lists(st.integers(0, max(0, 8 * len(base.raw) - 1)), min_size=1, max_size=16, unique=True))
    return Case(F.flip_bits(base.raw, bits), f"{base.description} with bits {sorted(bits)[:8]} flipped", base.suffix)


def _header(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    offset = draw(st.integers(0, min(64, len(base.raw))))
    junk = draw(st.binary(min_size=1, max_size=16))
    what = f"{base.description} with header bytes {offset}..{offset + len(junk) - 1} overwritten"
    return Case(F.overwrite(base.raw, offset, junk), what, base.suffix)


def _chunk_length(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    index = draw(st.integers(0, 15))
    value = draw(st.sampled_from((0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)) | st.integers(0, 0xFFFFFFFF))
    return Case(F.mangle_length(base.raw, index, value), f"{base.description} with length field {index} set to {value}", base.suffix)


def _wrong_magic(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    other = draw(st.sampled_from(F.FORMATS))
    return Case(F.replace_magic(base.raw, other), f"{base.description} with the magic bytes of {other}", base.suffix)


def _garbage(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    length = draw(st.integers(0, 4096))
    prefix_fmt = draw(st.sampled_from((None, *F.FORMATS)))
    prefix = F.MAGIC[prefix_fmt] if prefix_fmt else b""
    noun = f"{prefix_fmt} magic then " if prefix_fmt else ""
    return Case(F.garbage(draw(st.integers(0, 2**32 - 1)), length, prefix), f"{noun}{length} random bytes", ".bin")


def _declared_size(draw: Draw, side: Any) -> tuple[int, int]:
    largest = _draw_integer(draw, side, "max_declared_side", 10_000, 2**31 - 1)
    width = draw(st.integers(10_000, largest))
    height = draw(st.integers(10_000, largest))
    return width, height


def _bomb(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    width, height = _declared_size(draw, side)
    data, fmt = base.raw, F.file_format(base.raw)
    if fmt not in ("PNG", "GIF", "BMP", "JPEG"):
        data, fmt = F.encode_file(np.zeros((1, 1)), "PNG", "L"), "PNG"
    bomb = F.declare_size(data, width, height)
    return Case(bomb, f"{fmt} decompression bomb declaring {width}x{height} pixels in {len(bomb)} bytes", F.EXTENSIONS[fmt])


def _insert_or_delete(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    data, what = base.raw, base.description
    offset = draw(st.integers(0, len(data)))
    if kind == "insert":
        inserted = draw(st.binary(min_size=1, max_size=64))
        return Case(S.insert_bytes(data, offset, inserted), f"{what} with {len(inserted)} bytes inserted at {offset}", base.suffix)
    count = draw(st.integers(1, 64))
    return Case(S.delete_bytes(data, offset, count), f"{what} with {count} bytes deleted at {offset}", base.suffix)


def _png_corruption(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    data, what = base.raw, base.description
    variant = draw(st.integers(0, 15))
    noun, corrupt = S.PNG_CORRUPTIONS[kind]
    if kind == "apng-sequence":
        height, width = draw(resolutions(max_side=16, max_pixels=256))
        data = F.encode_file(make_pixels("noise", height, width, 3, variant, 0.0), "PNG", "RGB", frames=3)
        what = f"APNG {width}x{height}, 3 frames"
    elif F.file_format(data) != "PNG":
        data, what = S.STRUCTURE_PNG(np.zeros((1, 1, 3))), "PNG 1x1 RGB"
    return Case(corrupt(data, variant), f"{what} with {noun} (valid CRCs)", ".png")


def _container_bomb(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    container = draw(st.sampled_from(tuple(S.BOMB_CONTAINERS)))
    width, height = _declared_size(draw, side)
    bomb = S.bomb_in(container, width, height)
    suffix = {"tiff": ".tif", "webp": ".webp", "ico": ".ico", "gif-frame": ".gif"}[container]
    return Case(bomb, f"{S.BOMB_CONTAINERS[container][0]} decompression bomb declaring {width}x{height} pixels in {len(bomb)} bytes", suffix)


def _wrong_extension(draw: Draw, kind: str, base: Case, side: Any) -> Case:
    other: str = draw(st.sampled_from([f for f in F.FORMATS if F.EXTENSIONS[f] != base.suffix] + [".txt"]))
    suffix = F.EXTENSIONS.get(other, other)
    return Case(base.raw, f"{base.description} named *{suffix}", suffix, valid=base.valid)


_CORRUPT: dict[str, Callable[[Draw, str, Case, Any], Case]] = {
    "truncate": _truncate,
    "bit-flip": _bit_flip,
    "header": _header,
    "chunk-length": _chunk_length,
    "wrong-magic": _wrong_magic,
    "garbage": _garbage,
    "bomb": _bomb,
    "insert": _insert_or_delete,
    "delete": _insert_or_delete,
    "container-bomb": _container_bomb,
}
