"""Draw the scenes and train the example detector: ``python examples/detection/train.py``.

Needs scikit-image for the photographs behind the shapes (the suite itself reads the frozen test split
``scenes_test.npz`` and does not). Writes ``scenes_test.npz`` and ``weights.pt``. Deterministic for a seed:
training runs on one CPU thread (see the module's docstring in detector.py for the timing).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from detector import MAX_SHAPES, TEST_SPLIT, WEIGHTS, build_detector, draw_scene, photos


def scenes(n: int, seed: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """``n`` scenes: uint8 images (n, SIDE, SIDE, 3), and each one's boxes and labels."""
    rng = np.random.default_rng(seed)
    backgrounds = photos()
    drawn = [draw_scene(backgrounds, rng) for _ in range(n)]
    return np.stack([d[0] for d in drawn]), [d[1] for d in drawn], [d[2] for d in drawn]


def save_test_split(n: int, seed: int) -> None:
    images, boxes, labels = scenes(n, seed)
    padded_boxes = np.zeros((n, MAX_SHAPES, 4), np.float32)
    padded_labels = np.zeros((n, MAX_SHAPES), np.int64)
    counts = np.array([len(b) for b in boxes])
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        padded_boxes[i, : len(b)], padded_labels[i, : len(lab)] = b, lab
    np.savez_compressed(TEST_SPLIT, images=images.transpose(0, 3, 1, 2), boxes=padded_boxes, labels=padded_labels, counts=counts)


def train(steps: int, batch: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    images, boxes, labels = scenes(steps * batch // 4, seed + 1)  # each scene is seen about four times
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    model = build_detector().train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=0.02, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(seed)
    start = time.process_time()
    for step in range(steps):
        chosen = rng.choice(len(x), batch, replace=False)
        flips = rng.random(batch) < 0.5
        inputs, targets = [], []
        for i, flip in zip(chosen, flips):
            b = torch.from_numpy(boxes[i]).clone()
            image = x[i]
            if flip:  # horizontal flip: the boxes follow
                image = image.flip(-1)
                b[:, [0, 2]] = image.shape[-1] - b[:, [2, 0]]
            inputs.append(image)
            targets.append({"boxes": b, "labels": torch.from_numpy(labels[i])})
        losses = model(inputs, targets)
        loss = sum(losses.values())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  " + "  ".join(f"{k} {v.item():.3f}" for k, v in losses.items()) + f"  cpu {time.process_time() - start:.0f}s", flush=True)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--test", type=int, default=200, help="scenes in the test split")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    save_test_split(args.test, args.seed + 100)
    wall, cpu = time.perf_counter(), time.process_time()
    model = train(args.steps, args.batch, args.seed)
    torch.save(model.state_dict(), WEIGHTS)
    print(f"trained in {time.process_time() - cpu:.0f} s of CPU time ({time.perf_counter() - wall:.0f} s of wall time); wrote {WEIGHTS.name}, {TEST_SPLIT.name}")


if __name__ == "__main__":
    main()
