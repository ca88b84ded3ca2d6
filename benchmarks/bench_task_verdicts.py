"""Error rates of the detection and segmentation verdicts, by simulation through the plugin's own code paths.

Synthetic populations whose true metric is known (the value on a very large sample) go through the functions a
run uses: the bootstrap over images of :func:`pytest_mlguard._verdicts.intervals.bootstrap_interval` (1000
resamples, ``verdict.bootstrap``'s default) and the checks' interval from its resamples
(:func:`pytest_mlguard._verdicts.intervals.debiased_normal_interval`), detection's COCO accumulation of resampled matches
(:class:`pytest_mlguard.detection._resample.Matches`, equal to torchmetrics' mAP on the whole set), segmentation's
resampled mIoU (:func:`pytest_mlguard._segmentation.metrics.miou_of_images`, torchmetrics' Jaccard reduction) and
the verdict (:func:`pytest_mlguard._verdicts.policy.decide`, policy ``lenient``, as ``CheckResult.from_measurement``).

What the interval claims to cover: the metric of the population the images are drawn from (the mAP or mIoU of
infinitely many images like them), not the mean of the metric over samples of n images (mAP and mIoU of a finite
set are ratios of sums, biased at small n): "the model's mAP is at least the floor" is a claim about the former.
The true value is taken as the mean of the metric over ``--chunks`` samples of 20,000 images (100,000 images for
detection, 400,000 for segmentation), its Monte Carlo error (their standard deviation / sqrt(chunks)) printed.

* detection: scenes of 1-5 boxes of 3 labels in 128x128 px; a detector that misses each box with probability
  ``miss``, moves its corners by ``loc`` x its size (both scaled by a difficulty drawn per image, so that images
  differ), scores it by how well it is placed, and adds ``fp`` false positives per image (Poisson) with lower
  scores. Its corrupted twin keeps the same scenes and detections, drops more, moves them further and lowers
  their scores: paired, as a corruption check's images are.
* segmentation: 32x32-pixel maps of 5 classes (background and 1-3 present objects, shares by Dirichlet), per-image
  pixel confusion matrices: each class's pixels right with probability 1 - ``error`` x (0.5 + difficulty), the
  difficulty the image's (uniform) times the class's in it (exponential), the wrong ones spread over the image's
  other classes; the corrupted twin loses a further share of the right
  pixels of the same images (``--twin fresh``: its right pixels drawn afresh, the same mIoU in the population, only
  the masks and the image's difficulty shared). Only the confusion matrices enter the mIoU, so they are simulated
  directly.

Tables (per task): 1. coverage of each interval rule of :data:`RULES` (the same resamples) at 95% and at a
check's share of the examples' 18 checks (Bonferroni: 99.72%) at n = 50, 200, 1000, with the misses on each side
and the mean estimate's bias; 2. the verdicts of each rule at 95% and at the check's share: a model exactly at the floor (wrong FAIL labels) and 0.05 below it (power), for
the absolute floor (``accuracy.floor``) and for a relative one (``corruption.floor``, ``f*clean``: the floor
factor equal to the population's ratio corrupted / clean, the clean value the same sample's).

    python benchmarks/bench_task_verdicts.py            # detection at n = 1000 the most of it (docs/detection.md: the times measured)
    python benchmarks/bench_task_verdicts.py --quick    # 100 repetitions, n = 50 and 200: about a minute
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not the one a shared venv has installed (editable) from another

from pytest_mlguard._segmentation.metrics import miou_of_images
from pytest_mlguard._verdicts.intervals import bootstrap_interval, debiased_bootstrap_interval, debiased_normal_interval, resample_counts, studentized_influence_interval
from pytest_mlguard._verdicts.policy import decide
from pytest_mlguard.checks._result import VerdictRules
from pytest_mlguard.detection._resample import Matches

#: the examples' planned checks (docs/detection.md, docs/segmentation.md): a check's share of 95%
SHARE = VerdictRules(checks=18).check_confidence
RESAMPLES = 1000
#: the images of one sample of the population (its metric's bias is of order 1 / CHUNK)
CHUNK = 20_000
SIDE = 128.0


def _corners(rng: np.random.Generator, k: int) -> np.ndarray:
    centre, size = rng.uniform(20, SIDE - 20, (k, 2)), rng.uniform(12, 48, (k, 2))
    return np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)


def scene(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A target: 1-5 boxes of labels 1-3."""
    k = int(rng.integers(1, 6))
    return {"boxes": _corners(rng, k), "labels": rng.integers(1, 4, k)}


