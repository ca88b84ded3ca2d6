"""Train the digits CNN and save its weights (about 150 KB): ``python examples/digits/train.py``.

Deterministic for a seed on the CPU. Takes a few seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model import MEAN, STD, WEIGHTS, DigitsCNN, load_digits_split


def train(epochs: int = 30, seed: int = 0, noise: float = 0.0) -> DigitsCNN:
    """Train on the training split; ``noise`` adds Gaussian noise of that sigma to training images."""
    torch.manual_seed(seed)
    x, y = load_digits_split("train")
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    model = DigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_t), generator=generator)
        for start in range(0, len(order), 64):
            index = order[start : start + 64]
            batch = x_t[index]
            if noise:
                batch = (batch + noise * torch.randn(batch.shape, generator=generator)).clamp(0, 1)
            optimizer.zero_grad()
            loss = loss_fn(model((batch - MEAN) / STD), y_t[index])
            loss.backward()
            optimizer.step()
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    x, _ = load_digits_split("train")
    print(f"training split: mean {x.mean():.4f}, std {x.std():.4f} (model.py uses {MEAN}, {STD})")
    model = train(args.epochs, args.seed)
    x_test, y_test = load_digits_split("test")
    with torch.no_grad():
        accuracy = (model((torch.from_numpy(x_test) - MEAN) / STD).argmax(1).numpy() == y_test).mean()
    torch.save(model.state_dict(), args.out)
    print(f"test accuracy {accuracy:.4f}; weights saved to {args.out}")


if __name__ == "__main__":
    main()
