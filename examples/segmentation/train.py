"""Train the shapes segmenter (segmenter.py) on procedurally drawn scenes and save weights.pt.

    python examples/segmentation/train.py      # 222 s on one core of a busy two-core machine (2026-12-03)

Re-run on 2026-12-03 with one torch thread beside another session's tests: 62 s, test mIoU 0.6693, and
the weights.pt it wrote equal the committed one byte for byte.

Half of the training images get Gaussian noise of a random strength (sigma up to 0.15 in [0, 1] pixel
units), so that the model keeps most of its mIoU under the corruption checks of pyproject.toml.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's pytest_mlguard, for the mIoU printed at the end

from segmenter import CLASS_NAMES, VOID, WEIGHTS, ShapesSegmenter, scenes


def train(n: int = 1600, epochs: int = 10, seed: int = 0, noise: bool = True) -> ShapesSegmenter:
    torch.manual_seed(seed)
    x, y = scenes(n, seed=0)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model = ShapesSegmenter(len(CLASS_NAMES))
    optimiser = torch.optim.Adam(model.parameters(), lr=4e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=4e-3, total_steps=epochs * ((n + 31) // 32))
    loss_fn = nn.CrossEntropyLoss(ignore_index=VOID)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, 32):
            index = order[start : start + 32]
            batch = x[index]
            if noise:
                sigma = torch.rand(len(batch), 1, 1, 1, generator=generator) * 0.15 * (torch.rand(len(batch), 1, 1, 1, generator=generator) < 0.5)
                batch = (batch + sigma * torch.randn(batch.shape, generator=generator)).clamp(0, 1)
            loss = loss_fn(model(batch), y[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
        print(f"epoch {epoch + 1}: loss {total / n:.4f}", flush=True)
    return model.eval()


def main() -> None:
    torch.set_num_threads(1)  # faster than two threads on a busy two-core machine
    started = time.perf_counter()
    model = train()
    torch.save(model.state_dict(), WEIGHTS)
    from pytest_mlguard._segmentation.metrics import mean_iou

    x, y = scenes(200, seed=1)
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    print(f"test mIoU {mean_iou(pred, y, len(CLASS_NAMES), VOID):.4f}; trained in {time.perf_counter() - started:.0f} s; saved {WEIGHTS}")


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
