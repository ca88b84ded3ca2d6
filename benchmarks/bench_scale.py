"""The suite at a realistic scale: a ResNet-18 (torchvision's, random weights: the cost does not depend
on them) at 32x32 and 224x224 on 1,000 to 10,000 samples, under the ``ci`` and ``nightly`` profiles.

For each size and profile it runs the default plan through :func:`pytest_mlguard.check_model` (every
family that needs only a model and data, as ``pytest --mlguard`` runs them) and prints the wall time,
the model evaluations (forward passes of one sample, gradients counted as one), and the ratio of the
wall time to pure inference of as many samples: the model's forward pass alone, timed here on batches
of the model's batch size, before and after the suite (the smaller of the two). A gradient costs about
three forward passes, so a suite of attacks has a ratio near 3 with no overhead at all; the table
gives the ratio of each family so that the overhead shows where it is.

The labels are the model's own top-1 classes on the clean images (clean accuracy 1), so that every
check runs as it would on a model that works; early stopping (``ci``) then stops where a verdict
is decided. The machine's load average is printed with the figures: other jobs stretch wall times.

    python benchmarks/bench_scale.py                                    # 32x32, 1,000 samples, ci: minutes on a CPU
    python benchmarks/bench_scale.py --sizes 32 224 --samples 10000 --profiles ci nightly --device cuda
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's package, not an installed one


def build(size: int, samples: int, device: str, seed: int = 0) -> tuple[Any, Any]:
    """A ResNet-18 with random weights for ``size`` x ``size`` RGB images, and ``samples`` images in
    [0, 1] labelled with its own top-1 classes."""
    import torch
    import torchvision

    from pytest_mlguard import EvalData, TorchModel

    torch.manual_seed(seed)
    net = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    x = np.random.default_rng(seed).random((samples, 3, size, size), dtype=np.float32)
    batch = 256 if size <= 64 else 64
    model = TorchModel(net, input_shape=(3, size, size), n_classes=10, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                       batch_size=batch, name=f"resnet18-{size}")
    with model.running(device):
        y = model.predict_proba(x).argmax(axis=1)
    return model, EvalData(x, y, name=f"random-{size}")


def forward_seconds(model: Any, x: np.ndarray, device: str, batches: int = 4) -> float:
    """Seconds of one sample's forward pass: ``batches`` batches of the model's batch size, after one
    to warm up (the fastest batch, per sample)."""
    import torch

    size = min(model.batch_size, len(x))
    times = []
    with model.running(device), torch.inference_mode():
        for i in range(batches + 1):
            batch = torch.from_numpy(np.ascontiguousarray(x[(i * size) % len(x) :][:size])).to(device)
            start = time.perf_counter()
            model.module(model.normalize(batch)).float().cpu()
            times.append((time.perf_counter() - start) / len(batch))
    return min(times[1:])


def run(model: Any, data: Any, profile: str, device: str, seed: int) -> tuple[float, list[Any]]:
    from pytest_mlguard import check_model

    start = time.perf_counter()
    results = check_model(model, data, settings={"profile": profile, "device": device, "seed": seed})
    return time.perf_counter() - start, results


def rows(results: list[Any], per_sample_s: float) -> list[tuple[str, int, float, int, float]]:
    """Per family: checks, wall seconds, model evaluations, ratio to pure inference."""
    families: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for result in results:
        family = families[result.family]
        family[0] += 1
        family[1] += result.duration_s
        family[2] += result.evaluations or 0
    out = []
    for name, (checks, wall, evaluations) in sorted(families.items(), key=lambda item: -item[1][1]):
        ratio = wall / (evaluations * per_sample_s) if evaluations else float("nan")
        out.append((name, int(checks), wall, int(evaluations), ratio))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32], help="image sides (default: 32; 224 for ImageNet-sized)")
    parser.add_argument("--samples", type=int, default=1000, help="evaluation samples (default: 1000)")
    parser.add_argument("--profiles", nargs="+", default=["ci"], choices=["smoke", "ci", "nightly"], help="profiles (default: ci)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    where = torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else f"{os.cpu_count()} CPU cores"
    print(f"bench_scale: {args.device} ({where}), torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    summary = []
    for size in args.sizes:
        model, data = build(size, args.samples, args.device, args.seed)
        before = forward_seconds(model, data.x, args.device)
        for profile in args.profiles:
            wall, results = run(model, data, profile, args.device, args.seed)
            per_sample = min(before, forward_seconds(model, data.x, args.device))
            evaluations = sum(r.evaluations or 0 for r in results)
            summary.append((size, profile, len(results), wall, evaluations, evaluations * per_sample))
            print(f"\n{size}x{size}, {args.samples} samples, profile {profile}: {len(results)} checks in {wall:.1f} s, "
                  f"{evaluations} model evaluations, forward pass {per_sample * 1e3:.3f} ms a sample, load average {os.getloadavg()[0]:.1f}")
            print("| family | checks | wall s | model evaluations | ratio to pure inference |")
            print("|---|---:|---:|---:|---:|")
            for name, checks, family_wall, family_evaluations, ratio in rows(results, per_sample):
                print(f"| {name} | {checks} | {family_wall:.1f} | {family_evaluations} | {ratio:.2f} |")
    print("\n| size | samples | profile | checks | wall s | model evaluations | pure inference s | ratio |\n|---|---:|---|---:|---:|---:|---:|---:|")
    for size, profile, checks, wall, evaluations, pure in summary:
        print(f"| {size}x{size} | {args.samples} | {profile} | {checks} | {wall:.1f} | {evaluations} | {pure:.1f} | {wall / pure:.2f} |")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
