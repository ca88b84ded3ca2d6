"""Model evaluations that early stopping saves, with the verdicts it gives, side by side in one run.

Every floor check of a suite runs three times on the same model, data and seed: with
``verdict.early_stop = "off"`` (every sample), ``"exact"`` (stop once no remaining sample could
change the full run's verdict) and ``"sequential"`` (the default: stop once the anytime-valid
confidence sequence excludes the floor at ``verdict.confidence``). It prints the model evaluations
each used (forward passes per sample, gradients counted, as the report's ``evaluations``), the
saving against ``off``, and how many test outcomes differ from ``off``.

Suites:

* digits: the example's CNN on its 360 test images; the ImageNet-C grid (19 corruptions x 5
  severities, floor ``0.8*clean``), six fixed-epsilon attacks (floor 0.4), and the production
  floors on proportions: drift agreement of bfloat16, threads and int8 (floor 0.99) and
  determinism of repeated calls and batches (floor 1);
* ResNet-18 (random weights, ``weights=None``) at 32x32 on crops of scikit-image's photos, labelled
  with its own predictions (so clean accuracy is 1); 19 corruptions at severities 1, 3 and 5
  (floor ``0.8*clean``) and FGSM/PGD at two epsilons (floor 0.4).

    python benchmarks/bench_early_stop.py            # about 5 minutes on 2 cores
    python benchmarks/bench_early_stop.py --quick    # digits only, fewer checks
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_corruptions import digits_case, resnet_case

from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.errors import NotApplicable

MODES = ("off", "exact", "sequential")


def run_suite(model: object, data: object, cli: dict[str, str], output: str) -> dict[str, dict[str, tuple[int, bool, str]]]:
    """By mode: by check id, (model evaluations, test outcome, verdict label)."""
    outcomes: dict[str, dict[str, tuple[int, bool, str]]] = {}
    for mode in MODES:
        settings = resolve(cli={**cli, "output": output, "verdict.early_stop": mode}, environ={}, keys=all_keys())
        evaluation = Evaluation(model, data, settings)  # type: ignore[arg-type]
        outcomes[mode] = {}
        start = time.perf_counter()
        for name in ("corruption", "attack", "drift", "determinism"):
            fam = family(name)
            for spec in fam.planned(settings):
                try:
                    result = evaluation.run(fam, spec)
                except NotApplicable:
                    continue
                outcomes[mode][result.id] = (int(result.evaluations or 0), result.passed, result.label)
        print(f"  {mode:<10} {time.perf_counter() - start:6.1f} s", flush=True)
    return outcomes


def report(title: str, outcomes: dict[str, dict[str, tuple[int, bool, str]]]) -> None:
    off = outcomes["off"]
    full = sum(evaluations for evaluations, _, _ in off.values())
    failing = sum(not passed for _, passed, _ in off.values())
    inconclusive = sum(label == "inconclusive" for _, _, label in off.values())
    print(f"{title}: {len(off)} floor checks ({failing} fail, {inconclusive} inconclusive without early stopping)")
    print(f"  {'mode':<10} {'evaluations':>12} {'saved':>7} {'stopped early':>14} {'outcomes unlike off':>20}")
    for mode in MODES:
        runs = outcomes[mode]
        used = sum(evaluations for evaluations, _, _ in runs.values())
        stopped = sum(runs[check][0] < off[check][0] for check in runs)
        differ = [check for check in runs if runs[check][1] != off[check][1]]
        print(f"  {mode:<10} {used:>12} {1 - used / full:>7.1%} {stopped:>14} {len(differ):>20}")
        for check in differ:
            print(f"    {check}: {'passed' if runs[check][1] else 'failed'} here, {'passed' if off[check][1] else 'failed'} without early stopping")
    print(f"  sequential / off evaluations = {sum(e for e, _, _ in outcomes['sequential'].values()) / full:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="digits only, severity 3 only")
    args = parser.parse_args()
    attacks = "fgsm-linf-0.05,fgsm-linf-0.1,pgd-linf-0.05,pgd-linf-0.1,pgd-l2-0.5,pgd-l2-1.0"
    digits_cli = {
        "corruption.corruptions": "all",
        "corruption.severities": "3" if args.quick else "all",
        "corruption.floor": "0.8*clean",
        "attack.checks": attacks,
        "attack.floor": "0.4",
        "drift.checks": "bfloat16,threads,int8",  # the production floors on proportions
        "determinism.checks": "repeat,batch",
    }
    resnet_cli = {
        "corruption.corruptions": "all",
        "corruption.severities": "1,3,5",
        "corruption.floor": "0.8*clean",
        "attack.checks": "fgsm-linf-1/255,fgsm-linf-4/255,pgd-linf-1/255,pgd-linf-4/255",
        "attack.floor": "0.4",
        "attack.steps": "5",
        "attack.batch_size": "32",
    }
    with tempfile.TemporaryDirectory() as output:
        print("digits CNN, 360 test images", flush=True)
        report("digits", run_suite(*digits_case(360), digits_cli, output))
        if not args.quick:
            print("ResNet-18 (random weights) 32x32, 128 images", flush=True)
            report("ResNet-18", run_suite(*resnet_case(128, side=32), resnet_cli, output))


if __name__ == "__main__":
    main()
