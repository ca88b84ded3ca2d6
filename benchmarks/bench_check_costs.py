"""What each check of the digits example costs, to scale it to another model and machine: its model
evaluations (forward passes of one sample, gradients counted: the same on every machine), its wall
seconds, and the CPU seconds of the pytest process during it.

With one torch thread (the default here), a check's CPU seconds are about its wall seconds on an idle
core, and other jobs that share the machine change them little, while they stretch wall seconds; so
CPU seconds are the figure to compare across machines. Checks that work in other processes (the
inputs checks' isolated pipeline worker, the resources checks' measuring process) show little CPU
time of their own: their wall seconds on an idle machine are their cost.

    python benchmarks/bench_check_costs.py               # one torch thread
    python benchmarks/bench_check_costs.py --threads 2   # torch's threads on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMES = "BENCH_CHECK_COSTS_TIMES"  # the file this module, as a pytest plugin, writes each item's times to
_STASH = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """As a plugin (``-p bench_check_costs``): the CPU and wall seconds of each test's call."""
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        return (yield)
    finally:
        times = item.config.stash.setdefault(_STASH, {})
        times[item.nodeid] = {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}


def pytest_sessionfinish(session: pytest.Session) -> None:
    if os.environ.get(TIMES):
        Path(os.environ[TIMES]).write_text(json.dumps(session.config.stash.get(_STASH, {})))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (OMP_NUM_THREADS; default: 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as output:
        times_file = Path(output) / "times.json"
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), TIMES: str(times_file)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "benchmarks"), env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "pytest", "--mlguard", "examples/digits", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                   "-p", "bench_check_costs", f"--mlguard-output={output}", "--mlguard-durations", "0"]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        total = time.perf_counter() - start
        if not (Path(output) / "report.json").is_file():
            sys.exit(f"the run wrote no report:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        report = json.loads((Path(output) / "report.json").read_text())
        times = json.loads(times_file.read_text())
    print(f"pytest --mlguard examples/digits, {args.threads} torch thread(s): {total:.1f} s wall in all, load average {os.getloadavg()[0]:.1f}")
    print("| check | evaluations | CPU s | wall s |")
    print("|---|---:|---:|---:|")
    rows = [(check, times.get(check.get("nodeid", ""), {})) for check in report["checks"]]
    for check, spent in sorted(rows, key=lambda row: -row[1].get("cpu_s", 0.0)):
        evaluations = check.get("evaluations") or "–"
        print(f"| `{check['id']}` | {evaluations} | {spent.get('cpu_s', float('nan')):.2f} | {spent.get('wall_s', float('nan')):.2f} |")


if __name__ == "__main__":
    main()
