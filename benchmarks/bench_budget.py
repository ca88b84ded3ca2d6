"""How closely ``--mlguard-budget`` keeps its budget, and how long the built-in profiles take.

Runs ``pytest --mlguard examples/digits`` as a user would (a fresh process each time, wall time
measured around it, reports included):

* budgets: the example under the ``nightly`` profile (the full ImageNet-C grid of 19 corruptions x 5
  severities, 50-step attacks, 5000-query black-box attacks, long input searches, no early stopping;
  about 60 s without a budget on 2 cores) under ``--mlguard-budget`` 30, 60 and 120 s, and a heavier
  workload (nightly with 200-step PGD and 20000-query black-box attacks) under 60 and 120 s and
  without a budget; printed as wall time / budget, with how many checks were shortened and cut;
* profiles: the example under ``--mlguard-profile smoke``, ``ci`` and ``nightly``;
* hanging: the digits example's settings with the zoo's model that never answers a corrupted or
  attacked input (``tests/zoo.py: hanging_model``), under ``--mlguard-budget`` 20 and 60 s: the budget
  must bound the run although most checks would wait forever.

    python benchmarks/bench_budget.py              # budgets and profiles (about 20 minutes on 2 cores)
    python benchmarks/bench_budget.py --budgets    # budgets only
    python benchmarks/bench_budget.py --profiles   # profiles only
    python benchmarks/bench_budget.py --hanging    # a hanging model under a budget only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NIGHTLY = ("--mlguard-profile", "nightly")  # every corruption and severity, 50-step attacks, long searches, no early stopping
#: nightly with 200-step PGD and 20000-query black-box attacks: well over 60 s without a budget
HEAVY = (*NIGHTLY, "--mlguard-set", "attack.steps=200", "--mlguard-set", "attack.queries=20000")


def run(*args: str, project: Path = ROOT / "examples" / "digits") -> tuple[float, dict]:
    """Wall seconds of one ``pytest --mlguard <project>`` run (the digits example), and its report."""
    with tempfile.TemporaryDirectory() as output:
        command = [sys.executable, "-m", "pytest", "--mlguard", str(project), "-q", "-p", "no:cacheprovider", f"--mlguard-output={output}", *args]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - start
        report_path = Path(output) / "report.json"
        return wall, json.loads(report_path.read_text()) if report_path.is_file() else {}


def budgets() -> None:
    for name, workload, seconds_list in (("nightly", NIGHTLY, (30, 60, 120)), ("heavy", HEAVY, (60, 120))):
        for seconds in seconds_list:
            wall, report = run(*workload, "--mlguard-budget", f"{seconds}s")
            plan = report.get("budget", {})
            print(
                f"{name}, --mlguard-budget {seconds:>3}s: wall {wall:6.1f} s, wall / budget = {wall / seconds:.2f}; "
                f"{len(report.get('checks', []))} checks measured, {len(plan.get('shortened', []))} shortened, {len(plan.get('cut', []))} cut",
                flush=True,
            )
    wall, report = run(*HEAVY)
    print(f"heavy without a budget: wall {wall:6.1f} s, {len(report.get('checks', []))} checks", flush=True)


def profiles() -> None:
    wall, report = run()
    print(f"no profile: {wall:.1f} s, {len(report.get('checks', []))} checks", flush=True)
    for name in ("smoke", "ci", "nightly"):
        wall, report = run("--mlguard-profile", name)
        print(f"--mlguard-profile {name:<8} {wall:7.1f} s, {len(report.get('checks', []))} checks, samples={report.get('samples')}", flush=True)


HANGING = """
import importlib.util, sys
sys.path.insert(0, {tests!r})
import pytest, zoo

spec = importlib.util.spec_from_file_location("digits_example_conftest", {example!r})
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)
digits_net, mlguard_data, mlguard_pipeline, mlguard_baseline_model = (
    example.digits_net, example.mlguard_data, example.mlguard_pipeline, example.mlguard_baseline_model
)

@pytest.fixture(scope="session")
def mlguard_model():
    return zoo.hanging_model("lock")
"""


def hanging() -> None:
    """The digits example with a model that hangs on every corrupted or attacked input, under a budget."""
    example = ROOT / "examples" / "digits"
    with tempfile.TemporaryDirectory() as directory:
        project = Path(directory)
        corpus = '"' + str(ROOT / "corpora" / "images") + '"'
        (project / "pyproject.toml").write_text((example / "pyproject.toml").read_text().replace('"../../corpora/images"', corpus))
        (project / "conftest.py").write_text(HANGING.format(tests=str(ROOT / "tests"), example=str(example / "conftest.py")))
        for seconds in (20, 60):
            wall, report = run("--mlguard-budget", f"{seconds}s", project=project)
            skipped = report.get("skipped", [])
            print(
                f"hanging model, --mlguard-budget {seconds:>3}s: wall {wall:6.1f} s, wall / budget = {wall / seconds:.2f}, "
                f"{report.get('budget', {}).get('spent_s', float('nan')):.1f} s of the budget's clock before the reports; "
                f"{len(report.get('checks', []))} checks measured, {sum(e['kind'] == 'cut' for e in skipped)} cut "
                f"({sum('stopped at the end' in e['reason'] for e in skipped)} of them stopped at the end), {len(report.get('errors', []))} errors",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", action="store_true", help="budgets only")
    parser.add_argument("--profiles", action="store_true", help="profiles only")
    parser.add_argument("--hanging", action="store_true", help="a hanging model under a budget only")
    args = parser.parse_args()
    if args.hanging:
        hanging()
        return
    if not args.budgets:
        profiles()
    if not args.profiles:
        budgets()


if __name__ == "__main__":
    main()
