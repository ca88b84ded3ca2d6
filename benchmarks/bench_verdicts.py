"""Error rates of the verdicts, measured by simulation through the plugin's own code paths.

Synthetic models whose true rates are known by construction (:mod:`pytest_mlguard._verdicts.simulation`)
go through the functions a run uses: ``calibration_inference`` and ``CheckResult.from_measurement``
for the ECE ceiling; ``Evaluation.looks`` (sequential early stopping), ``checks.base.early_stop_measurement`` and
``CheckResult.from_measurement`` for floor checks of proportions. Tables:

1. ECE ceiling 0.05 at n = 360 (one check, 95%): how often a perfectly calibrated model fails, one
   exactly at the ceiling, and one with true ECE 0.10 (power), by accuracy, beside the most any test
   that keeps 2.5% at the ceiling can fail the last (``ece_power_bound``, an oracle);
2. coverage of the ECE interval for true ECE 0, 0.02, 0.05, 0.1 at n = 360 and 2000;
3. runs of 34 and 123 floor checks at n = 360: a model at every floor (share of runs with a wrong
   ``failed`` label) and 0.03 above every floor (share of runs that pass), under the defaults and
   under the old ones (Wilson, policy ``estimate``, no error control);
4. flake rates of one check of a 34-check suite: two seeds, same model and data, different outcomes,
   for a model at its floor and 0.01 and 0.02 away (4a: a floor check that stops early; 4b: the
   ``accuracy`` check end to end, which draws more samples when it cannot decide);
5. exact coverage of the binomial intervals (minimum over p), and simulated coverage of the paired
   interval of a relative floor;
6. ``required_n``: how often a fresh run at the named n decides, against 80%; 6b, the same for the
   gate's paired comparisons (``paired_required_n``); 6c, for relative floors (``relative_required_n``),
   beside the old n scaled from the paired interval's width;
7. flake rates of a corruption check end to end (``CorruptionChecks``: corrupting, early stopping and
   drawing more samples through the corruption family), as 4b;
8. every calibration check (ECE, MCE, class-wise ECE, Brier, NLL, garbage mean confidence) of a
   perfectly calibrated model at n = 360: wrong FAIL labels against a ceiling at the true value, and
   interval coverage;
9. ECE power against true ECE 0.10 at 2.5% and 5% one-sided at the ceiling: the oracle bound of several
   statistics (fewer and equal-mass bins, the debiased squared ECE, the mean gap, the likelihood ratio:
   no test does better), and the check's test
   at 95% and 90% with 15 equal-width and 5 equal-mass bins;
10. sharded early stopping (``--mlguard-shard``, docs/scale.md): a floor check of 360 samples split
   into N shards, each stopping on its own share, merged by the product of the shards' mixture
   martingales (``product_confidence_sequence``; the fixed-n interval where no shard stopped): wrong
   FAIL labels at the floor, wrong PASS labels 0.05 below it, passes 0.05 above it, and samples used;
11. the intervals of per-sample means: the NLL's betting interval (a bounded mean, Waudby-Smith and
   Ramdas 2024) beside the percentile bootstrap it replaced, on a calibrated model and on one with rare
   confidently wrong answers, at 95% and at a check's share of 34; the betting interval beside the Brier
   score's and the garbage mean's: coverage, misses on each side, width.

    python benchmarks/bench_verdicts.py            # about 70 minutes on 2 shared cores
    python benchmarks/bench_verdicts.py --quick    # fewer replicates, a few minutes
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not the one a shared venv has installed (editable) from another

from pytest_mlguard.checks._base import VerdictRules
from pytest_mlguard._verdicts.intervals import binomial_coverage, paired_interval
from pytest_mlguard._verdicts.policy import decision_probability, required_n
from pytest_mlguard._verdicts.simulation import accuracy_flake_rate, calibration_model, ece_check, ece_power_bound, flake_rate, suite_rates

OLD = {"interval": "wilson", "policy": "estimate", "error_control": "none"}


def ece_table(runs: int, resamples: int) -> None:
    print(f"\n1. ECE ceiling 0.05, n=360, one check at 95% ({runs} runs each, {resamples} resamples)")
    print("| accuracy | calibrated model fails | ECE 0.05 (at the ceiling) fails | true ECE 0.10 fails (power) | best power at 2.5% at the ceiling: debiased / plug-in / any test (likelihood ratio) |")
    print("|---|---|---|---|---|")
    rules = VerdictRules(checks=1)
    for accuracy in (0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99):
        rates = []
        for ece in (0.0, 0.05, 0.1):
            if accuracy + ece >= 1:
                rates.append("–")
                continue
            rng = np.random.default_rng(int(accuracy * 1000) + int(ece * 100))
            failed = sum(
                not ece_check(*calibration_model(rng, 360, accuracy=accuracy, ece=ece), 0.05, rules, resamples=resamples, rng=rng).passed
                for _ in range(runs)
            )
            rates.append(f"{failed / runs:.3f}")
        if accuracy + 0.1 < 1:
            bound = ece_power_bound(np.random.default_rng(int(accuracy * 1000)), max(runs, 2000), 360, accuracy=accuracy, ece=0.1, ceiling=0.05)
            rates.append(f"{bound['debiased']:.3f} / {bound['plugin']:.3f} / {bound['likelihood_ratio']:.3f}")
        else:
            rates.append("–")
        print(f"| {accuracy} | " + " | ".join(rates) + " |", flush=True)


def ece_coverage(runs: int, resamples: int, accuracy: float = 0.75) -> None:
    print(f"\n2. coverage of the 95% ECE interval, accuracy {accuracy} ({runs} runs each)")
    print("| true ECE | n=360 | n=2000 |")
    print("|---|---|---|")
    rules = VerdictRules(checks=1)
    for ece in (0.0, 0.02, 0.05, 0.1):
        cells = []
        for n in (360, 2000):
            rng = np.random.default_rng(7 + n + int(ece * 1000))
            covered = 0
            for _ in range(runs):
                result = ece_check(*calibration_model(rng, n, accuracy=accuracy, ece=ece), 0.05, rules, resamples=resamples, rng=rng)
                covered += result.interval[0] <= ece <= result.interval[1]
            cells.append(f"{covered / runs:.3f}")
        print(f"| {ece} | {cells[0]} | {cells[1]} |", flush=True)


def suite_table(runs: int, sizes: tuple[int, ...] = (34, 123), old: bool = True, default: bool = True) -> None:
    print(f"\n3. suites of floor checks, n=360, floors evenly in [0.4, 0.95] ({runs} runs each)")
    print("| checks | rules | at every floor: runs with a wrong FAIL label | 0.03 above: runs that pass |")
    print("|---|---|---|---|")
    for m in sizes:
        floors = np.linspace(0.4, 0.95, m)
        both = (("default (Bonferroni, Clopper-Pearson, lenient)", VerdictRules(checks=m)), ("old default (Wilson, estimate, none)", VerdictRules(**OLD)))
        for name, rules in both[0 if default else 1 : 2 if old else 1]:
            at = suite_rates(np.random.default_rng(m), runs, floors, rules)
            above = suite_rates(np.random.default_rng(m + 1), runs, floors, rules, above=0.03)
            print(f"| {m} | {name} | {at['any_failed']:.3f} | {above['all_passed']:.3f} |", flush=True)


def flake_table(datasets: int, seeds: int) -> None:
    print(f"\n4a. flake rate of one floor check (stopping early) of a 34-check suite, floor 0.8, n=360 ({datasets} data sets x {seeds} seeds)")
    print("| true rate - floor | default, 360 of 3600 samples | default, all 360 | old default, 360 of 3600 | old default, all 360 |")
    print("|---|---|---|---|---|")
    for distance in (-0.02, -0.01, 0.0, 0.01, 0.02):
        cells = []
        for rules in (VerdictRules(checks=34), VerdictRules(**OLD)):
            for pool in (3600, None):
                rng = np.random.default_rng(int(1000 * (distance + 1)) + (pool or 0))
                cells.append(f"{flake_rate(rng, datasets, seeds, 0.8, 0.8 + distance, rules, pool=pool):.3f}")
        print(f"| {distance:+.2f} | " + " | ".join(cells) + " |", flush=True)


def accuracy_flake_table(datasets: int, seeds: int) -> None:
    print(f"\n4b. the accuracy check of a 34-check suite end to end, floor 0.8, samples = 360 of 3600 ({datasets} data sets x {seeds} seeds)")
    print("| true rate - floor | more_samples | flake rate | runs failed | runs inconclusive | mean samples used |")
    print("|---|---|---|---|---|---|")
    for distance in (-0.05, -0.02, -0.01, 0.0, 0.01, 0.02):
        for mode in ("sequential", "off"):
            rng = np.random.default_rng(int(1000 * (distance + 1)))
            rates = accuracy_flake_rate(rng, 0.8 + distance, VerdictRules(checks=34), datasets=datasets, seeds=seeds, more_samples=mode)
            name = "sequential (default)" if mode == "sequential" else "off"
            print(f"| {distance:+.2f} | {name} | {rates['flake']:.3f} | {rates['failed']:.3f} | {rates['inconclusive']:.3f} | {rates['samples']:.0f} |", flush=True)


def corruption_flake_table(datasets: int, seeds: int, pool: int = 1440) -> None:
    print(f"\n7. a corruption check of a 34-check suite end to end, floor 0.8, samples = 360 of {pool} ({datasets} data sets x {seeds} seeds)")
    print("| true rate - floor | more_samples | flake rate | runs failed | runs inconclusive | mean samples used |")
    print("|---|---|---|---|---|---|")
    for distance in (-0.05, -0.02, -0.01, 0.0, 0.01, 0.02):
        for mode in ("sequential", "off"):
            rng = np.random.default_rng(int(1000 * (distance + 1)))
            rates = accuracy_flake_rate(
                rng, 0.8 + distance, VerdictRules(checks=34), datasets=datasets, seeds=seeds, pool=pool, more_samples=mode, corruption=True
            )
            name = "sequential (default)" if mode == "sequential" else "off"
            print(f"| {distance:+.2f} | {name} | {rates['flake']:.3f} | {rates['failed']:.3f} | {rates['inconclusive']:.3f} | {rates['samples']:.0f} |", flush=True)


def coverage_table(runs: int) -> None:
    print("\n5a. exact coverage of the 95% binomial intervals: the minimum over p in [0.001, 0.999]")
    print("| n | clopper-pearson | wilson |")
    print("|---|---|---|")
    grid = np.linspace(0.001, 0.999, 999)
    for n in (10, 20, 30, 50, 100, 200, 360, 1000):
        cells = [f"{binomial_coverage(n, grid, 0.95, method).min():.4f}" for method in ("clopper-pearson", "wilson")]
        print(f"| {n} | {cells[0]} | {cells[1]} |", flush=True)
    print(f"\n5b. simulated coverage of the 95% paired interval of corrupted - 0.7 * clean ({runs} runs each)")
    print("| clean | corrupted | flipped by the corruption | n | paired | two independent Clopper-Pearson |")
    print("|---|---|---|---|---|---|")
    from pytest_mlguard._verdicts.intervals import clopper_pearson

    for clean, flip, n in ((0.9, 0.2, 100), (0.9, 0.2, 360), (0.97, 0.05, 360), (0.7, 0.4, 360)):
        rng = np.random.default_rng(int(clean * 100 + flip * 10 + n))
        truth = clean * (1 - flip) - 0.7 * clean
        paired_hits = independent_hits = 0
        for _ in range(runs):
            right = rng.random(n) < clean
            corrupted = right & (rng.random(n) >= flip)
            low, high = paired_interval(right, corrupted, weight=0.7)
            paired_hits += low <= truth <= high
            (cl, ch), (rl, rh) = clopper_pearson(int(right.sum()), n), clopper_pearson(int(corrupted.sum()), n)
            independent_hits += rl - 0.7 * ch <= truth <= rh - 0.7 * cl
        print(f"| {clean} | {clean * (1 - flip):.3f} | {flip} | {n} | {paired_hits / runs:.3f} | {independent_hits / runs:.3f} |", flush=True)


def required_table(runs: int) -> None:
    print(f"\n6. required_n: a fresh run at the named n, true rate = the estimate ({runs} runs; exact probability beside)")
    print("| estimate | floor | required_n | decided (simulated) | decided (exact) | exact at n - 1 |")
    print("|---|---|---|---|---|---|")
    for estimate, floor in ((0.96, 0.93), (0.9, 0.8), (0.85, 0.8), (0.99, 0.97), (0.6, 0.7)):
        n = required_n(estimate, floor)
        rng = np.random.default_rng(3)
        decided = 0
        from pytest_mlguard._verdicts.intervals import clopper_pearson

        for k in rng.binomial(n, estimate, runs):
            low, high = clopper_pearson(int(k), n)
            decided += low >= floor or high < floor
        exact, before = decision_probability(estimate, floor, [n, n - 1])
        print(f"| {estimate} | {floor} | {n} | {decided / runs:.3f} | {exact:.3f} | {before:.3f} |", flush=True)


def paired_required_table(runs: int) -> None:
    """6b: the gate's paired ``required_n`` (``paired_required_n``): fresh comparisons of the named n
    pairs, drawn with this run's shares of the four cells, judged by ``paired_interval_counts``."""
    from pytest_mlguard._verdicts.intervals import paired_interval_counts
    from pytest_mlguard._verdicts.paired import paired_required_n, regression_probabilities

    print(f"\n6b. the gate's paired required_n: a fresh comparison of n pairs, cells = this run's shares ({runs} runs; exact beside)")
    print("| pairs (both, only baseline, only candidate, neither) | tolerance | kind | required_n | decided (simulated) | decided (exact) | exact at n - 1 |")
    print("|---|---|---|---|---|---|---|")
    for pairs, tolerance, kind in (([300, 20, 2, 38], 0.02, "floor"), ([315, 9, 0, 36], 0.05, "floor"), ([315, 9, 0, 36], 0.04, "floor"), ([330, 2, 12, 16], 0.02, "floor"), ([300, 2, 20, 38], 0.02, "ceiling")):
        n = paired_required_n(pairs, tolerance=tolerance, kind=kind)
        if n is None:
            print(f"| {pairs} | {tolerance} | {kind} | none | | | |", flush=True)
            continue
        rng = np.random.default_rng(6)
        decided = 0
        for table in rng.multinomial(n, np.asarray(pairs) / sum(pairs), runs):
            low, high = paired_interval_counts(*(int(x) for x in table))
            worst, best = (-low, -high) if kind == "floor" else (high, low)
            decided += best > tolerance or worst <= tolerance
        exact, before = (sum(regression_probabilities(pairs, size, tolerance=tolerance, kind=kind) or (np.nan,)) for size in (n, n - 1))
        print(f"| {pairs} | {tolerance} | {kind} | {n} | {decided / runs:.3f} | {exact:.3f} | {before:.3f} |", flush=True)


