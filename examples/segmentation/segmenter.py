"""A compact segmenter of shapes on photographs, and its procedurally drawn scenes.

A scene is a 48x48 crop of one of scikit-image's bundled photographs (nothing is downloaded) with one
or two solid shapes drawn over it: discs, squares and triangles, each of a random colour, size and
place; a later shape covers an earlier one. The mask labels each pixel 0 (background), 1 (disc),
2 (square) or 3 (triangle); the outermost ring of pixels is labelled 255, void, which no metric
counts (as Cityscapes leaves its image borders out). Scenes are drawn from a seed: the test split
is ``scenes(200, seed=1)``, the training split ``scenes(n, seed=0)``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).parent
WEIGHTS = HERE / "weights.pt"
CLASS_NAMES = ("background", "disc", "square", "triangle")
SIZE = 48
VOID = 255
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "retina", "hubble_deep_field")


@cache
def photographs() -> tuple[np.ndarray, ...]:
    """scikit-image's bundled colour photographs, float32 in [0, 1], shrunk to about 128 px on the short side."""
    from skimage import data

    out = []
    for name in PHOTOS:
        image = np.asarray(getattr(data, name)(), np.float32) / 255.0
        step = max(1, min(image.shape[:2]) // 128)
        out.append(np.ascontiguousarray(image[::step, ::step, :3]))
    return tuple(out)


def _shape_mask(kind: int, rng: np.random.Generator) -> np.ndarray:
    from skimage.draw import disk, polygon

    mask = np.zeros((SIZE, SIZE), bool)
    size = rng.uniform(8, 15)
    cy, cx = rng.uniform(size, SIZE - size, 2)
    if kind == 1:
        mask[disk((cy, cx), size, shape=mask.shape)] = True
    elif kind == 2:
        mask[int(cy - size) : int(cy + size), int(cx - size) : int(cx + size)] = True
    else:
        angle = rng.uniform(0, 2 * np.pi)
        corners = [angle + k * 2 * np.pi / 3 for k in range(3)]
        mask[polygon([cy + 1.4 * size * np.sin(a) for a in corners], [cx + 1.4 * size * np.cos(a) for a in corners], mask.shape)] = True
    return mask


def scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One image ``(3, SIZE, SIZE)`` float32 in [0, 1] and its mask ``(SIZE, SIZE)`` int64."""
    photo = photographs()[rng.integers(len(PHOTOS))]
    top, left = rng.integers(0, photo.shape[0] - SIZE), rng.integers(0, photo.shape[1] - SIZE)
    image = photo[top : top + SIZE, left : left + SIZE].copy()
    mask = np.zeros((SIZE, SIZE), np.int64)
    for _ in range(rng.integers(1, 3)):
        kind = int(rng.integers(1, 4))
        where = _shape_mask(kind, rng)
        image[where] = rng.uniform(0, 1, 3)
        mask[where] = kind
    mask[[0, -1], :] = VOID
    mask[:, [0, -1]] = VOID
    return image.transpose(2, 0, 1), mask


def scenes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` scenes: images ``(n, 3, SIZE, SIZE)`` and masks ``(n, SIZE, SIZE)``."""
    rng = np.random.default_rng(seed)
    pairs = [scene(rng) for _ in range(n)]
    return np.stack([p[0] for p in pairs]).astype(np.float32), np.stack([p[1] for p in pairs])


class ShapesSegmenter(nn.Module):
    """A compact encoder-decoder (about 74k parameters): features at full, half and quarter resolution
    (dilated convolutions at the quarter, so that a pixel sees a whole shape), each upsampled and joined
    to the finer one, then per-pixel logits."""

    def __init__(self, classes: int = len(CLASS_NAMES)) -> None:
        super().__init__()
        self.full = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
        self.middle = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU())
        self.quarter = nn.Sequential(
            nn.Conv2d(32, 48, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(48, 48, 3, padding=2, dilation=2),
            nn.ReLU(),
            nn.Conv2d(48, 48, 3, padding=2, dilation=2),
            nn.ReLU(),
        )
        self.join_half = nn.Sequential(nn.Conv2d(80, 32, 1), nn.ReLU())
        self.join_full = nn.Sequential(nn.Conv2d(48, 16, 1), nn.ReLU(), nn.Conv2d(16, classes, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        full = self.full(x)
        half = self.middle(full)
        quarter = nn.functional.interpolate(self.quarter(half), size=half.shape[-2:], mode="bilinear", align_corners=False)
        half = nn.functional.interpolate(self.join_half(torch.cat([half, quarter], dim=1)), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.join_full(torch.cat([full, half], dim=1))


def load_model(weights: Path = WEIGHTS) -> ShapesSegmenter:
    model = ShapesSegmenter()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()
