"""A small ResNet that tells which of eight colour photos a 32x32 patch comes from, and its data.

The photos ship with scikit-image (``skimage.data``; nothing is downloaded): an astronaut, a cat, a cup of
coffee, a rocket on its launch pad, galaxies of the Hubble deep field, a stained tissue section, a retina and
a motorcycle. Each photo is resized to a shorter side of 384 px and cut into 64x64 tiles; a quarter of the
tiles (diagonal stripes) are held out, so that the test patches show parts of the photos the model never saw.
A patch is a square of 32 to 64 px inside one tile, resized to 32x32: a texture, a colour, a piece of an
object, as a crop of a CIFAR-10 photo is.

The test split is frozen in ``photos_test.npz`` (uint8 pixels, written by ``train.py``), so the suite needs
neither scikit-image nor the crops' code; pixels are given to the model in [0, 1], channels first, and the
model normalises them with the training split's per-channel mean and std (``TorchModel(mean=, std=)``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

HERE = Path(__file__).parent
WEIGHTS = HERE / "weights.pt"
WEIGHTS_V1 = HERE / "weights_v1.pt"
TEST_SPLIT = HERE / "photos_test.npz"
CLASS_NAMES = ("astronaut", "cat", "coffee", "rocket", "galaxies", "tissue", "retina", "motorcycle")
#: per-channel mean and std of the training patches, in [0, 1] pixel units (train.py prints them)
MEAN = (0.5130, 0.3580, 0.3093)
STD = (0.3043, 0.2351, 0.2306)
SIDE, BASE, TILE = 32, 384, 64  # patch side; photos' shorter side; tile side


class PhotoResNet(nn.Module):
    """He et al.'s CIFAR ResNet (ResNet-20 with ``blocks=3``; here ResNet-8, one block a stage), built from
    torchvision's ``BasicBlock``: a 3x3 stem of 16 channels, three stages of 16, 32 and 64 channels
    (strides 1, 2, 2), global average pooling and a linear head. 78 thousand parameters."""

    def __init__(self, num_classes: int = len(CLASS_NAMES), blocks: int = 1, widths: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        channels = widths[0]
        for stage, width in enumerate(widths):
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                downsample = None
                if stride != 1 or channels != width:
                    downsample = nn.Sequential(nn.Conv2d(channels, width, 1, stride=stride, bias=False), nn.BatchNorm2d(width))
                layers.append(BasicBlock(channels, width, stride=stride, downsample=downsample))
                channels = width
        self.stages = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


class PlainCNN(nn.Module):
    """The model in production before the ResNet (``weights_v1.pt``): two convolutions and a linear head,
    no residuals, no batch norm. The suite's gate compares the ResNet with it, and the example's mCE is
    normalised by its corruption errors, as ImageNet-C's is by AlexNet's."""

    def __init__(self, num_classes: int = len(CLASS_NAMES)) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(4), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def load_test_split(path: Path = TEST_SPLIT) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of the frozen test split: x float32 (N, 3, 32, 32) in [0, 1], y int64."""
    with np.load(path) as frozen:
        return (frozen["pixels"].transpose(0, 3, 1, 2) / 255.0).astype(np.float32), frozen["labels"].astype(np.int64)


def _load(make: Callable[[], nn.Module], weights: Path) -> nn.Module:
    model = make()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def load_model(weights: Path = WEIGHTS) -> nn.Module:
    return _load(PhotoResNet, weights)


def load_baseline(weights: Path = WEIGHTS_V1) -> nn.Module:
    return _load(PlainCNN, weights)