def _relative_decided_share(pairs: list[int], factor: float, n: int, runs: int, rng: np.random.Generator) -> float:
    """The share of ``runs`` fresh relative-floor checks of n pairs (drawn with the shares of ``pairs``)
    whose verdict, through the check's own interval and ``decide``, is not inconclusive."""
    from pytest_mlguard.checks._base import CheckSpec, Measurement
    from pytest_mlguard.checks._result import _interval
    from pytest_mlguard.config.parse import Threshold
    from pytest_mlguard._verdicts.policy import decide

    spec, rules, decided = CheckSpec("corruption", "fog-3", "accuracy", Threshold(factor, "clean")), VerdictRules(checks=1), 0
    for a, b, c, d in rng.multinomial(n, np.asarray(pairs) / sum(pairs), runs):
        measurement = Measurement((a + c) / n, n, clean=(a + b) / n, successes=int(a + c), paired=(int(a), int(b), int(c), int(d)))
        threshold = spec.threshold.resolve(measurement.clean)
        interval, _ = _interval(measurement, rules, threshold, spec)
        decided += decide(measurement.value, interval, threshold=threshold, kind="floor").label != "inconclusive"
    return decided / runs


def relative_required_table(runs: int) -> None:
    """6c: a relative floor's ``required_n`` (``relative_required_n``) against the old one, scaled from the
    paired interval's width (``scaled_required_n``): fresh checks at each named n."""
    from pytest_mlguard.checks._base import CheckSpec, Measurement
    from pytest_mlguard.checks._result import _interval
    from pytest_mlguard.config.parse import Threshold
    from pytest_mlguard._verdicts.paired import relative_required_n
    from pytest_mlguard._verdicts.policy import scaled_required_n

    print(f"\n6c. a relative floor's required_n: fresh checks of n pairs, cells = this run's shares, 95% ({runs} runs each)")
    print("| pairs (both, only clean, only corrupted, neither) | floor | required_n | decided (simulated) | old n (interval width) | decided at the old n |")
    print("|---|---|---|---|---|---|")
    for pairs, factor in (([300, 40, 5, 15], 0.8), ([250, 60, 20, 30], 0.8), ([350, 5, 1, 4], 0.97), ([230, 94, 4, 32], 0.7), ([5, 1, 1, 3], 0.5)):
        n = relative_required_n(pairs, factor=factor)
        size, (a, b, c, _) = sum(pairs), pairs
        measurement = Measurement((a + c) / size, size, clean=(a + b) / size, successes=a + c, paired=tuple(pairs))  # type: ignore[arg-type]
        spec = CheckSpec("corruption", "fog-3", "accuracy", Threshold(factor, "clean"))
        threshold = spec.threshold.resolve(measurement.clean)
        interval, _ = _interval(measurement, VerdictRules(checks=1), threshold, spec)
        old = scaled_required_n(measurement.value, interval, threshold, size, 0.95)  # type: ignore[arg-type]
        shares = [f"{_relative_decided_share(pairs, factor, m, runs, np.random.default_rng(6)):.3f}" if m else "–" for m in (n, old)]
        print(f"| {pairs} | {factor}*clean | {n} | {shares[0]} | {old} | {shares[1]} |", flush=True)


