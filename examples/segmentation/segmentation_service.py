"""The segmentation service as production runs it: image file bytes -> Pillow decode -> the segmenter ->
per-pixel class probabilities ``(4, 48, 48)``.

It rejects what it cannot read with its own exception, :class:`InvalidImage`, and reads the picture the
file means: the EXIF orientation applied, an ICC profile converted to sRGB, 16-bit and float samples scaled from their full range, an alpha
channel composited onto black, any mode converted to RGB, then resized to the segmenter's 48x48.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from segmenter import SIZE, load_model


class InvalidImage(ValueError):
    """The upload is not an image this service can read."""


#: the largest value of each high-bit-depth mode (Pillow's I;16 variants, 32-bit signed, float)
FULL_SCALE = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0, "I": 2.0**31 - 1, "F": 1.0}


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def in_srgb(picture: Image.Image) -> Image.Image:
    """The pixels converted from the file's ICC profile to sRGB (an unreadable profile is ignored)."""
    profile = picture.info.get("icc_profile")
    if not profile or picture.mode not in ("RGB", "CMYK"):
        return picture
    try:
        return ImageCms.profileToProfile(picture, ImageCms.ImageCmsProfile(io.BytesIO(profile)), _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return picture


def read_rgb(data: bytes, side: int | None = None, *, orient: bool = True) -> np.ndarray:
    """The picture of an image file as float32 RGB ``(3, H, W)`` in [0, 1], resized to ``side`` x ``side`` if given."""
    if not data:
        raise InvalidImage("empty upload (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            picture = ImageOps.exif_transpose(image) if orient else image
            if picture.mode in FULL_SCALE:
                unit = np.nan_to_num(np.asarray(picture, np.float64) / FULL_SCALE[picture.mode])
                picture = Image.fromarray(np.round(np.clip(unit, 0.0, 1.0) * 255).astype(np.uint8))
            if "A" in picture.mode or (picture.mode == "P" and "transparency" in picture.info):
                rgba = picture.convert("RGBA")
                picture = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
            rgb = in_srgb(picture).convert("RGB")
            if side is not None:
                rgb = rgb.resize((side, side), Image.Resampling.BILINEAR)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidImage(f"cannot decode the upload as an image: {exc}") from exc
    return np.asarray(rgb, np.float32).transpose(2, 0, 1) / 255.0


class SegmentationService:
    def __init__(self, model: torch.nn.Module | None = None) -> None:
        self.model = model if model is not None else load_model()

    def predict(self, data: bytes) -> np.ndarray:
        """Per-pixel class probabilities ``(4, 48, 48)`` for an uploaded image file."""
        x = torch.from_numpy(read_rgb(data, SIZE))[None]
        with torch.inference_mode():
            return torch.softmax(self.model(x), dim=1)[0].numpy()
