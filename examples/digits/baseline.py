"""The model in production before the CNN: a linear softmax over the 64 pixels (``weights_v1.pt``, 3 KB).

The digits example's model-version gate compares the CNN (the candidate, ``weights.pt``) with it:
``python examples/digits/baseline.py`` retrains it (deterministic, a second or two on the CPU).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from model import WEIGHTS, load_digits_split

WEIGHTS_V1 = WEIGHTS.with_name("weights_v1.pt")


def linear_digits() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))


def train_baseline(steps: int = 300, seed: int = 0) -> nn.Module:
    """Full-batch Adam on the training split's raw [0, 1] pixels."""
    torch.manual_seed(seed)
    x, y = (torch.from_numpy(a) for a in load_digits_split("train"))
    model = linear_digits()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval()


def load_baseline(weights: Path = WEIGHTS_V1) -> nn.Module:
    model = linear_digits()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


if __name__ == "__main__":
    model = train_baseline()
    x_test, y_test = load_digits_split("test")
    with torch.no_grad():
        accuracy = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
    torch.save(model.state_dict(), WEIGHTS_V1)
    print(f"test accuracy {accuracy:.4f}; weights saved to {WEIGHTS_V1}")
