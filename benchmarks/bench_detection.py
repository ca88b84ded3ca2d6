"""What a detector's checks cost over pure inference on the detection example, printed side by side.

The corruption checks of the example's pyproject.toml (four corruptions at severities 1, 3 and 5) run
through ``check_model`` as the suite runs them, with the clean mAP (``accuracy[map]``); that is timed
against its two unavoidable parts timed alone: plain batched inference on the same images (once clean,
once per cell) and corrupting them (``corrupt_images``, once per cell). "ratio 2" times the inference on
each cell's corrupted images themselves, as the checks run it, where "ratio" counts the clean images' 13
times: a detector's inference costs more on some corrupted images (more boxes survive its score threshold
and NMS on noise). A ratio of 1.0 is a suite with no
overhead; the rest is scoring (torchmetrics' mAP, the bootstrap intervals over images, ``verdict.bootstrap``
resamples: the same checks with ``verdict.bootstrap = 0`` show what the intervals cost). ``calibration[ece]``
and ``attack[pgd-linf-1/255]`` are timed against one clean inference pass and against the attack alone
(``art_pgd``). They take turns ``--rounds`` times, so that load from other processes falls on all alike.
Last, what scoring one check costs on the clean detections: the mAP as the checks compute it (torchmetrics'
value, against the targets converted once: ``CocoTargets``) on the COCO backend they use (faster-coco-eval
where installed), torchmetrics' ``MeanAveragePrecision`` itself updated with the targets on that backend and on
pycocotools, matching each image once (``Matches.of``) and
accumulating the ``verdict.bootstrap`` resamples (``Matches.average_precisions``). ``--clock cpu`` times the
process's CPU time (all its threads) instead of wall time, which time slices other processes take do not
inflate: on a loaded machine, with ``OMP_NUM_THREADS=1`` (threads that wait for each other spin on the CPU).

    python benchmarks/bench_detection.py             # about 5 minutes on 2 shared cores
    python benchmarks/bench_detection.py --images 100 --rounds 1
    OMP_NUM_THREADS=1 python benchmarks/bench_detection.py --rounds 3 --clock cpu
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "detection"))
sys.path.insert(0, str(ROOT))  # this checkout's package, not the one a shared venv has installed (editable) from another

from detector import CLASS_NAMES, load_detector, load_test_split  # noqa: E402

from pytest_mlguard.checks.api import check_model  # noqa: E402
from pytest_mlguard.contract import DetectionData, TorchDetectionModel  # noqa: E402
from pytest_mlguard.detection._attack import art_pgd  # noqa: E402
from pytest_mlguard.detection._corrupt import corrupt_images  # noqa: E402
from pytest_mlguard.detection._metrics import CocoTargets, _tensors, coco_backend, mean_average_precision  # noqa: E402
from pytest_mlguard.detection._resample import Matches  # noqa: E402

CELLS = [(name, severity) for name in ("gaussian_noise", "motion_blur", "fog", "jpeg_compression") for severity in (1, 3, 5)]
SETTINGS = {
    "task": "detection",
    "corruption.corruptions": sorted({name for name, _ in CELLS}),
    "corruption.severities": [1, 3, 5],
    "attack.steps": 5,
    "attack.step_size": 0.25,
    "attack.samples": 48,
    "attack.batch_size": 16,
}


#: --clock: wall time, or the CPU time of the process (all its threads)
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = ["wall"]


def timed(run: Callable[[], object]) -> float:
    clock = CLOCKS[CLOCK[0]]
    start = clock()
    run()
    return clock() - start


def corrupted_inference(model: TorchDetectionModel, images: list[np.ndarray]) -> tuple[float, float]:
    """The time of corrupting the images for every cell, and of inference on each cell's corrupted images."""
    corrupting = inferring = 0.0
    for cell in CELLS:
        held: list[list[np.ndarray]] = []
        corrupting += timed(lambda c=cell: held.append(corrupt_images(images, *c, seed=0)))  # noqa: B023 - called at once
        inferring += timed(lambda: model.predict(held[0]))  # noqa: B023 - called at once
    return corrupting, inferring


