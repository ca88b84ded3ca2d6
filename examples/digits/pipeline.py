"""A production-like pipeline: image file bytes -> Pillow decode -> tensor -> class probabilities.

It rejects what it cannot read with its own exception, :class:`InvalidImage`, and accepts any image
Pillow decodes (any size, any mode), reading the picture the file means, not only its stored bytes:

* the EXIF orientation is applied (a phone photo is stored sideways with a tag saying so);
* 16-bit and 32-bit integer samples are scaled from their full range, float samples are read as
  values in [0, 1] (Pillow's ``convert("L")`` would clip them: a 16-bit picture turns white, a float
  one black); float pixels that are not finite or outside [0, 1] are rejected;
* an embedded ICC profile is applied (the pixels are converted to sRGB);
* an alpha channel is composited onto black, the digits' background; a L*a*b* picture is converted
  to RGB first;

then it converts to 8-bit gray and resizes to 8x8, as the service that serves the model would.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from model import MEAN, STD, load_model


class InvalidImage(ValueError):
    """The upload is not an image this service can read."""


#: the largest value of each high-bit-depth mode (Pillow's I;16 variants, 32-bit signed, float)
FULL_SCALE = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0, "I": 2.0**31 - 1, "F": 1.0}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class DigitsService:
    def __init__(self, model: torch.nn.Module | None = None) -> None:
        self.model = model if model is not None else load_model()

    def orient(self, image: Image.Image) -> Image.Image:
        """The picture upright, as its EXIF orientation says."""
        return ImageOps.exif_transpose(image)

    def to_8bit(self, image: Image.Image) -> Image.Image:
        """High-bit-depth and float pictures as 8-bit gray, scaled from their full range."""
        array = np.asarray(image, dtype=np.float64)
        if not np.isfinite(array).all():
            raise InvalidImage("the picture has NaN or infinite pixels")
        unit = array / FULL_SCALE[image.mode]
        if image.mode == "F" and (unit.min() < 0.0 or unit.max() > 1.0):
            raise InvalidImage(f"float pixels must lie in [0, 1]; this picture holds {unit.min():.4g}..{unit.max():.4g}")
        return Image.fromarray(np.round(np.clip(unit, 0.0, 1.0) * 255).astype(np.uint8))

    def to_srgb(self, image: Image.Image) -> Image.Image:
        """The pixels converted from the file's ICC profile to sRGB (unreadable profiles are ignored)."""
        profile = image.info.get("icc_profile")
        if not profile or image.mode not in ("RGB", "RGBA", "CMYK"):
            return image
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            return ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            return image

    def to_gray(self, image: Image.Image) -> Image.Image:
        if image.mode in FULL_SCALE:
            return self.to_8bit(image)
        if image.mode == "LAB":  # CIE L*a*b* (a TIFF from a print workflow): Pillow converts it to RGB, not to L
            image = image.convert("RGB")
        image = self.to_srgb(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
        return image.convert("L")

    def decode(self, data: bytes) -> np.ndarray:
        if not data:
            raise InvalidImage("empty upload (0 bytes)")
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                gray = self.to_gray(self.orient(image)).resize((8, 8), Image.Resampling.BILINEAR)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            if isinstance(exc, InvalidImage):
                raise
            raise InvalidImage(f"cannot decode the upload as an image: {exc}") from exc
        return np.asarray(gray, dtype=np.float32)[None, None] / 255.0

    def predict(self, data: bytes) -> np.ndarray:
        """Class probabilities for an uploaded image file."""
        x = torch.from_numpy(self.decode(data))
        with torch.inference_mode():
            return torch.softmax(self.model((x - MEAN) / STD), dim=1)[0].numpy()
