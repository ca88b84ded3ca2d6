"""Image files as bytes: valid encodings of evaluation samples, and corrupted ones.

Plain functions over bytes; each corruption is deterministic given its arguments.

Example:
    >>> png = encode_image(np.zeros((1, 4, 4), np.float32), (0.0, 1.0))
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", len(truncate(png, 0.5)) == len(png) // 2
    (True, True)
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["CORRUPT_FILE_CASES", "encode_image", "not_an_image", "truncate", "zero_bytes"]


def encode_image(sample: np.ndarray, value_range: tuple[float, float], fmt: str = "PNG") -> bytes:
    """Encode one sample, (C, H, W) or (H, W) in raw units, as an image file (8 bits per channel)."""
    from PIL import Image

    low, high = value_range
    unit = np.clip((np.asarray(sample, dtype=np.float32) - low) / (high - low), 0.0, 1.0)
    pixels = np.round(unit * 255).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def truncate(data: bytes, fraction: float) -> bytes:
    """The first ``fraction`` of the file, as an interrupted upload leaves it."""
    return data[: int(len(data) * fraction)]


def zero_bytes(data: bytes) -> bytes:
    """An empty file."""
    return b""


def not_an_image(data: bytes) -> bytes:
    """A file that is not an image at all (text of the same length, at least 16 bytes)."""
    text = b"this is not an image file; "
    return (text * (max(len(data), 16) // len(text) + 1))[: max(len(data), 16)]


def _truncated_half(data: bytes) -> bytes:
    return truncate(data, 0.5)


def _header_only(data: bytes) -> bytes:
    return data[:16]


#: the corrupted-file cases of the ``inputs[corrupt-files]`` check, by name
CORRUPT_FILE_CASES = {
    "truncated-half": _truncated_half,
    "header-only": _header_only,
    "zero-bytes": zero_bytes,
    "not-an-image": not_an_image,
}
