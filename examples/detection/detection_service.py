"""The detection service as production runs it: image file bytes -> Pillow decode -> the detector -> one
``{"boxes", "labels", "scores"}`` in the file's pixels.

It rejects what it cannot read, and pictures under 8 px a side, with its own exception,
:class:`InvalidImage`; it reads the picture the file means (the EXIF orientation applied, an ICC profile's colours converted to sRGB, 16-bit and float
samples scaled from their full range, an alpha channel composited onto black, any mode as RGB). The detector
resizes the picture itself and gives its boxes back in the picture's pixels (torchvision's transform).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from detector import load_detector


class InvalidImage(ValueError):
    """The upload is not an image this service can read."""


#: the smallest side the service reads: the detector's stride is 8 px
MIN_SIDE = 8
_TO_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_SCALE = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0, "I": 2.0**31 - 1, "F": 1.0}


def _colours(picture: Image.Image) -> Image.Image:
    """An RGB picture tagged with an ICC profile, its colours converted to sRGB (an unreadable profile: as stored)."""
    icc = picture.info.get("icc_profile")
    if icc and picture.mode == "RGB":
        with contextlib.suppress(ImageCms.PyCMSError, OSError, ValueError):
            return ImageCms.applyTransform(picture, ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(icc)), _TO_SRGB, "RGB", "RGB"))
    return picture


def _as_rgb(picture: Image.Image) -> Image.Image:
    """Any mode as 8-bit RGB: high-bit-depth and float samples from their full range, alpha over black."""
    if picture.mode in _SCALE:
        levels = np.clip(np.nan_to_num(np.asarray(picture, np.float64) / _SCALE[picture.mode]), 0.0, 1.0)
        return Image.fromarray(np.round(levels * 255).astype(np.uint8)).convert("RGB")
    if "A" not in picture.mode and not (picture.mode == "P" and "transparency" in picture.info):
        return _colours(picture.convert("RGB"))
    over = picture.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", over.size, (0, 0, 0, 255)), over).convert("RGB")


def decode(data: bytes, *, orient: bool = True) -> np.ndarray:
    """The picture of an image file as float32 RGB ``(3, H, W)`` in [0, 1]."""
    if not data:
        raise InvalidImage("empty upload (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            rgb = _as_rgb(ImageOps.exif_transpose(image) if orient else image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidImage(f"cannot decode the upload as an image: {exc}") from exc
    if min(rgb.size) < MIN_SIDE:
        raise InvalidImage(f"the picture is {rgb.size[0]}x{rgb.size[1]} px; the service reads pictures of {MIN_SIDE} px a side or more")
    return np.asarray(rgb, np.float32).transpose(2, 0, 1) / 255.0


class DetectionService:
    def __init__(self, model: torch.nn.Module | None = None) -> None:
        self.model = model if model is not None else load_detector()

    def predict(self, data: bytes) -> dict[str, np.ndarray]:
        """The boxes, labels and scores of the shapes in an uploaded image file."""
        image = torch.from_numpy(decode(data))
        with torch.inference_mode():
            found = self.model([image])[0]
        return {key: value.numpy() for key, value in found.items()}