def calibration_metrics_table(runs: int, resamples: int, metrics: tuple[str, ...] = ()) -> None:
    """8: every calibration check (or those of ``metrics``) of a perfectly calibrated model, against a
    ceiling at its true value."""
    from pytest_mlguard._verdicts.simulation import CALIBRATION_METRICS, calibration_metric_rates

    print(f"\n8. calibration checks of a perfectly calibrated model, one check at 95%, n=360 (garbage: 200) ({runs} runs each, {resamples} resamples)")
    print("| check | accuracy | true value | wrong FAIL at a ceiling = the true value (nominal <= 0.025) | interval coverage (nominal >= 0.95) |")
    print("|---|---|---|---|---|")
    for metric in [m for m in CALIBRATION_METRICS if m in (metrics or CALIBRATION_METRICS)]:
        for accuracy in (0.7, 0.9):
            rng = np.random.default_rng(int(accuracy * 100) + CALIBRATION_METRICS.index(metric))
            rates = calibration_metric_rates(rng, runs, 200 if metric == "garbage" else 360, metric, accuracy=accuracy, resamples=resamples)
            print(f"| {metric} | {accuracy} | {rates['truth']:.4f} | {rates['wrong_fail']:.3f} | {rates['coverage']:.3f} |", flush=True)


def _squared_ece(proba: np.ndarray, labels: np.ndarray, bins: int, binning: str) -> float:
    """The debiased squared top-label ECE of Kumar, Liang and Ma (2019): per bin, the squared gap less
    the variance of the bin's accuracy, ``acc (1 - acc) / (count - 1)``, weighted by the bin's share."""
    from pytest_mlguard.calibration.metrics import _bin_index

    confidence, hits = proba.max(axis=1), (proba.argmax(axis=1) == labels).astype(np.float64)
    index, edges = _bin_index(confidence, bins, binning)  # type: ignore[arg-type]
    size = len(edges) - 1
    count = np.bincount(index, minlength=size).astype(np.float64)
    accuracy = np.bincount(index, hits, size) / np.maximum(count, 1)
    mean = np.bincount(index, confidence, size) / np.maximum(count, 1)
    return float((count * ((accuracy - mean) ** 2 - accuracy * (1 - accuracy) / np.maximum(count - 1, 1))).sum() / len(labels))


