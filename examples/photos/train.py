"""Cut the patches and train the photo classifiers: ``python examples/photos/train.py``.

Needs scikit-image for the photos (``pip install scikit-image``; the suite itself reads the frozen test split
``photos_test.npz`` and does not). Writes ``photos_test.npz`` and the weights of the ResNet (``weights.pt``)
and of the plain CNN it replaces (``weights_v1.pt``, ``--baseline``). Deterministic for a seed: training runs on
one CPU thread. The ResNet takes about three minutes of CPU time (8 to 12 minutes of wall time on the
2-core machine at a load average of 6 to 12), the plain CNN under a minute.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from photos_model import BASE, CLASS_NAMES, MEAN, SIDE, STD, TEST_SPLIT, TILE, WEIGHTS, WEIGHTS_V1, PhotoResNet, PlainCNN


def photos() -> list[np.ndarray]:
    """The eight photos, in the order of ``CLASS_NAMES``, resized to a shorter side of ``BASE`` px (uint8 RGB)."""
    from skimage import data

    retina = data.retina()
    side = int(retina.shape[0] * 0.66)  # the square inside the fundus: no black border
    top = (retina.shape[0] - side) // 2
    images = {
        "astronaut": data.astronaut(),
        "cat": data.chelsea(),
        "coffee": data.coffee(),
        "rocket": data.rocket(),
        "galaxies": data.hubble_deep_field(),
        "tissue": data.immunohistochemistry(),
        "retina": retina[top : top + side, top : top + side],
        "motorcycle": data.stereo_motorcycle()[0],
    }
    resized = []
    for name in CLASS_NAMES:
        image = Image.fromarray(images[name][..., :3])
        scale = BASE / min(image.size)
        resized.append(np.asarray(image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)))
    return resized


def tiles(image: np.ndarray, held_out: bool) -> list[tuple[int, int]]:
    """Top-left corners of the image's ``TILE`` px tiles: the held-out quarter (diagonal stripes) or the rest."""
    rows, cols = image.shape[0] // TILE, image.shape[1] // TILE
    return [(r * TILE, c * TILE) for r in range(rows) for c in range(cols) if ((r + c) % 4 == 1) == held_out]


def patches(images: list[np.ndarray], per_class: int, held_out: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` patches of each photo, uint8 (N, 32, 32, 3): a square of 32 to 64 px inside one tile
    (of the held-out ones, or of the others), resized to 32x32."""
    rng = np.random.default_rng(seed)
    pixels, labels = [], []
    for label, image in enumerate(images):
        corners = tiles(image, held_out)
        for _ in range(per_class):
            top, left = corners[rng.integers(len(corners))]
            side = int(rng.integers(SIDE, TILE + 1))
            dy, dx = rng.integers(0, TILE - side + 1, size=2)
            crop = Image.fromarray(image[top + dy : top + dy + side, left + dx : left + dx + side])
            pixels.append(np.asarray(crop.resize((SIDE, SIDE), Image.Resampling.BILINEAR)))
            labels.append(label)
    return np.stack(pixels), np.asarray(labels, dtype=np.uint8)


def as_tensors(pixels: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0, torch.from_numpy(labels.astype(np.int64))


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def train(
    make: Callable[[], nn.Module], images: list[np.ndarray], per_class: int, epochs: int, seed: int, lr: float = 0.05
) -> nn.Module:
    """A ``make()`` model, initialised from ``seed``, trained by SGD with momentum and a one-cycle schedule;
    every epoch draws new training patches (``per_class`` of each photo), flipped left to right at random."""
    torch.manual_seed(seed)  # before the model is made: its initial weights come from it
    model = make()
    generator = torch.Generator().manual_seed(seed)
    steps = epochs * -(-per_class * len(images) // 128)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.15)
    for epoch in range(epochs):
        x, y = as_tensors(*patches(images, per_class, held_out=False, seed=seed * 1000 + epoch))
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(order), 128):
            index = order[start : start + 128]
            batch = x[index]
            flip = torch.rand(len(index), generator=generator) < 0.5
            batch[flip] = batch[flip].flip(-1)
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(normalise(batch)), y[index]).backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(normalise(x)).argmax(1) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=1000, help="training patches per photo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", action="store_true", help="train the plain CNN instead; saves weights_v1.pt")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default: 0.05, the plain CNN 0.01)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)  # one thread: the order of every sum, and so the weights, fixed by the seed
    start = time.perf_counter()
    images = photos()
    train_pixels, train_labels = patches(images, args.per_class, held_out=False, seed=args.seed * 1000)
    test_pixels, test_labels = patches(images, 100, held_out=True, seed=10_000 + args.seed)
    np.savez_compressed(TEST_SPLIT, pixels=test_pixels, labels=test_labels)
    x, y = as_tensors(train_pixels, train_labels)
    mean, std = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
    print(f"{len(x)} training patches: mean {[round(float(m), 4) for m in mean]}, std {[round(float(s), 4) for s in std]} (photos_model.py: {MEAN}, {STD})")
    print(f"test split ({len(test_labels)} patches) frozen in {TEST_SPLIT}")
    lr = args.lr or (0.01 if args.baseline else 0.05)  # without batch norm, 0.05 can leave the plain CNN's ReLUs dead
    model = train(PlainCNN if args.baseline else PhotoResNet, images, args.per_class, args.epochs, args.seed, lr)
    out = args.out or (WEIGHTS_V1 if args.baseline else WEIGHTS)
    torch.save(model.state_dict(), out)
    x_test, y_test = as_tensors(test_pixels, test_labels)
    print(f"train accuracy {accuracy(model, x, y):.4f}, test accuracy {accuracy(model, x_test, y_test):.4f}; "
          f"weights saved to {out} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