def metric_map(predictions: list[dict[str, np.ndarray]], targets: list[dict[str, np.ndarray]], backend: str = "pycocotools") -> float:
    """torchmetrics' ``MeanAveragePrecision`` itself, updated with the targets, on ``backend``."""
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(iou_type="bbox", backend=backend)
    metric.update(_tensors(predictions), _tensors(targets))
    return float(metric.compute()["map"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall", help="wall time, or the process's CPU time on a loaded machine (default wall)")
    args = parser.parse_args()
    CLOCK[0] = args.clock
    load = os.getloadavg()
    images, targets = load_test_split()
    images, targets = list(images[: args.images]), targets[: args.images]
    model = TorchDetectionModel(load_detector(), class_names=CLASS_NAMES, name="shapes", batch_size=50)
    data = DetectionData(images, targets, name="scenes-test")
    corruption_checks = ["accuracy[map]", *(f"corruption[{name}-{severity}]" for name, severity in CELLS)]
    rows: dict[str, list[float]] = {key: [] for key in ("inference", "corrupting", "cell_inference", "suite", "no_intervals", "ece", "attack", "attack_check", "map", "metric", "pycocotools", "match", "accumulate")}
    stacked = np.stack(images[:48])
    predictions = model.predict(images)
    metric_map(predictions, targets)  # its imports outside the clock (the checks import their backend in the suite's first round)
    rng = np.random.default_rng(0)
    resamples = np.stack([rng.integers(0, len(images), len(images)) for _ in range(1000)])
    matches = Matches.of(predictions, targets)
    truth = CocoTargets(targets)  # once, as a check's evaluation converts them
    for _ in range(args.rounds):
        rows["inference"].append(timed(lambda: model.predict(images)))
        corrupting, inferring = corrupted_inference(model, images)
        rows["corrupting"].append(corrupting)
        rows["cell_inference"].append(inferring)
        rows["suite"].append(timed(lambda: check_model(model, data, corruption_checks, settings=SETTINGS)))
        rows["no_intervals"].append(timed(lambda: check_model(model, data, corruption_checks, settings={**SETTINGS, "verdict.bootstrap": 0})))
        rows["ece"].append(timed(lambda: check_model(model, data, ["calibration[ece]"], settings=SETTINGS)))
        rows["attack"].append(timed(lambda: art_pgd(model.module, stacked, targets[:48], eps=1 / 255, eps_step=1 / 1020, steps=5)))
        rows["attack_check"].append(timed(lambda: check_model(model, data, ["attack[pgd-linf-1/255]"], settings=SETTINGS)))
        rows["map"].append(timed(lambda: mean_average_precision(predictions, truth)))
        rows["metric"].append(timed(lambda: metric_map(predictions, targets, coco_backend())))
        rows["pycocotools"].append(timed(lambda: metric_map(predictions, targets)))
        rows["match"].append(timed(lambda: Matches.of(predictions, targets)))
        rows["accumulate"].append(timed(lambda: matches.average_precisions(resamples)))
    t = {key: statistics.median(values) for key, values in rows.items()}
    parts = t["inference"] * (1 + len(CELLS)) + t["corrupting"]
    inferred = t["inference"] + t["cell_inference"] + t["corrupting"]  # a detector's cost depends on its images
    print(f"{args.images} images, {len(CELLS)} corruption cells, median of {args.rounds} rounds, torch threads {torch.get_num_threads()}, clock {args.clock}")
    print(f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"{'':42s}{'seconds':>10s}{'ratio':>8s}{'ratio 2':>9s}")
    print(f"{'inference, one pass':42s}{t['inference']:10.2f}")
    print(f"{'inference, every cell (corrupted images)':42s}{t['cell_inference']:10.2f}")
    print(f"{'corrupting, every cell':42s}{t['corrupting']:10.2f}")
    print(f"{'inference x (1 + cells) + corrupting':42s}{parts:10.2f}{1.0:8.2f}")
    print(f"{'inference, clean and cells + corrupting':42s}{inferred:10.2f}{'':8s}{1.0:9.2f}")
    print(f"{'accuracy[map] and corruption checks':42s}{t['suite']:10.2f}{t['suite'] / parts:8.2f}{t['suite'] / inferred:9.2f}")
    print(f"{'the same, verdict.bootstrap = 0':42s}{t['no_intervals']:10.2f}{t['no_intervals'] / parts:8.2f}{t['no_intervals'] / inferred:9.2f}")
    print(f"{'calibration[ece] (inference included)':42s}{t['ece']:10.2f}{t['ece'] / t['inference']:8.2f}  over one inference pass")
    print(f"{'art_pgd alone (48 images, 5 steps)':42s}{t['attack']:10.2f}")
    print(f"{'attack[pgd-linf-1/255]':42s}{t['attack_check']:10.2f}{t['attack_check'] / t['attack']:8.2f}  over the attack alone")
    print("scoring one check, clean detections:")
    print(f"{'  as the checks score it, ' + coco_backend():42s}{t['map']:10.3f}")
    print(f"{'  MeanAveragePrecision, ' + coco_backend():42s}{t['metric']:10.3f}")
    print(f"{'  MeanAveragePrecision, pycocotools':42s}{t['pycocotools']:10.3f}")
    print(f"{'  matching each image once':42s}{t['match']:10.3f}")
    print(f"{'  accumulating 1000 resamples':42s}{t['accumulate']:10.3f}  {t['accumulate']:.3f} ms a resample")


if __name__ == "__main__":
    main()