def ece_power_table(runs: int, test_runs: int, resamples: int) -> None:
    """9: what power a test of the ECE ceiling 0.05 can have at n = 360 against true ECE 0.10, at 2.5%
    and 5% one-sided at the ceiling: the oracle (the statistic's own quantile at a model exactly at the
    ceiling with the same confidences, ``ece_power_bound``'s construction) for several statistics, then
    the plugin's test (``calibration_inference``) at 95% and 90% two-sided, with 15 equal-width and 5
    equal-mass bins."""
    from pytest_mlguard.calibration.inference import calibration_inference, debiased_error
    from pytest_mlguard.calibration.metrics import expected_calibration_error
    from pytest_mlguard._verdicts.simulation import likelihood_ratio

    statistics = {
        "plug-in ECE, 15 equal-width": lambda p, y: expected_calibration_error(p, y, 15),
        "debiased ECE, 15 equal-width (the check's)": lambda p, y: debiased_error(p, y, "ece", 15),
        "debiased ECE, 10 equal-mass": lambda p, y: debiased_error(p, y, "ece", 10, binning="equal-mass"),
        "debiased ECE, 5 equal-mass": lambda p, y: debiased_error(p, y, "ece", 5, binning="equal-mass"),
        "debiased squared ECE, 15 equal-width": lambda p, y: _squared_ece(p, y, 15, "equal-width"),
        "debiased squared ECE, 5 equal-mass": lambda p, y: _squared_ece(p, y, 5, "equal-mass"),
        "mean confidence - accuracy (1 bin; a lower bound of the ECE)": lambda p, y: float(p.max(1).mean() - (p.argmax(1) == y).mean()),
        "likelihood ratio of ECE 0.10 to 0.05 (Neyman-Pearson: no test does better)": lambda p, y: likelihood_ratio(p, y, ece=0.1, ceiling=0.05),
    }
    accuracies = (0.6, 0.7, 0.8, 0.85, 0.89)
    print(f"\n9a. ECE ceiling 0.05, n=360: the most a test of each statistic fails true ECE 0.10 if it fails 2.5% / 5% of models exactly at 0.05 (oracle; {runs} runs each)")
    print("| statistic | " + " | ".join(f"accuracy {a}" for a in accuracies) + " |")
    print("|---|" + "---|" * len(accuracies))
    columns = []
    for accuracy in accuracies:
        rng = np.random.default_rng(int(accuracy * 1000))
        drawn = {ece: [calibration_model(rng, 360, accuracy=accuracy + 0.1 - ece, ece=ece) for _ in range(runs)] for ece in (0.05, 0.1)}
        values = {ece: np.array([[f(p, y) for f in statistics.values()] for p, y in drawn[ece]]) for ece in drawn}
        quantiles = np.quantile(values[0.05], [0.975, 0.95], axis=0)
        columns.append([f"{(values[0.1][:, j] > quantiles[0, j]).mean():.3f} / {(values[0.1][:, j] > quantiles[1, j]).mean():.3f}" for j in range(len(statistics))])
    for j, name in enumerate(statistics):
        print(f"| {name} | " + " | ".join(column[j] for column in columns) + " |", flush=True)
    print(f"\n9b. the check's test (calibration_inference, {resamples} resamples): runs failing the ceiling 0.05 at 95% / 90% two-sided ({test_runs} runs each)")
    print("| accuracy | bins | model exactly at 0.05 fails | true ECE 0.10 fails |")
    print("|---|---|---|---|")
    for accuracy in (0.7, 0.85):
        for bins, binning in ((15, "equal-width"), (5, "equal-mass")):
            cells = []
            for ece in (0.05, 0.1):
                rng = np.random.default_rng(int(accuracy * 1000) + int(ece * 100) + bins)
                fails = np.zeros(2)
                for _ in range(test_runs):
                    proba, labels = calibration_model(rng, 360, accuracy=accuracy + 0.1 - ece, ece=ece)
                    for k, level in enumerate((0.95, 0.90)):
                        found = calibration_inference(proba, labels, "ece", bins, binning=binning, confidence=level, resamples=resamples, rng=rng)
                        fails[k] += found.low > 0.05
                cells.append(f"{fails[0] / test_runs:.3f} / {fails[1] / test_runs:.3f}")
            print(f"| {accuracy} | {bins} {binning} | {cells[0]} | {cells[1]} |", flush=True)


