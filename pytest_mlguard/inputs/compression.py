"""Compression artifacts: re-encoding at a JPEG or WebP quality, chroma subsampling, generation loss,
down- then up-scaling, as plain functions over images in [0, 1].

:func:`compress_batch` re-encodes a batch of evaluation samples (raw units, channels first) and
decodes it back to the model's input, for ``inputs[compression]``'s accuracy curve.

Example:
    >>> image = np.linspace(0, 1, 64).reshape(8, 8)
    >>> out = recompress(image, "JPEG", 10)
    >>> out.shape, bool(np.abs(out - image).max() > 0.01)
    ((8, 8), True)
"""

from __future__ import annotations

import io

import numpy as np

from .files import encode_file

__all__ = ["COMPRESSION_FORMATS", "SUBSAMPLING", "compress_batch", "decode_unit", "down_up", "recompress"]

COMPRESSION_FORMATS: tuple[str, ...] = ("JPEG", "WEBP")
#: JPEG chroma subsampling by name, mildest first
SUBSAMPLING: dict[str, int] = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def decode_unit(data: bytes, channels: int) -> np.ndarray:
    """Decode a file to pixels in [0, 1]: (H, W) for ``channels`` 1, else (H, W, channels)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
        pixels = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
    return pixels


def _channels(unit: np.ndarray) -> int:
    return 1 if unit.ndim == 2 else int(unit.shape[2])


def down_up(unit: np.ndarray, scale: float) -> np.ndarray:
    """Downscale by ``scale`` (0 < scale <= 1) and back up to the original size, bilinear."""
    from PIL import Image

    if scale >= 1.0:
        return unit
    height, width = unit.shape[:2]
    small = (max(1, round(width * scale)), max(1, round(height * scale)))
    channels = _channels(unit)
    pixels = np.round(np.clip(unit, 0, 1) * 255).astype(np.uint8)
    image = Image.fromarray(pixels if channels != 1 or pixels.ndim == 2 else pixels[..., 0])
    restored = image.resize(small, Image.Resampling.BILINEAR).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(restored, dtype=np.float32).reshape(unit.shape) / 255.0


def recompress(
    unit: np.ndarray,
    fmt: str,
    quality: int,
    *,
    subsampling: str | None = None,
    generations: int = 1,
    scale: float = 1.0,
) -> np.ndarray:
    """``unit`` (H, W) or (H, W, 3) in [0, 1] after down/up-scaling and ``generations`` re-encodings.

    Args:
        fmt: ``"JPEG"`` or ``"WEBP"``.
        quality: 1..100.
        subsampling: JPEG chroma subsampling, ``"4:4:4"``, ``"4:2:2"`` or ``"4:2:0"`` (``None``: Pillow's).
        generations: how many times the image is decoded and re-encoded (generation loss).
        scale: downscale factor before re-encoding (1: none).
    """
    channels = _channels(unit)
    mode = "L" if channels == 1 else "RGB"
    if fmt == "WEBP":
        mode = "RGB"
    image = down_up(np.asarray(unit, dtype=np.float32), scale)
    for _ in range(max(1, generations)):
        data = encode_file(
            image, fmt, mode, quality=quality, subsampling=SUBSAMPLING[subsampling] if subsampling else None
        )
        image = decode_unit(data, 3 if mode == "RGB" else 1)
    if channels == 1 and image.ndim == 3:
        image = image.mean(axis=2)
    return image.reshape(np.asarray(unit).shape).astype(np.float32)


def compress_batch(x: np.ndarray, value_range: tuple[float, float], fmt: str, quality: int) -> np.ndarray:
    """Evaluation samples (N, C, H, W) in raw units, re-encoded once at ``quality``, in raw units.

    ``C`` must be 1 (gray) or 3 (RGB). The samples are quantised to 8 bits, as any image file is.
    """
    low, high = value_range
    unit = np.clip((np.asarray(x, dtype=np.float32) - low) / (high - low), 0.0, 1.0)
    out = np.empty_like(unit)
    for index, sample in enumerate(unit):
        hwc = sample[0] if sample.shape[0] == 1 else sample.transpose(1, 2, 0)
        back = recompress(hwc, fmt, quality)
        out[index] = back[None] if sample.shape[0] == 1 else back.transpose(2, 0, 1)
    return (out * (high - low) + low).astype(np.float32)
