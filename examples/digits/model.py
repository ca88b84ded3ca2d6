"""A small CNN for scikit-learn's handwritten digits (8x8 gray images, 10 classes), and its data.

The data ships with scikit-learn (nothing is downloaded). Pixels are scaled from 0..16 to [0, 1];
the model normalises them with the training set's mean and std.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).parent
WEIGHTS = HERE / "weights.pt"
TEST_SPLIT = HERE / "digits_test.npz"
CLASS_NAMES = tuple(str(d) for d in range(10))
MEAN, STD = 0.3054, 0.3761  # of the training split, in [0, 1] pixel units (see train.py)


class DigitsCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def load_digits_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of the ``"train"`` or ``"test"`` split: x float32 (N, 1, 8, 8) in [0, 1], y int64.

    The test split is frozen in ``digits_test.npz`` (pixel values 0..16, written by ``train.py``):
    the evaluation set the committed weights were measured on, which loads without scikit-learn.
    """
    if split == "test" and TEST_SPLIT.is_file():
        with np.load(TEST_SPLIT) as frozen:
            return (frozen["pixels"] / 16.0).astype(np.float32), frozen["labels"].astype(np.int64)
    return split_from_sklearn(split)


def split_from_sklearn(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The split as scikit-learn makes it (stratified 80/20, ``random_state=0``)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    return (x_train, y_train) if split == "train" else (x_test, y_test)


def freeze_test_split(path: Path | None = None) -> Path:
    """Write the test split to ``digits_test.npz`` (``train.py`` calls it beside the weights)."""
    path = path or TEST_SPLIT
    x, y = split_from_sklearn("test")
    np.savez_compressed(path, pixels=np.rint(x * 16).astype(np.uint8), labels=y.astype(np.uint8))
    return path


def load_model(weights: Path = WEIGHTS) -> DigitsCNN:
    model = DigitsCNN()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()