def shard_stop(rng: np.random.Generator, rate: float, floor: float, share: int, confidence: float) -> tuple[int, int, bool]:
    """One shard of a floor check stopping early on its share as ``Evaluation.looks`` does: (successes, samples, stopped)."""
    from pytest_mlguard._verdicts.sequential import EarlyStop, look_size

    outcomes = rng.random(share) < rate
    stopper = EarlyStop("sequential", floor, share, confidence=confidence)
    size = look_size(share)
    for end in range(size, share + size, size):
        end = min(end, share)
        if stopper.update(int(outcomes[:end].sum()), end):
            return int(outcomes[:end].sum()), end, True
    return int(outcomes.sum()), share, False


def sharded_stop_table(runs: int, n: int = 360, floor: float = 0.8, confidence: float = 0.95) -> None:
    from pytest_mlguard._verdicts.intervals import binomial_interval
    from pytest_mlguard._verdicts.policy import decide
    from pytest_mlguard._verdicts.sequential import product_confidence_sequence

    print(f"\n10. sharded early stopping: a floor check of {n} samples in N shards, floor {floor}, one check at {confidence:.0%} ({runs} runs each)")
    print("| shards | true rate = floor: wrong FAIL | floor - 0.05: wrong PASS | floor + 0.05: PASS | mean samples used (floor + 0.05) | runs with a shard stopped (floor + 0.05) |")
    print("|---|---|---|---|---|---|")
    for shards in (1, 2, 4, 8):
        rng = np.random.default_rng(1000 + shards)
        cells: dict[float, list[Any]] = {}
        for rate in (floor, floor - 0.05, floor + 0.05):
            labels, used, stopped = [], 0, 0
            for _ in range(runs):
                counts = [shard_stop(rng, rate, floor, len(part), confidence) for part in np.array_split(np.arange(n), shards)]
                successes, looked = sum(c[0] for c in counts), sum(c[1] for c in counts)
                if any(c[2] for c in counts):
                    interval = product_confidence_sequence([(s, m) for s, m, _ in counts], confidence)
                    stopped += 1
                else:
                    interval = binomial_interval(successes, looked, confidence, "clopper-pearson")
                labels.append(decide(successes / looked, interval, threshold=floor, kind="floor").label)
                used += looked
            cells[rate] = [labels, used / runs, stopped / runs]
        at, below, above = (cells[rate] for rate in (floor, floor - 0.05, floor + 0.05))
        wrong_fail = np.mean([label == "failed" for label in at[0]])
        wrong_pass = np.mean([label == "passed" for label in below[0]])
        passes = np.mean([label == "passed" for label in above[0]])
        print(f"| {shards} | {wrong_fail:.3f} | {wrong_pass:.3f} | {passes:.3f} | {above[1]:.0f} | {above[2]:.2f} |", flush=True)


