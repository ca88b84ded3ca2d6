"""A production-like pipeline: image file bytes -> Pillow decode -> tensor -> class probabilities.

It rejects what it cannot read with its own exception, :class:`InvalidImage`, and accepts any image
Pillow decodes (any size, any mode): it converts to 8-bit gray and resizes to 8x8, as the service
that serves the model would.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from model import MEAN, STD, load_model


class InvalidImage(ValueError):
    """The upload is not an image this service can read."""


class DigitsService:
    def __init__(self, model: torch.nn.Module | None = None) -> None:
        self.model = model if model is not None else load_model()

    def decode(self, data: bytes) -> np.ndarray:
        if not data:
            raise InvalidImage("empty upload (0 bytes)")
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                gray = image.convert("L").resize((8, 8), Image.Resampling.BILINEAR)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise InvalidImage(f"cannot decode the upload as an image: {exc}") from exc
        return np.asarray(gray, dtype=np.float32)[None, None] / 255.0

    def predict(self, data: bytes) -> np.ndarray:
        """Class probabilities for an uploaded image file."""
        x = torch.from_numpy(self.decode(data))
        with torch.inference_mode():
            return torch.softmax(self.model((x - MEAN) / STD), dim=1)[0].numpy()
