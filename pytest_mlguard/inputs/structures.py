"""File structures real decoder bugs come from: valid files in rarer containers, and corruptions that
keep a file's checksums valid.

Plain, deterministic functions (the strategies in :mod:`.generate` draw their arguments):

* :data:`STRUCTURES`: valid files: TIFF compressed with LZW, deflate, JPEG or CCITT group 4,
  BigTIFF, tiled TIFF, run-length (RLE8, RLE4) and bit-field BMP, ICO, MPO, LAB TIFF, SGI,
  JPEG 2000 and PCX. Pillow writes them, except the tiled TIFF and the BMP variants, which are
  built by hand (:mod:`.handmade`);
* PNG corruptions with valid CRCs (a decoder trusts the chunk): an invalid colour type or bit
  depth, no IDAT chunk, data after IEND, an APNG whose frame sequence numbers are out of order, a
  text chunk that inflates to tens of MiB;
* bytes inserted or deleted anywhere;
* decompression bombs in TIFF, WebP (a VP8X canvas), ICO (a PNG entry) and GIF (a frame far larger
  than the screen).

Example:
    >>> from .handmade import tiff_tags
    >>> tiff = STRUCTURES["tiff-lzw"].encode(np.zeros((4, 4, 3)))
    >>> tiff_tags(tiff)[259]  # Compression: 5 is LZW
    (5,)
    >>> png = png_bad_colour_type(STRUCTURE_PNG(np.zeros((2, 2, 3))), 7)
    >>> png_chunks(png)[0][1][9]
    7
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .handmade import bmp_bitfields, bmp_rle, png_chunks, rebuild_png, tiff_bytes

__all__ = [
    "BOMB_CONTAINERS",
    "PNG_CORRUPTIONS",
    "STRUCTURES",
    "STRUCTURE_PNG",
    "Structure",
    "apng_sequence_error",
    "bomb_in",
    "delete_bytes",
    "insert_bytes",
    "png_after_iend",
    "png_bad_bit_depth",
    "png_bad_colour_type",
    "png_text_bomb",
    "png_without_idat",
]


@dataclass(frozen=True)
class Structure:
    """A valid file structure: its name, what it is, its extension and the encoder of pixels
    (H, W, 3) in [0, 1]."""

    name: str
    what: str
    suffix: str
    encode: Callable[[np.ndarray], bytes]


def _rgb8(unit: np.ndarray) -> np.ndarray:
    array = np.clip(np.nan_to_num(np.asarray(unit, dtype=np.float64)), 0.0, 1.0)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.round(array[..., :3] * 255).astype(np.uint8)


def _pillow(fmt: str, mode: str = "RGB", **options: Any) -> Callable[[np.ndarray], bytes]:
    def encode(unit: np.ndarray) -> bytes:
        from PIL import Image

        image = Image.fromarray(_rgb8(unit))
        if mode != "RGB":
            image = image.convert(mode)
            image.info.pop("icc_profile", None)  # Pillow tags LAB with a profile made now: dated, not reproducible
        buffer = io.BytesIO()
        extra = dict(options)
        if fmt == "MPO":  # a stereo pair: the second picture mirrored
            extra.update(save_all=True, append_images=[image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
        image.save(buffer, format=fmt, **extra)
        return buffer.getvalue()

    return encode


def STRUCTURE_PNG(unit: np.ndarray) -> bytes:  # noqa: N802 - a constant-like encoder, as the structures'
    """An 8-bit RGB PNG (what the PNG corruptions start from)."""
    return _pillow("PNG")(unit)


def _gray8(unit: np.ndarray) -> np.ndarray:
    return _rgb8(unit).mean(axis=2).round().astype(np.uint8)


#: the valid structures, simplest first
STRUCTURES: dict[str, Structure] = {
    s.name: s
    for s in [
        Structure("tiff-lzw", "TIFF, LZW-compressed", ".tif", _pillow("TIFF", compression="tiff_lzw")),
        Structure("tiff-deflate", "TIFF, deflate-compressed", ".tif", _pillow("TIFF", compression="tiff_adobe_deflate")),
        Structure("tiff-jpeg", "TIFF holding JPEG-compressed strips", ".tif", _pillow("TIFF", compression="jpeg")),
        Structure("tiff-g4", "1-bit TIFF, CCITT group 4 fax compression", ".tif", _pillow("TIFF", "1", compression="group4")),
        Structure("bigtiff", "BigTIFF (64-bit offsets)", ".tif", _pillow("TIFF", big_tiff=True)),
        Structure("tiff-tiled", "TIFF in 16x16 tiles", ".tif", lambda unit: tiff_bytes(_rgb8(unit), tile=16)),
        Structure("bmp-rle8", "BMP, 8-bit run-length encoded (BI_RLE8)", ".bmp", lambda unit: bmp_rle(_gray8(unit), 8)),
        Structure("bmp-rle4", "BMP, 4-bit run-length encoded (BI_RLE4)", ".bmp", lambda unit: bmp_rle(_gray8(unit), 4)),
        Structure("bmp-bitfields-16", "BMP, 16 bits a pixel in 5-6-5 bit fields (BI_BITFIELDS)", ".bmp", lambda unit: bmp_bitfields(_rgb8(unit), 16)),
        Structure("bmp-bitfields-32", "BMP, 32 bits a pixel in bit fields (BI_BITFIELDS)", ".bmp", lambda unit: bmp_bitfields(_rgb8(unit), 32)),
        Structure("ico", "Windows icon (ICO)", ".ico", _pillow("ICO")),
        Structure("mpo", "MPO (a stereo pair of JPEGs, as some cameras save)", ".mpo", _pillow("MPO")),
        Structure("tiff-lab", "TIFF in the CIE L*a*b* colour space", ".tif", _pillow("TIFF", "LAB")),
        Structure("sgi", "SGI image", ".sgi", _pillow("SGI")),
        Structure("jpeg2000", "JPEG 2000 (JP2)", ".jp2", _pillow("JPEG2000")),
        Structure("pcx", "PCX", ".pcx", _pillow("PCX")),
    ]
}


# -- PNG corruptions with valid CRCs ----------------------------------------------------------------
def _with_ihdr_byte(data: bytes, index: int, value: int) -> bytes:
    chunks = png_chunks(data)
    return rebuild_png([(kind, body[:index] + bytes((value % 256,)) + body[index + 1 :] if kind == b"IHDR" else body) for kind, body in chunks])


def png_bad_colour_type(data: bytes, value: int) -> bytes:
    """A PNG whose IHDR declares colour type ``value`` (valid: 0, 2, 3, 4, 6), with a valid CRC."""
    return _with_ihdr_byte(data, 9, value)


def png_bad_bit_depth(data: bytes, value: int) -> bytes:
    """A PNG whose IHDR declares bit depth ``value`` (valid: 1, 2, 4, 8, 16 as the colour type
    allows), with a valid CRC."""
    return _with_ihdr_byte(data, 8, value)


def png_without_idat(data: bytes) -> bytes:
    """A PNG with every IDAT chunk (the pixels) removed; the other chunks keep valid CRCs."""
    return rebuild_png([(kind, body) for kind, body in png_chunks(data) if kind != b"IDAT"])


def png_after_iend(data: bytes, extra: bytes) -> bytes:
    """A PNG with ``extra`` bytes after its IEND chunk (as some uploaders append metadata)."""
    return rebuild_png(png_chunks(data)) + extra


def apng_sequence_error(data: bytes, shift: int) -> bytes:
    """An APNG whose fcTL/fdAT sequence numbers are out of order (each moved by ``shift``, the first
    left alone), with valid CRCs. Files without frame chunks are returned unchanged."""
    chunks = png_chunks(data)
    out, seen = [], 0
    for kind, body in chunks:
        if kind in (b"fcTL", b"fdAT") and len(body) >= 4:
            if seen:
                number = int.from_bytes(body[:4], "big")
                body = ((number + shift) % 2**31).to_bytes(4, "big") + body[4:]
            seen += 1
        out.append((kind, body))
    return rebuild_png(out) if seen else data


@functools.cache
def _inflating(megabytes: int) -> bytes:
    """zlib data that inflates to ``megabytes`` MiB of zeros (made once: compressing takes a while)."""
    compressor = zlib.compressobj(9)
    block = b"\x00" * (1 << 20)
    return b"".join(compressor.compress(block) for _ in range(megabytes)) + compressor.flush()


def png_text_bomb(data: bytes, megabytes: int) -> bytes:
    """A PNG with a zTXt chunk that inflates to ``megabytes`` MiB of text (a few KiB on disk)."""
    chunks = png_chunks(data)
    text = (b"zTXt", b"Comment\x00\x00" + _inflating(megabytes))
    return rebuild_png([chunks[0], text, *chunks[1:]])


#: the PNG corruptions with valid CRCs, simplest first: name -> (what, apply(data, variant))
PNG_CORRUPTIONS: dict[str, tuple[str, Callable[[bytes, int], bytes]]] = {
    "png-colour-type": ("an invalid colour type", lambda data, v: png_bad_colour_type(data, (1, 5, 7, 8, 255)[v % 5])),
    "png-bit-depth": ("an invalid bit depth", lambda data, v: png_bad_bit_depth(data, (0, 3, 5, 7, 32)[v % 5])),
    "png-no-idat": ("no IDAT chunk", lambda data, v: png_without_idat(data)),
    "png-after-iend": ("data after IEND", lambda data, v: png_after_iend(data, (b"\x00" * 16, b"IEND" * 4, STRUCTURE_PNG(np.zeros((1, 1))))[v % 3])),
    "apng-sequence": ("frame sequence numbers out of order (APNG)", lambda data, v: apng_sequence_error(data, (1, -1, 7)[v % 3])),
    "text-bomb": ("a zTXt chunk that inflates to 32 MiB", lambda data, v: png_text_bomb(data, 32)),
}


# -- bytes inserted or deleted ----------------------------------------------------------------------
def insert_bytes(data: bytes, offset: int, inserted: bytes) -> bytes:
    """``data`` with ``inserted`` put in at ``offset`` (clipped to the file)."""
    offset = min(max(0, offset), len(data))
    return data[:offset] + inserted + data[offset:]


def delete_bytes(data: bytes, offset: int, count: int) -> bytes:
    """``data`` without ``count`` bytes from ``offset`` (clipped to the file)."""
    offset = min(max(0, offset), len(data))
    return data[:offset] + data[offset + max(0, count) :]


# -- bombs in other containers ----------------------------------------------------------------------
def _tiff_bomb(width: int, height: int) -> bytes:
    return tiff_bytes(np.zeros((1, 1), np.uint8), declared=(width, height))


def _webp_bomb(width: int, height: int) -> bytes:
    """A lossless 1x1 WebP behind a VP8X chunk declaring a ``width`` x ``height`` canvas (at most
    2**24 a side)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="WEBP", lossless=True)
    body = buffer.getvalue()[12:]  # the chunks after RIFF....WEBP
    side = lambda n: (min(n, 1 << 24) - 1).to_bytes(3, "little")  # noqa: E731
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4 + side(width) + side(height)
    chunks = vp8x + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def _ico_bomb(width: int, height: int) -> bytes:
    """An ICO whose one entry is a PNG declaring ``width`` x ``height`` pixels (valid CRC)."""
    from .files import declare_size

    png = declare_size(STRUCTURE_PNG(np.zeros((1, 1))), width, height)
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + png


def _gif_frame_bomb(width: int, height: int) -> bytes:
    """A GIF with a 1x1 screen and one frame declaring ``width`` x ``height`` pixels (at most 65535)."""
    width, height = min(width, 0xFFFF), min(height, 0xFFFF)
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    pixels = b"\x02" + b"\x02\x44\x01\x00"  # LZW code size 2: clear, one pixel, end
    return header + frame + pixels + b"\x3b"


#: containers of the decompression bombs beyond PNG/GIF/BMP/JPEG headers: name -> (what, build(width, height))
BOMB_CONTAINERS: dict[str, tuple[str, Callable[[int, int], bytes]]] = {
    "tiff": ("TIFF", _tiff_bomb),
    "webp": ("WebP (VP8X canvas)", _webp_bomb),
    "ico": ("ICO (a PNG entry)", _ico_bomb),
    "gif-frame": ("GIF frame beyond a 1x1 screen", _gif_frame_bomb),
}


def bomb_in(container: str, width: int, height: int) -> bytes:
    """A decompression bomb in ``container`` (a key of :data:`BOMB_CONTAINERS`) declaring
    ``width`` x ``height`` pixels in a few hundred bytes."""
    return BOMB_CONTAINERS[container][1](width, height)
