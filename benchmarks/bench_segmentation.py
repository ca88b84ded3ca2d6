"""What the segmentation suite costs over pure inference, on the segmentation example, printed side by side.

For the example's segmenter (examples/segmentation, 48x48 scenes) on its test images:

(a) Corruptions. The corruption checks of the example's pyproject.toml, or ``--all`` the 19 corruptions
at severity 3, each run through ``Evaluation.run`` as the pytest items run it (a fresh evaluation whose
clean predictions and clean mIoU, which the accuracy check makes first in a run, are made before the
clock starts), against the sum of their two unavoidable parts
timed alone on the same images: inference (``model.predict_proba`` on the clean images, once per check)
and corrupting (``corrupt_images``, once per check). The ratio is the suite's cost over those two
parts (the classifiers' target: at most 1.2), and the suite over inference alone is printed beside it.

(b) Clean checks and attacks. ``accuracy`` (mIoU with its bootstrap interval over images) and
``calibration[ece]`` (pixel-level ECE and its interval) against one inference pass; PGD (10 steps) and
FGSM against one pass (a step of either is a forward and a backward pass).

    python benchmarks/bench_segmentation.py           # about a minute on 2 busy cores
    python benchmarks/bench_segmentation.py --all     # the 19 corruptions at severity 3
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, not the one a shared venv has installed (editable) from another

from pytest_mlguard._segmentation.checks import clean_miou  # noqa: E402
from pytest_mlguard.checks._evaluation import Evaluation  # noqa: E402
from pytest_mlguard.checks._registry import all_keys, family  # noqa: E402
from pytest_mlguard.config import resolve  # noqa: E402
from pytest_mlguard.contract import SegmentationData, TorchSegmentationModel  # noqa: E402
from pytest_mlguard.corruptions import _functional as F  # noqa: E402
from pytest_mlguard.corruptions._pipelining import corrupt_images  # noqa: E402
from pytest_mlguard.corruptions._registry import REGISTRY  # noqa: E402
from pytest_mlguard.corruptions._run import check_seed, image_scale  # noqa: E402

EXAMPLE_CORRUPTIONS = "gaussian_noise,defocus_blur,fog,jpeg_compression"


def example() -> tuple[TorchSegmentationModel, SegmentationData]:
    spec = importlib.util.spec_from_file_location("segmenter", ROOT / "examples" / "segmentation" / "segmenter.py")
    shapes = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(shapes)  # type: ignore[union-attr]
    model = TorchSegmentationModel(shapes.load_model(), input_shape=(3, shapes.SIZE, shapes.SIZE), class_names=shapes.CLASS_NAMES, name="shapes")
    x, y = shapes.scenes(200, seed=1)
    return model, SegmentationData(x, y, ignore_index=shapes.VOID)


def timed(fn, *args, **kwargs) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def settings(corruptions: str, severities: str) -> object:
    cli = {"task": "segmentation", "corruption.corruptions": corruptions, "corruption.severities": severities, "output": "/tmp/mlguard-bench-seg"}
    return resolve(cli=cli, environ={}, keys=all_keys())


def fresh(model, data, resolved) -> Evaluation:  # type: ignore[no-untyped-def]
    evaluation = Evaluation(model, data, resolved)  # type: ignore[arg-type]
    clean_miou(evaluation)  # the clean predictions and mIoU (and torchmetrics' import), made by the accuracy check first in a run
    return evaluation


def corruptions(model, data, resolved) -> None:  # type: ignore[no-untyped-def]
    corruption = family("corruption")
    specs = corruption.plan(resolved)  # type: ignore[arg-type]
    evaluation = fresh(model, data, resolved)
    suite = inference = corrupting = 0.0
    with model.running("cpu"):
        for spec in specs:
            unit = F.to_unit_hwc(evaluation.data.x, model.value_range)
            seed, scale = check_seed(spec, evaluation), image_scale(evaluation)
            corrupting += timed(corrupt_images, unit, spec.param("corruption"), spec.param("severity"), seed, scale=scale)
            inference += timed(model.predict_proba, evaluation.data.x)
            suite += timed(evaluation.run, corruption, spec)
    print(f"(a) corruptions: {len(specs)} checks on {data.n} images of {data.sample_shape}")
    print(f"    suite {suite:.2f} s | inference {inference:.2f} s + corrupting {corrupting:.2f} s = {inference + corrupting:.2f} s")
    print(f"    suite / (inference + corrupting) = {suite / (inference + corrupting):.2f}x   (target <= 1.2x)")
    print(f"    suite / inference alone         = {suite / inference:.2f}x")


def clean_and_attacks(model, data) -> None:  # type: ignore[no-untyped-def]
    resolved = resolve(cli={"task": "segmentation", "attack.checks": "pgd-linf-1/255,fgsm-linf-1/255", "output": "/tmp/mlguard-bench-seg"}, environ={}, keys=all_keys())
    with model.running("cpu"):
        one_pass = min(timed(model.predict_proba, data.x) for _ in range(3))
        print(f"(b) one inference pass on {data.n} images: {one_pass:.3f} s")
        for name, check in (("accuracy", None), ("calibration", "ece")):
            evaluation = fresh(model, data, resolved)
            spec = family(name).spec(check, resolved)  # type: ignore[arg-type]
            seconds = timed(evaluation.run, family(name), spec)
            print(f"    {spec.id:<26} {seconds:.3f} s = {seconds / one_pass:.2f} passes (metric and its bootstrap interval, after the clean pass)")
        for spec in family("attack").plan(resolved):  # type: ignore[arg-type]
            evaluation = fresh(model, data, resolved)
            seconds = timed(evaluation.run, family("attack"), spec)
            print(f"    {spec.id:<26} {seconds:.3f} s = {seconds / one_pass:.2f} passes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="the 19 corruptions at severity 3")
    args = parser.parse_args()
    torch.set_num_threads(1)
    np.random.seed(0)
    model, data = example()
    names = ",".join(REGISTRY) if args.all else EXAMPLE_CORRUPTIONS
    corruptions(model, data, settings(names, "3" if args.all else "1,3,5"))
    clean_and_attacks(model, data)


if __name__ == "__main__":
    main()