def detect(target: dict[str, np.ndarray], rng: np.random.Generator, miss: float = 0.2, loc: float = 0.06, fp: float = 1.0) -> dict[str, np.ndarray]:
    """The detector's boxes for ``target`` (see the module's docstring); ``difficulty`` kept for its twin."""
    boxes, k, difficulty = target["boxes"], len(target["boxes"]), rng.uniform()
    keep = rng.uniform(size=k) > miss * (0.5 + difficulty)
    size = np.tile(boxes[:, 2:] - boxes[:, :2], 2)
    shift = rng.normal(0, loc * (0.5 + difficulty), (k, 4)) * size
    error = np.abs(shift).mean(1) / size.mean(1)
    scores = 1 / (1 + np.exp(-(2 - 2 * difficulty - 10 * error + rng.normal(0, 1, k))))
    false = int(rng.poisson(fp))
    false_scores = 1 / (1 + np.exp(-(-1 + rng.normal(0, 1, false))))
    return {
        "boxes": np.concatenate([(boxes + shift)[keep], _corners(rng, false)]).astype(np.float32),
        "labels": np.concatenate([target["labels"][keep], rng.integers(1, 4, false)]),
        "scores": np.concatenate([scores[keep], false_scores]).astype(np.float32),
        "difficulty": np.array(difficulty),
    }


def corrupt_detections(found: dict[str, np.ndarray], rng: np.random.Generator, drop: float = 0.25, loc: float = 0.05) -> dict[str, np.ndarray]:
    """The twin under a corruption: the same detections, more of them dropped, moved further, scored lower."""
    k, difficulty = len(found["scores"]), float(found["difficulty"])
    keep = rng.uniform(size=k) > drop * (0.5 + difficulty)
    size = np.tile(np.maximum(found["boxes"][:, 2:] - found["boxes"][:, :2], 1.0), 2)
    shift = rng.normal(0, loc * (0.5 + difficulty), (k, 4)) * size
    return {"boxes": (found["boxes"] + shift)[keep].astype(np.float32), "labels": found["labels"][keep], "scores": (found["scores"] * 0.8)[keep].astype(np.float32)}


def detection_population(n: int, seed: int) -> tuple[list[Any], list[Any], list[Any]]:
    """``n`` scenes, their clean detections and the corrupted twins."""
    rng = np.random.default_rng(seed)
    targets = [scene(rng) for _ in range(n)]
    clean = [detect(t, rng) for t in targets]
    return targets, clean, [corrupt_detections(c, rng) for c in clean]


def detection_truth(n: int, seed: int) -> tuple[float, float]:
    """The population's mAP, clean and corrupted, as the mAP of ``n`` images."""
    targets, clean, corrupted = detection_population(n, seed)
    return Matches.of(clean, targets).average_precision(np.arange(n))["map"], Matches.of(corrupted, targets).average_precision(np.arange(n))["map"]


def detection_sample(n: int, seed: int) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """The batched mAP statistics (clean, corrupted) of a fresh sample of ``n`` images, as ``map_measurement``'s."""
    targets, clean, corrupted = detection_population(n, seed)
    first, second = Matches.of(clean, targets), Matches.of(corrupted, targets)
    return (lambda rows: first.average_precisions(rows)["map"]), (lambda rows: second.average_precisions(rows)["map"])


