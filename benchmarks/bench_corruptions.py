"""How much the corruption suite costs beyond its two unavoidable parts, printed as ratios measured
side by side in one run.

(a) Suite overhead. For each model, the whole corruption suite (every corruption at every severity,
through ``Evaluation.run``, as the pytest items run it) is timed against the sum of its two parts
timed alone: plain batched inference on the same number of images (``model.predict_proba`` on the
clean samples once per check) and generating the corruptions alone (``corrupt_images`` on every
check's samples, one thread). A ratio of 1.0 is a suite with no overhead and no overlap; below 1.0,
corrupting and inference overlap. The suite runs with ``corruption.workers`` 0 (corrupt, then
predict), 1 and 2 threads, and with a pool of 2 worker processes (spawned; its start-up counted)
corrupting ahead of inference, the alternative the plugin does not ship. Models: the digits CNN
(8x8 gray) and a torchvision ResNet-18 with random weights (``weights=None``, 1000 classes) at
224x224 on crops of scikit-image's sample photos.

(b) Per-image cost of each corruption at severity 3, on a 224x224 RGB crop and on a 427x640 RGB
image (scikit-image's ``rocket``), and the mean over the five severities on a 427x640 image of ones,
compared with the reference implementation's published cost: the timings of
https://github.com/bethgelab/imagecorruptions/issues/7 (seconds for the five severities of one
``np.ones((427, 640, 3))`` image, 2019, the figure divided by 5 here). Those timings include a
``plt.imshow`` per image and ran on another machine: the comparison is of orders of magnitude.
Glass blur is the known slow spot (46 s there; pull request #18 brought it to about 5 s with numba).

    python benchmarks/bench_corruptions.py          # a few minutes on 2 cores
    python benchmarks/bench_corruptions.py --big    # 4x the samples
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "digits"))

from pytest_mlguard import EvalData, TorchModel  # noqa: E402
from pytest_mlguard.checks.evaluation import Evaluation  # noqa: E402
from pytest_mlguard.checks.registry import all_keys, family  # noqa: E402
from pytest_mlguard.config import resolve  # noqa: E402
from pytest_mlguard.corruptions import functional as F  # noqa: E402
from pytest_mlguard.corruptions.registry import REGISTRY  # noqa: E402
from pytest_mlguard.errors import NotApplicable  # noqa: E402
from pytest_mlguard.corruptions.run import check_applies, corrupt_images, image_scale  # noqa: E402

# bethgelab/imagecorruptions issue #7: seconds for severities 1..5 of one 427x640x3 image
PUBLISHED_427x640 = {
    "gaussian_noise": 1.0818, "shot_noise": 1.0654, "impulse_noise": 0.9122, "defocus_blur": 0.8352,
    "glass_blur": 46.1198, "motion_blur": 1.0765, "zoom_blur": 3.1540, "snow": 0.6903, "frost": 0.4697,
    "fog": 0.6327, "brightness": 1.0597, "contrast": 0.4419, "elastic_transform": 0.8779, "pixelate": 0.4539,
    "jpeg_compression": 0.4799, "speckle_noise": 0.6128, "gaussian_blur": 1.7880, "spatter": 1.2991,
    "saturate": 1.5587,
}  # fmt: skip


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def settings_for(output: str, workers: int, severities: str, corruptions: str) -> object:
    cli = {
        "output": output,
        "corruption.corruptions": corruptions,
        "corruption.severities": severities,
        "corruption.workers": str(workers),
        "corruption.floor": "0",
    }
    return resolve(cli=cli, environ={}, keys=all_keys())


def digits_case(n: int) -> tuple[TorchModel, EvalData]:
    from model import CLASS_NAMES, MEAN, STD, load_digits_split, load_model

    x, y = load_digits_split("test")
    model = TorchModel(load_model(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="digits")
    return model, EvalData(x[:n], y[:n])


def resnet_case(n: int) -> tuple[TorchModel, EvalData]:
    import torchvision
    from skimage import data

    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    rng = np.random.default_rng(0)
    crops = []
    for i in range(n):
        photo = photos[i % len(photos)]
        top, left = rng.integers(0, photo.shape[0] - 224), rng.integers(0, photo.shape[1] - 224)
        crops.append(photo[top : top + 224, left : left + 224].transpose(2, 0, 1) / 255.0)
    x = np.stack(crops).astype(np.float32)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    model = TorchModel(net, input_shape=(3, 224, 224), n_classes=1000, mean=mean, std=std, name="resnet18", batch_size=32)
    with torch.inference_mode():
        y = model.predict(x)  # labels: the network's own predictions
    return model, EvalData(x, y)


def applies(model: TorchModel, spec: object) -> bool:
    """Whether the check runs on this model (saturate is skipped on gray images)."""
    try:
        check_applies(model, spec.param("corruption"))  # type: ignore[attr-defined]
    except NotApplicable:
        return False
    return True


def run_suite(evaluation: Evaluation, specs: list) -> None:
    fam = family("corruption")
    for spec in specs:
        evaluation.run(fam, spec)


def _corrupt_chunk(args: tuple) -> tuple[int, np.ndarray]:
    clean, name, severity, seed, start, scale = args
    return start, corrupt_images(clean, name, severity, seed, start=start, scale=scale)


def run_suite_processes(evaluation: Evaluation, specs: list, workers: int = 2) -> None:
    """The suite with corruption in a pool of spawned processes, ahead of inference (not shipped)."""
    model, data = evaluation.model, evaluation.data
    chunk = max(1, min(model.batch_size, max(4, -(-data.n // 8))))
    scale = image_scale(evaluation)
    unit = F.to_unit_hwc(data.x, model.value_range)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for spec in specs:
            name, severity = spec.param("corruption"), spec.param("severity")
            seed = int(evaluation.rng(spec).integers(0, 2**63 - 1))
            tasks = deque(
                pool.submit(_corrupt_chunk, (unit[s : s + chunk], name, severity, seed, s, scale))
                for s in range(0, data.n, chunk)
            )
            correct = 0
            while tasks:
                start, corrupted = tasks.popleft().result()
                x = F.from_unit_hwc(corrupted, model.value_range, model.input_shape)
                correct += int((model.predict(x) == data.y[start : start + len(x)]).sum())


def plain_inference(evaluation: Evaluation, specs: list) -> None:
    model, data = evaluation.model, evaluation.data
    for _ in specs:
        model.predict_proba(data.x)


def corruption_alone(evaluation: Evaluation, specs: list) -> None:
    model, data = evaluation.model, evaluation.data
    scale = image_scale(evaluation)
    unit = F.to_unit_hwc(data.x, model.value_range)
    for spec in specs:
        corrupt_images(unit, spec.param("corruption"), spec.param("severity"), 0, scale=scale)


def overhead(name: str, model: TorchModel, data: EvalData, args: argparse.Namespace, output: str) -> None:
    base = settings_for(output, 0, args.severities, args.corruptions)
    specs = [spec for spec in family("corruption").plan(base) if applies(model, spec)]
    evaluations = {w: Evaluation(model, data, settings_for(output, w, args.severities, args.corruptions)) for w in (0, 1, 2)}
    for evaluation in evaluations.values():
        evaluation.clean_proba  # noqa: B018  (shared with the accuracy check; not part of the suite)
    best: dict[str, float] = {}
    with model.running("cpu"):
        for _ in range(args.repeats):  # interleaved, best of each
            for label, fn in (
                ("inference alone", lambda: plain_inference(evaluations[0], specs)),
                ("corruption alone", lambda: corruption_alone(evaluations[0], specs)),
                ("suite, workers=0", lambda: run_suite(evaluations[0], specs)),
                ("suite, workers=1 (thread)", lambda: run_suite(evaluations[1], specs)),
                ("suite, workers=2 (threads)", lambda: run_suite(evaluations[2], specs)),
                ("suite, 2 processes", lambda: run_suite_processes(evaluations[0], specs)),
            ):
                best[label] = min(best.get(label, float("inf")), timed(fn))
    parts = best["inference alone"] + best["corruption alone"]
    print(f"\n(a) {name}: {len(specs)} checks x {data.n} images, {model.input_shape}")
    print(f"    inference alone {best['inference alone']:.2f} s + corruption alone {best['corruption alone']:.2f} s = {parts:.2f} s")
    for label in [k for k in best if k.startswith("suite")]:
        print(f"    {label:<28} {best[label]:7.2f} s   suite / (inference + corruption) = {best[label] / parts:.3f}")


def per_image_costs(repeats: int) -> None:
    from skimage import data

    photo = data.astronaut()[::2, ::2][:224, :224].astype(np.float32) / 255.0
    rocket = data.rocket().astype(np.float32) / 255.0
    ones = np.ones((427, 640, 3), np.float32) / 255.0
    print("\n(b) per-image cost of each corruption, ms (best of repeats)")
    print(f"    {'corruption':<18} {'224 sev3':>9} {'427x640 sev3':>13} {'ones sev1-5':>12} {'published':>10} {'speed-up':>9}")
    totals = np.zeros(4)
    for name, corruption in REGISTRY.items():
        rng = np.random.default_rng(0)
        row = []
        for image, severities in ((photo, (3,)), (rocket, (3,)), (ones, (1, 2, 3, 4, 5))):
            costs = []
            for severity in severities:
                corruption(image, severity, rng)  # warm up
                costs.append(min(timed(lambda: corruption(image, severity, rng)) for _ in range(repeats)))
            row.append(1e3 * float(np.mean(costs)))
        published = 1e3 * PUBLISHED_427x640[name] / 5
        totals += [*row, published]
        print(f"    {name:<18} {row[0]:9.2f} {row[1]:13.2f} {row[2]:12.2f} {published:10.1f} {published / row[2]:8.0f}x")
    print(f"    {'total (19)':<18} {totals[0]:9.2f} {totals[1]:13.2f} {totals[2]:12.2f} {totals[3]:10.1f} {totals[3] / totals[2]:8.0f}x")
    print("    published: bethgelab/imagecorruptions issue #7 (5 severities of np.ones((427, 640, 3)), incl. plt.imshow) / 5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", action="store_true", help="4x the samples (digits 360, ResNet-18 32 per check)")
    parser.add_argument("--repeats", type=int, default=2, help="timings are the best of this many (default 2)")
    parser.add_argument("--corruptions", default="all", help="corruption.corruptions (default all)")
    parser.add_argument("--severities", default="all", help="corruption.severities (default all)")
    parser.add_argument("--skip", choices=("digits", "resnet", "costs"), action="append", default=[])
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, CPU cores {multiprocessing.cpu_count()}")
    with tempfile.TemporaryDirectory() as output:
        if "digits" not in args.skip:
            overhead("digits CNN", *digits_case(360 if args.big else 90), args, output)
        if "resnet" not in args.skip:
            overhead("ResNet-18 (random weights) 224x224", *resnet_case(32 if args.big else 8), args, output)
    if "costs" not in args.skip:
        per_image_costs(args.repeats + 1)


if __name__ == "__main__":
    main()
