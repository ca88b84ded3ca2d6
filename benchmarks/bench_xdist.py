"""The speed-up of ``pytest --mlguard -n N`` (pytest-xdist) over a serial run, and that both write the
same report, printed as ratios measured side by side in one run.

Each configuration runs the digits example's suite serially and with ``-n N`` in fresh pytest
processes, interleaved (serial, parallel, serial, parallel, ...) so that both see the same machine
load, ``--repeats`` times each; the median wall time of each is compared. Every parallel report must
hold the same checks, values, verdicts and score as the serial one (the script stops if not); the
``resources`` checks, which time the machine, are compared by verdict only.

Configurations:

* ``example``: the example as it is configured (examples/digits/pyproject.toml);
* ``heavy``: the same checks with every corruption severity 1-5 and eight attacks (FGSM and PGD at
  four epsilons), a suite where each check costs more than the start-up of a worker.

    python benchmarks/bench_xdist.py                      # both, -n 2, 3 repeats
    python benchmarks/bench_xdist.py --workers 2 4 --repeats 5 --config heavy
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits"
CONFIGS: dict[str, list[str]] = {
    "example": [],
    "heavy": [
        "--mlguard-set", "corruption.severities=1,2,3,4,5",
        "--mlguard-set", "attack.checks=" + ",".join(f"{a}-linf-{e}" for a in ("fgsm", "pgd") for e in ("0.02", "0.05", "0.1", "0.2")),
        "--mlguard-set", "attack.floor=0",
        "--mlguard-set", "corruption.floor=0",
    ],
}


def run(args: list[str], output: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, of pytest and its workers) of one pytest process over the
    example; its exit code may be 1 (failing checks count)."""
    command = [sys.executable, "-m", "pytest", str(EXAMPLE), "--mlguard", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
               f"--mlguard-output={output}", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1) or not (output / "report.json").is_file():
        raise SystemExit(f"pytest failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, cpu


#: families that measure the machine (latency, throughput, memory): their values differ from run to run
#: even serially, so they are compared by verdict only
TIMED = {"resources"}


def metrics(output: Path) -> tuple[list[tuple[str, str, object, bool]], float]:
    report = json.loads((output / "report.json").read_text())
    rows = [(c["model"], c["id"], None if c["family"] in TIMED else c["value"], c["passed"]) for c in report["checks"]]
    return rows, report["score"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="xdist worker counts to compare (default: 2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, interleaved (default: 3)")
    parser.add_argument("--config", choices=sorted(CONFIGS), nargs="+", default=["example", "heavy"])
    parser.add_argument("-k", dest="select", default=None, help="a -k expression, to bench a part of the suite")
    args = parser.parse_args(argv)
    select = ["-k", args.select] if args.select else []
    with tempfile.TemporaryDirectory(prefix="mlguard-bench-xdist-") as tmp:
        for config in args.config:
            extra = CONFIGS[config] + select
            times: dict[str, list[tuple[float, float]]] = {"serial": [], **{f"-n {n}": [] for n in args.workers}}
            for repeat in range(args.repeats):
                for name in times:
                    output = Path(tmp) / config / name.replace(" ", "") / str(repeat)
                    times[name].append(run(extra + (name.split() if name != "serial" else []), output))
            serial_metrics = metrics(Path(tmp) / config / "serial" / "0")
            for name in times:
                for repeat in range(args.repeats):
                    if metrics(Path(tmp) / config / name.replace(" ", "") / str(repeat)) != serial_metrics:
                        raise SystemExit(f"{config}: the report of {name} (repeat {repeat}) differs from the serial one")
            checks, score = serial_metrics
            base = statistics.median(wall for wall, _ in times["serial"])
            print(f"{config}: {len(checks)} checks, score {score}, identical reports serial and parallel")
            for name, runs in times.items():
                median = statistics.median(wall for wall, _ in runs)
                cpu = statistics.median(c for _, c in runs)
                walls = ", ".join(f"{wall:.1f}" for wall, _ in runs)
                print(f"  {name:>8}: median {median:6.1f} s wall, {cpu:6.1f} s CPU  (runs: {walls})  serial / {name} = {base / median:.2f}")
    print(f"load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
