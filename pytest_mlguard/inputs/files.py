"""Image files as bytes: valid encodings in odd formats and modes, and corruptions of them.

Plain, deterministic functions over numpy arrays and bytes. The strategies in
:mod:`pytest_mlguard.strategies` sample the parameters; these functions apply them (albumentations'
``get_params`` / ``apply`` split). Pillow encodes every format; pypng writes the interlaced (Adam7)
PNG files that Pillow cannot.

Example:
    >>> import numpy as np
    >>> png = encode_image(np.zeros((1, 4, 4), np.float32), (0.0, 1.0))
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", len(truncate(png, 0.5)) == len(png) // 2
    (True, True)
    >>> bomb = declare_size(encode_file(np.zeros((1, 1)), "PNG", "L"), 60000, 60000)
    >>> image_size(bomb) is None  # Pillow refuses to open it: beyond twice its MAX_IMAGE_PIXELS
    True
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "CORRUPT_FILE_CASES",
    "EXTENSIONS",
    "FORMATS",
    "FORMAT_MODES",
    "INTERLACED",
    "MAGIC",
    "MODES",
    "MULTI_FRAME",
    "declare_size",
    "encode_file",
    "encode_image",
    "file_format",
    "flip_bits",
    "garbage",
    "image_size",
    "mangle_length",
    "not_an_image",
    "overwrite",
    "replace_magic",
    "to_pixels",
    "truncate",
    "truncate_at",
    "zero_bytes",
]

#: the formats, simplest first (strategies shrink toward the first)
FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
#: Pillow modes, simplest first: 8-bit gray, colour, alpha, palette, 1-bit, CMYK, 16/32-bit, float
MODES: tuple[str, ...] = ("L", "RGB", "RGBA", "LA", "P", "1", "CMYK", "I;16", "I", "F")
#: the modes each format stores as such (a file in another mode would be converted on save)
FORMAT_MODES: dict[str, tuple[str, ...]] = {
    "PNG": ("L", "RGB", "RGBA", "LA", "P", "1", "I;16"),
    "JPEG": ("L", "RGB", "CMYK"),
    "BMP": ("L", "RGB", "P", "1"),
    "GIF": ("L", "P"),
    "WEBP": ("RGB", "RGBA"),
    "TIFF": ("L", "RGB", "RGBA", "LA", "P", "1", "CMYK", "I;16", "I", "F"),
}
EXTENSIONS: dict[str, str] = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif", "WEBP": ".webp", "TIFF": ".tif"}
MAGIC: dict[str, bytes] = {
    "PNG": b"\x89PNG\r\n\x1a\n",
    "JPEG": b"\xff\xd8\xff",
    "BMP": b"BM",
    "GIF": b"GIF89a",
    "WEBP": b"RIFF",
    "TIFF": b"II*\x00",
}
#: formats that hold several frames (animations, pages)
MULTI_FRAME: tuple[str, ...] = ("PNG", "GIF", "WEBP", "TIFF")
#: (format, mode) pairs that can be written interlaced or progressive
INTERLACED: dict[str, tuple[str, ...]] = {
    "PNG": ("L", "RGB", "RGBA", "LA", "I;16"),
    "JPEG": ("L", "RGB", "CMYK"),
    "GIF": ("L", "P"),
}
_EXIF_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")
_ORIENTATION = 0x0112


# -- valid files ----------------------------------------------------------------------------------
def to_pixels(unit: np.ndarray, mode: str) -> Any:
    """A Pillow image in ``mode`` from ``unit``, (H, W) or (H, W, C) with C in 1..4.

    Values are in [0, 1] (clipped), except for mode ``F``, which keeps them as they are (negative,
    above 1, NaN or inf), so that odd value ranges reach the pipeline.
    """
    from PIL import Image

    array = np.asarray(unit, dtype=np.float64)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or not 1 <= array.shape[2] <= 4:
        raise ValueError(f"expected pixels of shape (H, W) or (H, W, 1..4), got {array.shape}")
    if mode == "F":
        return Image.fromarray(np.ascontiguousarray(array.mean(axis=2), dtype=np.float32), mode="F")
    clipped = np.clip(np.nan_to_num(array, nan=0.0), 0.0, 1.0)
    gray = clipped[..., :3].mean(axis=2)
    rgb = clipped[..., :3] if clipped.shape[2] >= 3 else np.repeat(clipped[..., :1], 3, axis=2)
    alpha = clipped[..., 3] if clipped.shape[2] == 4 else np.linspace(1.0, 0.0, clipped.shape[1])[None, :].repeat(
        clipped.shape[0], axis=0
    )
    byte = lambda a: np.round(a * 255).astype(np.uint8)  # noqa: E731
    if mode == "L":
        return Image.fromarray(byte(gray))
    if mode == "1":
        return Image.fromarray(byte(gray)).point(lambda v: 255 if v >= 128 else 0).convert("1")
    if mode == "RGB":
        return Image.fromarray(byte(rgb))
    if mode == "RGBA":
        return Image.fromarray(np.dstack([byte(rgb), byte(alpha)]))
    if mode == "LA":
        return Image.fromarray(np.dstack([byte(gray), byte(alpha)]), mode="LA")
    if mode == "P":
        return Image.fromarray(byte(rgb)).quantize(colors=16)
    if mode == "CMYK":
        return Image.fromarray(byte(rgb)).convert("CMYK")
    if mode == "I;16":
        return Image.fromarray(np.round(gray * 65535).astype(np.uint16))
    if mode == "I":
        return Image.fromarray(np.round(gray * (2**31 - 1)).astype(np.int32))
    raise ValueError(f"expected a mode in {MODES}, got {mode!r}")


def _png_interlaced(image: Any) -> bytes:
    """Adam7-interlaced PNG through pypng (Pillow writes only non-interlaced PNG)."""
    import png

    mode = image.mode
    array = np.asarray(image)
    height, width = array.shape[:2]
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": 1}[mode]
    rows = array.reshape(height, width * channels)
    writer = png.Writer(
        width,
        height,
        greyscale=mode in ("L", "LA", "I;16"),
        alpha=mode in ("LA", "RGBA"),
        bitdepth=16 if mode == "I;16" else 8,
        interlace=True,
    )
    buffer = io.BytesIO()
    writer.write(buffer, rows.tolist())
    return buffer.getvalue()


def encode_file(
    unit: np.ndarray,
    fmt: str,
    mode: str,
    *,
    quality: int | None = None,
    subsampling: int | None = None,
    interlaced: bool = False,
    exif_orientation: int | None = None,
    frames: int = 1,
    transparency: bool = False,
) -> bytes:
    """Encode pixels as an image file.

    Args:
        unit: pixels, (H, W) or (H, W, C), in [0, 1] (mode ``F`` keeps any float value).
        fmt: one of :data:`FORMATS`.
        mode: one of ``FORMAT_MODES[fmt]``.
        quality: JPEG or WebP quality 1..100 (``None``: the encoder's default).
        subsampling: JPEG chroma subsampling: 0 (4:4:4), 1 (4:2:2) or 2 (4:2:0).
        interlaced: Adam7 PNG, interlaced GIF or progressive JPEG (see :data:`INTERLACED`).
        exif_orientation: an EXIF orientation tag 1..8 (PNG, JPEG, WebP, TIFF).
        frames: frames of an animation or pages of a TIFF (see :data:`MULTI_FRAME`).
        transparency: a transparent palette entry (mode ``P``, PNG and GIF).
    """
    from PIL import Image

    if fmt not in FORMAT_MODES or mode not in FORMAT_MODES[fmt]:
        raise ValueError(f"{fmt} files cannot hold mode {mode!r}; expected one of {FORMAT_MODES.get(fmt, ())}")
    image = to_pixels(unit, mode)
    options: dict[str, Any] = {}
    if quality is not None and fmt in ("JPEG", "WEBP"):
        options["quality"] = int(quality)
    if subsampling is not None and fmt == "JPEG":
        options["subsampling"] = int(subsampling)
    if exif_orientation is not None and fmt in _EXIF_FORMATS:
        exif = Image.Exif()
        exif[_ORIENTATION] = int(exif_orientation)
        options["exif"] = exif.tobytes()
    if transparency and image.mode == "P" and fmt in ("PNG", "GIF"):
        options["transparency"] = 0
    if fmt == "GIF":
        options["interlace"] = bool(interlaced)
    if interlaced and fmt == "JPEG":
        options["progressive"] = True
    if frames > 1 and fmt in MULTI_FRAME:
        # each frame differs (encoders drop repeated frames): the image shifted by one row per frame
        rest = [to_pixels(np.roll(np.asarray(unit), shift, axis=0), mode) for shift in range(1, frames)]
        if image.mode == "P":
            rest = [frame.quantize(palette=image) if frame.mode != "P" else frame for frame in rest]
        options.update(save_all=True, append_images=rest)
        if fmt in ("GIF", "PNG", "WEBP"):
            options["duration"] = 100
    elif interlaced and fmt == "PNG" and mode in INTERLACED["PNG"] and exif_orientation is None:
        return _png_interlaced(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def encode_image(sample: np.ndarray, value_range: tuple[float, float], fmt: str = "PNG", quality: int | None = None) -> bytes:
    """Encode one evaluation sample, (C, H, W) or (H, W) in raw units, as an 8-bit image file."""
    low, high = value_range
    unit = np.clip((np.asarray(sample, dtype=np.float32) - low) / (high - low), 0.0, 1.0)
    if unit.ndim == 3:
        unit = unit[0] if unit.shape[0] == 1 else unit.transpose(1, 2, 0)
    mode = "L" if unit.ndim == 2 else {3: "RGB", 4: "RGBA"}.get(unit.shape[2], "L")
    if fmt == "WEBP" and mode == "L":
        mode = "RGB"
    return encode_file(unit, fmt, mode, quality=quality)


def file_format(data: bytes) -> str | None:
    """The format the magic bytes of ``data`` announce (``None``: none of :data:`FORMATS`)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    for fmt in ("PNG", "JPEG", "BMP"):
        if data.startswith(MAGIC[fmt]):
            return fmt
    return None


# -- corruptions ----------------------------------------------------------------------------------
def truncate_at(data: bytes, offset: int) -> bytes:
    """The first ``offset`` bytes, as an interrupted upload leaves the file (0: an empty file)."""
    return data[: max(0, offset)]


def truncate(data: bytes, fraction: float) -> bytes:
    """The first ``fraction`` of the file."""
    return data[: int(len(data) * fraction)]


def zero_bytes(data: bytes) -> bytes:
    """An empty file."""
    return b""


def not_an_image(data: bytes) -> bytes:
    """A file that is not an image at all (text of the same length, at least 16 bytes)."""
    text = b"this is not an image file; "
    return (text * (max(len(data), 16) // len(text) + 1))[: max(len(data), 16)]


def flip_bits(data: bytes, positions: Sequence[int]) -> bytes:
    """``data`` with the bits at ``positions`` (bit indices, taken modulo the file's bits) flipped."""
    if not data:
        return data
    out = bytearray(data)
    for position in positions:
        bit = int(position) % (len(out) * 8)
        out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def overwrite(data: bytes, offset: int, replacement: bytes) -> bytes:
    """``data`` with ``replacement`` written over it at ``offset`` (clipped to the file's length)."""
    offset = min(max(0, offset), len(data))
    return data[:offset] + replacement[: len(data) - offset] + data[offset + len(replacement) :]


def replace_magic(data: bytes, fmt: str) -> bytes:
    """``data`` with its leading magic bytes replaced by those of ``fmt`` (a file that lies about its type)."""
    return overwrite(data, 0, MAGIC[fmt])


def garbage(seed: int, length: int, prefix: bytes = b"") -> bytes:
    """``length`` random bytes from ``seed``, after ``prefix`` (a valid magic, say)."""
    return prefix + np.random.default_rng(seed).integers(0, 256, size=max(0, length), dtype=np.uint8).tobytes()


def _png_chunks(data: bytes) -> list[tuple[int, int, bytes]]:
    """(offset, length, type) of each PNG chunk that fits in ``data``."""
    chunks = []
    offset = 8
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        chunks.append((offset, length, data[offset + 4 : offset + 8]))
        offset += 12 + length
    return chunks


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, length, marker) of each JPEG segment with a length field, up to the scan."""
    segments = []
    offset = 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            offset += 2
            continue
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        segments.append((offset, length, marker))
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        offset += 2 + length
    return segments


def mangle_length(data: bytes, index: int, value: int) -> bytes:
    """``data`` with the ``index``-th length field (modulo their number) set to ``value``.

    Length fields: PNG chunk lengths, JPEG segment lengths, RIFF (WebP) chunk sizes; for BMP, GIF
    and TIFF the header's offset or size fields. Files without any are returned unchanged.
    """
    fmt = file_format(data)
    fields: list[tuple[int, int]] = []  # (offset, width in bytes)
    if fmt == "PNG":
        fields = [(offset, 4) for offset, _, _ in _png_chunks(data)]
    elif fmt == "JPEG":
        fields = [(offset + 2, 2) for offset, _, _ in _jpeg_segments(data)]
    elif fmt == "WEBP":
        fields = [(4, 4)] + ([(16, 4)] if len(data) >= 20 else [])
    elif fmt == "BMP":
        fields = [(2, 4), (10, 4), (14, 4)]
    elif fmt == "GIF":
        fields = [(6, 2), (8, 2)]
    elif fmt == "TIFF":
        fields = [(4, 4)]
    fields = [(offset, width) for offset, width in fields if offset + width <= len(data)]
    if not fields:
        return data
    offset, width = fields[index % len(fields)]
    big_endian = fmt in ("PNG", "JPEG") or data[:2] == b"MM"
    field = (int(value) % (1 << (8 * width))).to_bytes(width, "big" if big_endian else "little")
    return overwrite(data, offset, field)


def declare_size(data: bytes, width: int, height: int) -> bytes:
    """A decompression bomb: the header declares ``width`` x ``height`` pixels, far above the data.

    Rewrites the size fields of a PNG (with a valid CRC, so that decoders believe it), GIF, BMP or
    JPEG file; other formats are returned unchanged.
    """
    fmt = file_format(data)
    if fmt == "PNG":
        for offset, length, kind in _png_chunks(data):
            if kind == b"IHDR" and length >= 8 and offset + 8 + length + 4 <= len(data):
                body = struct.pack(">II", width, height) + data[offset + 16 : offset + 8 + length]
                crc = struct.pack(">I", zlib.crc32(b"IHDR" + body) & 0xFFFFFFFF)
                return data[: offset + 8] + body + crc + data[offset + 12 + length :]
        return data
    if fmt == "GIF" and len(data) >= 10:
        return overwrite(data, 6, struct.pack("<HH", min(width, 0xFFFF), min(height, 0xFFFF)))
    if fmt == "BMP" and len(data) >= 26:
        return overwrite(data, 18, struct.pack("<ii", min(width, 2**31 - 1), min(height, 2**31 - 1)))
    if fmt == "JPEG":
        for offset, _, marker in _jpeg_segments(data):
            if marker in (0xC0, 0xC1, 0xC2) and offset + 9 <= len(data):
                return overwrite(data, offset + 5, struct.pack(">HH", min(height, 0xFFFF), min(width, 0xFFFF)))
    return data


def image_size(data: bytes) -> tuple[int, int] | None:
    """The (width, height) the file's header declares, without decoding it (``None``: unreadable, or a
    declared size beyond the decompression-bomb limit of Pillow's ``Image.MAX_IMAGE_PIXELS``)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # noqa: BLE001 - any decoder error means "no size"
        return None


def _truncated_half(data: bytes) -> bytes:
    return truncate(data, 0.5)


def _header_only(data: bytes) -> bytes:
    return data[:16]


def _bit_flips(data: bytes) -> bytes:
    return flip_bits(data, [8 * len(data) // 3 + 5 * i for i in range(8)])


def _bomb(data: bytes) -> bytes:
    return declare_size(data, 60000, 60000)


#: the fixed corrupted-file cases every image check runs on each example before Hypothesis starts
CORRUPT_FILE_CASES = {
    "truncated-half": _truncated_half,
    "header-only": _header_only,
    "zero-bytes": zero_bytes,
    "not-an-image": not_an_image,
    "bit-flips": _bit_flips,
    "bomb-60000x60000": _bomb,
}