def mean_interval_table(runs: int) -> None:
    """11: the per-sample-mean checks' intervals: the NLL's betting interval beside the percentile bootstrap
    it replaced, on the calibrated model and one confidently wrong on 0.5% of samples (log-loss 25), at one
    check's 95% and at its share of a 34-check run; the betting interval beside the Brier and garbage ones."""
    from pytest_mlguard._verdicts.mean_simulation import mean_interval_rates

    print(f"\n11. intervals of per-sample means, calibrated model (heavy: 0.5% of samples confidently wrong), n=360 (garbage: 200) ({runs} runs each)")
    print("| check | accuracy | heavy | level | interval | coverage | wholly below the truth (wrong PASS side) | wholly above (wrong FAIL) | mean width | mean high - estimate |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    cases = [("nll", 0.7, 0.0), ("nll", 0.9, 0.0), ("nll", 0.7, 0.005), ("nll", 0.9, 0.005), ("brier", 0.7, 0.0), ("brier", 0.9, 0.0), ("garbage", 0.7, 0.0), ("garbage", 0.9, 0.0)]
    for metric, accuracy, share in cases:
        for level in (0.95, 1 - 0.05 / 34) if metric == "nll" else (0.95,):
            rng = np.random.default_rng(int(accuracy * 100) + int(share * 1000) + len(metric))
            rates = mean_interval_rates(rng, runs, 200 if metric == "garbage" else 360, metric, accuracy=accuracy, share=share, confidence=level)
            for method in sorted(set(rates) - {"truth", "check"}):
                r, name = rates[method], f"{method} (the check's)" if method in rates["check"] else method
                cells = f"{r['coverage']:.3f} | {r['below']:.3f} | {r['above']:.3f} | {r['width']:.3f} | {r['upper']:.3f}"
                print(f"| {metric} | {accuracy} | {'yes' if share else 'no'} | {level:.4f} | {name} | {cells} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer replicates")
    parser.add_argument("--only", type=int, nargs="*", help="tables to print (1-11)")
    parser.add_argument("--runs", type=int, help="runs of tables 1-3 (default 1000, 200 with --quick)")
    parser.add_argument("--suites", type=int, nargs="*", default=[34, 123], help="checks per suite in table 3")
    parser.add_argument("--no-old", action="store_true", help="table 3 without the old defaults")
    parser.add_argument("--old-only", action="store_true", help="table 3 under the old defaults only")
    parser.add_argument("--metrics", nargs="*", default=[], help="table 8 for these calibration checks only (ece mce classwise_ece brier nll garbage)")
    parser.add_argument("--datasets", type=int, help="data sets of table 7 (default 100, 20 with --quick)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per data set of table 7")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    runs = args.runs or int(1000 * scale)
    tables = {
        1: lambda: ece_table(runs, 1000),
        2: lambda: ece_coverage(runs, 1000),
        3: lambda: suite_table(runs, tuple(args.suites), old=not args.no_old, default=not args.old_only),
        4: lambda: (flake_table(int(200 * scale), 10), accuracy_flake_table(int(200 * scale), 10)),
        5: lambda: coverage_table(int(4000 * scale)),
        6: lambda: (required_table(int(4000 * scale)), paired_required_table(int(4000 * scale)), relative_required_table(int(4000 * scale))),
        7: lambda: corruption_flake_table(args.datasets or int(100 * scale), args.seeds),
        8: lambda: calibration_metrics_table(runs, 1000, tuple(args.metrics)),
        9: lambda: ece_power_table(max(runs, 2000), int(400 * scale), 500),
        10: lambda: sharded_stop_table(runs),
        11: lambda: mean_interval_table(runs),
    }
    for number in args.only or sorted(tables):
        start = time.perf_counter()
        tables[number]()
        print(f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