def segmentation_population(n: int, seed: int, error: float = 0.3, extra: float = 0.15, classes: int = 5, pixels: int = 1024, *, nested: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-image confusion matrices ``(n, K, K)`` (rows: the true class) of the clean maps and their corrupted
    twins: the twin's right pixels some of the clean map's (``nested``), else drawn afresh with the same
    probability and a fresh class difficulty (only the masks and the image's difficulty shared)."""
    rng = np.random.default_rng(seed)
    present = np.zeros((n, classes), bool)
    present[:, 0] = True
    for i, count in enumerate(rng.integers(1, 4, n)):
        present[i, 1 + rng.choice(classes - 1, count, replace=False)] = True
    shares = rng.dirichlet(np.ones(classes), n) * present
    counts = rng.multinomial(pixels, shares / shares.sum(1, keepdims=True))
    image = rng.uniform(size=(n, 1))
    difficulty = image * rng.exponential(1.0, (n, classes))  # the image's, times each class's in it
    right = rng.binomial(counts, 1 - np.clip(error * (0.5 + difficulty), 0, 0.95))
    if nested:
        still = rng.binomial(right, 1 - np.clip(extra * (0.5 + difficulty), 0, 0.95))
    else:
        again = image * rng.exponential(1.0, (n, classes))
        still = rng.binomial(counts, (1 - np.clip(error * (0.5 + again), 0, 0.95)) * (1 - np.clip(extra * (0.5 + again), 0, 0.95)))
    others = present[:, None, :] & ~np.eye(classes, dtype=bool)[None]  # where a class's wrong pixels go: the image's other classes (two at least)
    weights = others / np.maximum(others.sum(2, keepdims=True), 1)
    out = []
    for kept in (right, still):
        wrong = rng.multinomial(counts - kept, weights)
        out.append(wrong + kept[:, :, None] * np.eye(classes, dtype=np.int64)[None])
    return out[0], out[1]


def segmentation_truth(n: int, seed: int) -> tuple[float, float]:
    """The population's mIoU, clean and corrupted, as the mIoU of ``n`` images."""
    clean, corrupted = segmentation_population(n, seed)
    rows = np.arange(n)[None]
    return float(miou_of_images(clean)(rows)[0]), float(miou_of_images(corrupted)(rows)[0])


def segmentation_sample(n: int, seed: int, nested: bool = True) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """The batched mIoU statistics (clean, corrupted) of a fresh sample of ``n`` images, as ``miou_measurement``'s."""
    clean, corrupted = segmentation_population(n, seed, nested=nested)
    return miou_of_images(clean), miou_of_images(corrupted)


def bias_corrected(values: np.ndarray, estimate: float, confidence: float, acceleration: float = 0.0) -> tuple[float, float]:
    """Efron's bias-corrected percentile interval (BC, 1981) of the bootstrap ``values`` around ``estimate``:
    the percentiles moved by twice z0, the normal quantile of the share of values below the estimate; with an
    ``acceleration`` (from a jackknife, :func:`acceleration`), BCa (Efron 1987)."""
    normal = NormalDist()
    below = np.clip(np.mean(values < estimate) + np.mean(values == estimate) / 2, 0.5 / len(values), 1 - 0.5 / len(values))
    z0, z = normal.inv_cdf(float(below)), normal.inv_cdf(1 - (1 - confidence) / 2)
    levels = [normal.cdf(z0 + (z0 + q) / (1 - acceleration * (z0 + q))) for q in (-z, z)]
    low, high = np.quantile(values, levels)
    return float(low), float(high)


def acceleration(jackknife: np.ndarray) -> float:
    """BCa's acceleration from the leave-one-out values: the skewness of their influence over 6."""
    spread = jackknife.mean() - jackknife
    total = float((spread**2).sum())
    return 0.0 if total == 0 else float((spread**3).sum()) / (6 * total**1.5)


def basic(values: np.ndarray, estimate: float, confidence: float) -> tuple[float, float]:
    """The basic (pivotal) bootstrap interval: the percentiles reflected about the estimate, so centred on the
    estimate less the bootstrap's bias (the mean of the values less the estimate)."""
    low, high = np.quantile(values, [(1 - confidence) / 2, 1 - (1 - confidence) / 2])
    return 2 * estimate - float(high), 2 * estimate - float(low)


def percentile_debiased(values: np.ndarray, estimate: float, confidence: float) -> tuple[float, float]:
    """The percentile interval moved down by twice the bootstrap's bias: centred, as the basic one, on the
    estimate less its bias, with the percentiles' own shape (not reflected)."""
    low, high = np.quantile(values, [(1 - confidence) / 2, 1 - (1 - confidence) / 2])
    shift = 2 * (float(values.mean()) - estimate)
    return float(low) - shift, float(high) - shift


#: the interval rules measured side by side from the same resampled values: the percentile one the checks'
#: before issue 19, the normal-debiased one theirs until its small-sample follow-up (:func:`debiased_normal_interval`),
#: the studentized one (bootstrap-t from the resamples' influence values) theirs since (:func:`studentized_influence_interval`)
RULES = ("percentile", "BC", "BCa", "basic", "percentile-debiased", "normal-debiased", "studentized")


def intervals(statistic: Callable[[np.ndarray], np.ndarray], n: int, seed: int) -> tuple[float, dict[str, tuple[tuple[float, float], tuple[float, float]]]]:
    """The estimate and, for each of :data:`RULES`, its intervals at 95% and at :data:`SHARE` from one bootstrap's
    values (the percentile one at the share the plugin's ``bootstrap_interval``; BCa's acceleration from a
    jackknife of the ``n`` images)."""
    drawn: list[np.ndarray] = []
    counts: list[np.ndarray] = []

    def keep(rows: np.ndarray) -> np.ndarray:
        drawn.append(np.asarray(statistic(rows)))
        counts.append(resample_counts(rows, n))
        return drawn[-1]

    share = bootstrap_interval(keep, n, SHARE, resamples=RESAMPLES, rng=np.random.default_rng(seed), batched=True)
    values = np.concatenate(drawn)
    low, high = np.quantile(values, [0.025, 0.975])
    estimate = float(statistic(np.arange(n)[None])[0])
    leave_one_out = np.arange(1, n)[None, :] - (np.arange(1, n)[None, :] <= np.arange(n)[:, None])  # row i: every image but i
    skew = acceleration(np.asarray(statistic(leave_one_out)))
    out = {"percentile": ((float(low), float(high)), share)}
    every = np.concatenate(counts)

    def studentized(values: np.ndarray, estimate: float, confidence: float) -> tuple[float, float]:
        return studentized_influence_interval(values, every, estimate, confidence)

    for rule, compute in (("BC", bias_corrected), ("BCa", functools.partial(bias_corrected, acceleration=skew)), ("basic", basic), ("percentile-debiased", percentile_debiased), ("normal-debiased", debiased_normal_interval), ("studentized", studentized)):
        out[rule] = (compute(values, estimate, 0.95), compute(values, estimate, SHARE))
    return estimate, out


def coverage(truth: float, found: list[tuple[float, float]]) -> dict[str, float]:
    """The share of ``found`` intervals that hold ``truth``, that lie wholly below it and wholly above it."""
    low, high = np.array(found).T
    below, above = float(np.mean(high < truth)), float(np.mean(low > truth))
    return {"cover": 1 - below - above, "below": below, "above": above}


def wrong_fails(values: list[float], found: list[tuple[float, float]], thresholds: list[float]) -> float:
    """The share of ``failed`` labels (:func:`decide`, policy lenient) of each estimate, interval and floor."""
    return float(np.mean([decide(v, i, threshold=t, kind="floor").label == "failed" for v, i, t in zip(values, found, thresholds)]))


def replicate(sample: Callable[[int, int], tuple[Any, Any]], n: int, reps: int, seed: int, paired: bool) -> dict[str, list[Any]]:
    """``reps`` fresh samples of ``n`` images: clean (and with ``paired``, corrupted) estimates, and the intervals
    of each rule at each level (keys ``clean``, ``clean/percentile/95``, ``corrupt/BC/share``, ...)."""
    out: dict[str, list[Any]] = {}
    for rep in range(reps):
        clean, corrupted = sample(n, seed + 1 + rep)
        for name, statistic in (("clean", clean), ("corrupt", corrupted))[: 2 if paired else 1]:
            value, found = intervals(statistic, n, seed + 100_000 + rep)
            out.setdefault(name, []).append(value)
            for rule, pair in found.items():
                for level, interval in zip(("95", "share"), pair):
                    out.setdefault(f"{name}/{rule}/{level}", []).append(interval)
    return out


def _se(p: float, reps: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-9) / reps)


def report(name: str, truth: np.ndarray, runs: dict[int, dict[str, list[Any]]], reps: int, verdict_n: int) -> None:
    """Print the task's two tables; ``truth``: the metric (clean, corrupted) of each chunk of the population."""
    clean_true, corrupt_true = truth.mean(axis=0)
    error = truth[:, 0].std(ddof=1) / math.sqrt(len(truth))
    print(f"\n{name}: true clean {clean_true:.4f}, corrupted {corrupt_true:.4f} (ratio {corrupt_true / clean_true:.4f}), the mean over {len(truth)} samples of {CHUNK} images; Monte Carlo error of the truth {error:.4f}")
    print(f"1. coverage of the clean interval, {reps} samples each (standard error of a share p: sqrt(p(1-p)/{reps}))")
    print("   n     mean est. - truth   interval      95%: cover (below / above)        99.72%: cover (below / above)")
    for n, run in runs.items():
        bias = float(np.mean(run["clean"])) - clean_true
        for rule in RULES:
            rows = [coverage(clean_true, run[f"clean/{rule}/{level}"]) for level in ("95", "share")]
            cells = [f"{r['cover']:.3f} +- {_se(r['cover'], reps):.3f} ({r['below']:.3f} / {r['above']:.3f})" for r in rows]
            print(f"   {n:<5} {bias:+.4f}             {rule:<15} {cells[0]:<32} {cells[1]}")
    if verdict_n not in runs:
        return
    run = runs[verdict_n]
    ratio = corrupt_true / clean_true
    print(f"2. verdicts at n={verdict_n}, {reps} samples (lenient): share of FAILED labels, intervals at 95% (one check alone) | at 99.72% (a check's share)")
    floors = {
        f"absolute floor = the true {clean_true:.4f}": ("clean", [clean_true] * reps),
        f"absolute floor 0.05 above the model, {clean_true + 0.05:.4f} (power)": ("clean", [clean_true + 0.05] * reps),
        f"relative floor {ratio:.4f}*clean (the true ratio)": ("corrupt", [ratio * c for c in run["clean"]]),
        f"relative floor 0.05 above the corrupted value, {(corrupt_true + 0.05) / clean_true:.4f}*clean (power)": ("corrupt", [(corrupt_true + 0.05) / clean_true * c for c in run["clean"]]),
    }
    for label, (key, thresholds) in floors.items():
        print(f"   {label}")
        for rule in RULES:
            rates = [wrong_fails(run[key], run[f"{key}/{rule}/{level}"], thresholds) for level in ("95", "share")]
            print(f"      {rule:<15} {rates[0]:.4f} +- {_se(rates[0], reps):.4f} | {rates[1]:.4f} +- {_se(rates[1], reps):.4f}")


def run_task(name: str, truth: Callable[[int, int], tuple[float, float]], sample: Callable[[int, int], Any], sizes: list[int], reps: int, chunks: int, verdict_n: int, seed: int = 0) -> None:
    start = time.process_time()
    found = np.array([truth(CHUNK, seed) for seed in range(chunks)])
    runs = {n: replicate(sample, n, reps, 10_000 * n + 100_000_000 * seed, paired=n == verdict_n) for n in sizes}  # --seed 0: the docs' samples
    report(name, found, runs, reps, verdict_n)
    print(f"   ({time.process_time() - start:.0f} s of CPU)")


def normal_debiased_interval(statistic: Callable[[np.ndarray], np.ndarray], n: int, confidence: float, *, resamples: int, rng: np.random.Generator, batched: bool) -> tuple[float, float]:
    """The checks' interval before the studentized one: :func:`debiased_normal_interval` of the same resamples."""
    drawn: list[np.ndarray] = []

    def keep(rows: np.ndarray) -> np.ndarray:
        drawn.append(np.asarray(statistic(rows)))
        return drawn[-1]

    bootstrap_interval(keep, n, confidence, resamples=resamples, rng=rng, batched=batched)
    return debiased_normal_interval(np.concatenate(drawn), float(statistic(np.arange(n)[None])[0]), confidence, (0.0, 1.0))


def interval_cost(sizes: list[int], repeats: int = 7) -> None:
    """CPU seconds of the percentile interval, the normal-debiased one (the checks' before the studentized one)
    and the checks' (:func:`debiased_bootstrap_interval`) at a check's share, 1000 resamples of one simulated
    detection sample of each size, alternating, the median of ``repeats``."""
    rules: dict[str, Callable[..., tuple[float, float]]] = {"percentile": bootstrap_interval, "normal": normal_debiased_interval, "checks": debiased_bootstrap_interval}
    for n in sizes:
        statistic = detection_sample(n, 123)[0]
        times: dict[str, list[float]] = {name: [] for name in rules}
        for rep in range(repeats):
            for name, compute in rules.items():
                start = time.process_time()
                compute(statistic, n, SHARE, resamples=RESAMPLES, rng=np.random.default_rng(rep), batched=True)
                times[name].append(time.process_time() - start)
        old, normal, new = (float(np.median(times[name])) for name in rules)
        print(f"n={n}: percentile {old:.4f} s, normal debiased {normal:.4f} s, the checks' (studentized) {new:.4f} s of CPU, ratios {new / old:.3f} and {new / normal:.3f} (median of {repeats})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 repetitions at n = 50 and 200")
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000], help="the n of the coverage table (200: the verdicts too)")
    parser.add_argument("--chunks", type=int, default=0, help=f"samples of {CHUNK} images the truth is the mean of (default: 5 for detection, 20 for segmentation)")
    parser.add_argument("--twin", choices=("nested", "fresh"), default="nested", help="segmentation's corrupted twin: nested (right pixels some of the clean's) or fresh (the same marginal mIoU, drawn afresh)")
    parser.add_argument("--cost", action="store_true", help="only the CPU time of the percentile and the checks' interval at --sizes (detection)")
    parser.add_argument("--seed", type=int, default=0, help="another set of samples (and resamples) for the same tables (0: the docs')")
    parser.add_argument("--task", choices=("detection", "segmentation", "both"), default="both")
    args = parser.parse_args()
    reps, sizes = (100, [50, 200]) if args.quick else (args.reps, args.sizes)
    if args.cost:
        return interval_cost(sizes)
    if args.task in ("detection", "both"):
        run_task("detection mAP (IoU 0.5:0.95)", detection_truth, detection_sample, sizes, reps, args.chunks or 5, 200, args.seed)
    if args.task in ("segmentation", "both"):
        nested = args.twin == "nested"
        sample = functools.partial(segmentation_sample, nested=nested)
        run_task(f"segmentation mIoU ({args.twin} twin)", segmentation_truth, sample, sizes, reps, args.chunks or 20, 200, args.seed)


if __name__ == "__main__":
    main()
