"""Image files built byte by byte, for the structures Pillow cannot write.

Plain, deterministic functions: TIFF (classic or BigTIFF, strips or tiles, any sample format, or a
header declaring any size), BMP with run-length (RLE8, RLE4) or bit-field pixels, an ICC profile of
an RGB colour space given by its primaries and gamma, and PNG chunks rebuilt with valid CRCs (so
that a decoder trusts a chunk a corruption changed).

Example:
    >>> tiff = tiff_bytes(np.zeros((2, 3), np.uint16))
    >>> tiff[:4], tiff_tags(tiff)[256], tiff_tags(tiff)[258]
    (b'II*\\x00', (3,), (16,))
    >>> [kind for kind, _ in png_chunks(rebuild_png([(b"IHDR", bytes(13)), (b"IEND", b"")]))]
    [b'IHDR', b'IEND']
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np

__all__ = [
    "PROPHOTO",
    "bmp_bitfields",
    "bmp_rle",
    "icc_rgb_profile",
    "png_chunks",
    "rebuild_png",
    "tiff_bytes",
    "tiff_tags",
]

# TIFF field types: (code, bytes per value, struct letter)
_SHORT, _LONG, _LONG8 = (3, 2, "H"), (4, 4, "I"), (16, 8, "Q")
_TYPES = {3: _SHORT, 4: _LONG, 16: _LONG8}
#: an IFD entry: (tag, field type, values)
_Entry = tuple[int, tuple[int, int, str], Sequence[int]]


def _tiff_layout(entries: list[_Entry], data: bytes, big: bool) -> bytes:
    """Header, pixel data, then one IFD holding ``entries`` (values that do not fit in the entry
    go to an area after it)."""
    inline = 8 if big else 4
    header = b"II+\x00" + struct.pack("<HHQ", 8, 0, 0) if big else b"II*\x00" + struct.pack("<I", 0)
    ifd_offset = len(header) + len(data)
    ifd_offset += ifd_offset % 2  # IFDs start on a word boundary
    entry_size = 20 if big else 12
    count_size = 8 if big else 2
    extra_offset = ifd_offset + count_size + entry_size * len(entries) + (8 if big else 4)
    table, extra = b"", b""
    for tag, (code, _width, letter), values in sorted(entries, key=lambda e: e[0]):
        raw = struct.pack(f"<{len(values)}{letter}", *values)
        if len(raw) <= inline:
            field = raw.ljust(inline, b"\x00")
        else:
            field = struct.pack("<Q" if big else "<I", extra_offset + len(extra))
            extra += raw + b"\x00" * (len(raw) % 2)
        table += struct.pack("<HHQ" if big else "<HHI", tag, code, len(values)) + field
    ifd = struct.pack("<Q" if big else "<H", len(entries)) + table + b"\x00" * (8 if big else 4)
    header = header[:-8] + struct.pack("<Q", ifd_offset) if big else header[:4] + struct.pack("<I", ifd_offset)
    return header + data + b"\x00" * (ifd_offset - len(header) - len(data)) + ifd + extra


def _tiff_data(pixels: np.ndarray, big: bool, tile: int | None) -> tuple[bytes, list[_Entry]]:
    """The pixel data of ``pixels`` (H, W, C) as one strip or as square tiles of side ``tile``, and
    the IFD entries that locate it (the data follows the header)."""
    height, width, channels = pixels.shape
    offset_type = _LONG8 if big else _LONG
    start = 16 if big else 8
    if tile is None:
        data = pixels.tobytes()
        layout: list[_Entry] = [(273, offset_type, (start,)), (278, _LONG, (height,)), (279, offset_type, (len(data),))]
    else:
        if tile % 16:
            raise ValueError(f"expected a tile side that is a multiple of 16, got {tile}")
        rows, cols = -(-height // tile), -(-width // tile)
        padded = np.zeros((rows * tile, cols * tile, channels), pixels.dtype)
        padded[:height, :width] = pixels
        tiles = [padded[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile].tobytes() for r in range(rows) for c in range(cols)]
        data = b"".join(tiles)
        offsets = tuple(start + i * len(tiles[0]) for i in range(len(tiles)))
        layout = [
            (322, _LONG, (tile,)),
            (323, _LONG, (tile,)),
            (324, offset_type, offsets),
            (325, offset_type, (len(tiles[0]),) * len(tiles)),
        ]
    return data, layout


def tiff_bytes(
    array: np.ndarray,
    *,
    photometric: int | None = None,
    big: bool = False,
    tile: int | None = None,
    declared: tuple[int, int] | None = None,
) -> bytes:
    """An uncompressed little-endian TIFF of ``array``.

    Args:
        array: (H, W) or (H, W, C) pixels, C in 1..4, of an unsigned or signed integer or float dtype;
            the TIFF's bits per sample and sample format follow the dtype.
        photometric: the PhotometricInterpretation tag (default: 1, gray, for 1 or 2 channels; 2,
            RGB, for 3 or 4); a second or fourth channel is an alpha channel.
        big: a BigTIFF (64-bit offsets, version 43) instead of a classic TIFF.
        tile: the side of square tiles (a multiple of 16) instead of one strip.
        declared: a (width, height) to declare instead of the array's (a decompression bomb: the
            data stays that of ``array``).
    """
    pixels = np.asarray(array)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or not 1 <= pixels.shape[2] <= 4:
        raise ValueError(f"expected pixels of shape (H, W) or (H, W, 1..4), got {np.asarray(array).shape}")
    height, width, channels = pixels.shape
    pixels = pixels.astype(pixels.dtype.newbyteorder("<"))
    kind = {"u": 1, "i": 2, "f": 3}.get(pixels.dtype.kind)
    if kind is None:
        raise ValueError(f"expected an integer or float dtype, got {pixels.dtype}")
    bits = 8 * pixels.dtype.itemsize
    data, layout = _tiff_data(pixels, big, tile)
    shown_width, shown_height = declared if declared is not None else (width, height)
    entries = [
        (256, _LONG, (shown_width,)),
        (257, _LONG, (shown_height,)),
        (258, _SHORT, (bits,) * channels),
        (259, _SHORT, (1,)),
        (262, _SHORT, (photometric if photometric is not None else (1 if channels <= 2 else 2),)),
        (277, _SHORT, (channels,)),
        (284, _SHORT, (1,)),
        (339, _SHORT, (kind,) * channels),
        *layout,
    ]
    if channels in (2, 4):
        entries.append((338, _SHORT, (2,)))  # the last channel is unassociated alpha
    return _tiff_layout(entries, data, big)


def tiff_tags(data: bytes) -> dict[int, tuple[int, ...]]:
    """The tags of a TIFF's first IFD, {tag: values} (SHORT, LONG and LONG8 values; others empty).

    Reads classic and BigTIFF, little- or big-endian: enough to prove what a file declares."""
    order = "<" if data[:2] == b"II" else ">"
    version = struct.unpack(order + "H", data[2:4])[0]
    big = version == 43
    offset = struct.unpack(order + ("Q" if big else "I"), data[(8 if big else 4) : (16 if big else 8)])[0]
    count = struct.unpack(order + ("Q" if big else "H"), data[offset : offset + (8 if big else 2)])[0]
    position = offset + (8 if big else 2)
    tags: dict[int, tuple[int, ...]] = {}
    for _ in range(count):
        size = 20 if big else 12
        entry = data[position : position + size]
        tag, code = struct.unpack(order + "HH", entry[:4])
        number = struct.unpack(order + ("Q" if big else "I"), entry[4 : (12 if big else 8)])[0]
        field = entry[(12 if big else 8) :]
        values: tuple[int, ...] = ()
        if code in _TYPES:
            _, width, letter = _TYPES[code]
            raw = field if width * number <= len(field) else data[
                (pointer := struct.unpack(order + ("Q" if big else "I"), field)[0]) : pointer + width * number
            ]
            values = struct.unpack(order + letter * number, raw[: width * number])
        tags[tag] = values
        position += size
    return tags


# -- BMP ------------------------------------------------------------------------------------------
def _bmp(width: int, height: int, bpp: int, compression: int, masks: bytes, palette: bytes, pixels: bytes) -> bytes:
    offset = 14 + 40 + len(masks) + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, compression, len(pixels), 2835, 2835, len(palette) // 4, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + masks + palette + pixels


def bmp_rle(gray: np.ndarray, bits: int = 8) -> bytes:
    """A run-length encoded BMP (``BI_RLE8``, or ``BI_RLE4`` with ``bits=4``) of 8-bit gray pixels
    (H, W): a gray palette, runs of at most 255 pixels, an end-of-line after each row (bottom-up)
    and an end-of-bitmap. RLE4 keeps the top 4 bits of each pixel."""
    array = np.asarray(gray, dtype=np.uint8)
    if array.ndim != 2 or bits not in (4, 8):
        raise ValueError(f"expected (H, W) uint8 pixels and bits 4 or 8, got {array.shape} and bits={bits}")
    levels = 256 if bits == 8 else 16
    indices = array if bits == 8 else array >> 4
    step = 1 if bits == 8 else 17
    palette = b"".join(bytes((i * step, i * step, i * step, 0)) for i in range(levels))
    out = bytearray()
    for row in indices[::-1]:
        column = 0
        while column < len(row):
            value = int(row[column])
            run = 1
            while column + run < len(row) and run < 255 and row[column + run] == value:
                run += 1
            out += bytes((run, value if bits == 8 else (value << 4) | value))
            column += run
        out += b"\x00\x00"
    out += b"\x00\x01"
    return _bmp(array.shape[1], array.shape[0], bits, 1 if bits == 8 else 2, b"", palette, bytes(out))


def bmp_bitfields(rgb: np.ndarray, bits: int = 16) -> bytes:
    """A ``BI_BITFIELDS`` BMP of 8-bit RGB pixels (H, W, 3): 16 bits a pixel with 5-6-5 masks (the
    low bits of each channel are lost) or 32 bits with 8-8-8 masks."""
    array = np.asarray(rgb, dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3 or bits not in (16, 32):
        raise ValueError(f"expected (H, W, 3) uint8 pixels and bits 16 or 32, got {array.shape} and bits={bits}")
    r, g, b = (array[..., i].astype(np.uint32) for i in range(3))
    if bits == 16:
        masks = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
        values = ((r >> 3) << 11 | (g >> 2) << 5 | (b >> 3)).astype("<u2")
    else:
        masks = struct.pack("<III", 0xFF0000, 0x00FF00, 0x0000FF)
        values = (r << 16 | g << 8 | b).astype("<u4")
    rows = []
    for row in values[::-1]:
        raw = row.tobytes()
        rows.append(raw + b"\x00" * (-len(raw) % 4))
    return _bmp(array.shape[1], array.shape[0], bits, 3, masks, b"", b"".join(rows))


# -- ICC ------------------------------------------------------------------------------------------
#: ProPhoto RGB (ROMM): primaries adapted to D50 (the ICC connection space) and a gamma of 1.8
PROPHOTO = ((0.7977, 0.2880, 0.0), (0.1352, 0.7119, 0.0), (0.0313, 0.0001, 0.8249))


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def icc_rgb_profile(description: str = "ProPhoto RGB (mlguard)", primaries: Sequence[Sequence[float]] = PROPHOTO, gamma: float = 1.8) -> bytes:
    """A version 2 ICC display profile of a matrix/TRC RGB colour space: the red, green and blue
    primaries (XYZ, D50-adapted) and one gamma for the three curves."""

    def text(kind: bytes, body: bytes) -> bytes:
        return kind + b"\x00" * 4 + body

    ascii_text = description.encode("ascii") + b"\x00"
    tags = [
        (b"desc", text(b"desc", struct.pack(">I", len(ascii_text)) + ascii_text + b"\x00" * 8 + b"\x00" * 3 + b"\x00" * 67)),
        (b"cprt", text(b"text", b"no copyright, use freely\x00")),
        (b"wtpt", text(b"XYZ ", _s15(0.9642) + _s15(1.0) + _s15(0.8249))),
        *[(name, text(b"XYZ ", b"".join(_s15(v) for v in xyz))) for name, xyz in zip((b"rXYZ", b"gXYZ", b"bXYZ"), primaries)],
        *[(name, text(b"curv", struct.pack(">IH", 1, round(gamma * 256)) + b"\x00\x00")) for name in (b"rTRC", b"gTRC", b"bTRC")],
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data + b"\x00" * (-len(data) % 4)
    size = 128 + table_size + len(body)
    header = (
        struct.pack(">I", size)
        + b"\x00" * 4
        + bytes((2, 0x10, 0, 0))
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\x00" * 24
        + struct.pack(">I", 0)
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + b"\x00" * 48
    )
    return header + table + body


# -- PNG chunks -----------------------------------------------------------------------------------
def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, body) of each whole PNG chunk after the signature (a partial chunk ends the list)."""
    chunks = []
    offset = 8
    while offset + 12 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        if offset + 12 + length > len(data):
            break
        chunks.append((data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def rebuild_png(chunks: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A PNG of ``chunks``, each with its length and a valid CRC."""
    out = bytearray(b"\x89PNG\r\n\x1a\n")
    for kind, body in chunks:
        out += struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return bytes(out)
