"""The speed-up of N shards (``--mlguard-shard I/N``) run side by side on this machine over the
unsharded run, and the cost of ``--mlguard-merge`` as a share of the run, printed side by side.

The digits example's suite, restricted to the checks each shard measures on its own samples
(accuracy, calibration's ECE, the noise and blur corruptions at severities 1-5; with the example's two
garbage-input calibration checks, which run whole, 49 checks; attacks and the production families
run whole on one shard and would only measure their imbalance), over all its test samples, early
stopping off.
Each repeat runs, interleaved so that both see the same load: the unsharded run (torch on every
core), then N shard processes at once (torch on cores / N threads each), then the merge. The merged
report must equal the unsharded one (values and verdicts; the script stops if not). Printed: median
wall times, the speed-up and its ratio to perfect scaling (``N x sharded / unsharded``: 1.0 is perfect,
the target is under 1.2 on N idle cores), the merge process's wall time and the merge's own work
(reading the shards and recomputing every check, in this process) as shares of the unsharded run
(target: under 2%), and the machine's load average before and after.

With ``--pinned`` each process runs on cores of its own, as on N machines: the unsharded run on one
core with one thread, and shard ``i`` on core ``i`` with one thread (``os.sched_setaffinity``), so that
``N x sharded / unsharded`` measures the scale-out itself (the issue's target: under 1.2 on N idle
cores). Without it the unsharded run has every core, and the ratio also measures how well torch's own
threads use them (on 2 cores a ResNet's intra-op threads are nearly as good as two shards). Pinned, each
repeat also runs a control: a fixed pure-Python loop alone on core 0, then N copies side by side on
cores 0..N-1, which share nothing; its ``side by side / alone`` is the machine's own scale-out (1.0
on N idle cores; a virtual machine whose cores share the host's is above it), printed beside the shards'
ratio and the shards' ratio over it.

With ``--resnet SAMPLES`` the project is a realistic-scale one instead (the issue's benchmark): a
torchvision ResNet-18 with random weights (seeded, the cost does not depend on them) on ``SAMPLES``
random 32x32 RGB images labelled with its own top-1 classes, the same checks less the garbage-input
ones (written to a temporary project: weights and data saved once, so that every process loads the
same model and none pays for labelling).

Each process's CPU seconds (user + sys, from ``os.wait4``) are printed in a second table beside the
wall times: they measure the work each process does whatever else the machine runs, and the balance
of the shards (``N x slowest shard / unsharded`` and ``all shards / unsharded``, both 1.0 when
sharding divides everything). The processes keep their compiled modules in a bytecode cache that they
share (``PYTHONPYCACHEPREFIX``, with ``PYTHONDONTWRITEBYTECODE`` dropped), warmed by one small untimed
shard and merge, as an installed package has them: without it (``--no-bytecode-cache``, on a machine
that sets ``PYTHONDONTWRITEBYTECODE``) each process compiles pytest-mlguard's and Hypothesis' modules
again, with pytest's assertion rewriting (pytest rewrites every module of a plugin's distribution),
about 1.5 CPU seconds of every shard that sharding does not divide.

    python benchmarks/bench_sharding.py                  # N = 2, 2 repeats
    python benchmarks/bench_sharding.py --shards 2 4 --repeats 3
    python benchmarks/bench_sharding.py --resnet 2000 --repeats 1
    python benchmarks/bench_sharding.py --resnet 1000 --repeats 1 --pinned
    python benchmarks/bench_sharding.py --resnet 1000 --repeats 1 --pinned --no-bytecode-cache
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits"
sys.path.insert(0, str(ROOT))  # this checkout's package
SETTINGS = [
    "--mlguard-set", "corruption.corruptions=noise,blur",
    "--mlguard-set", "corruption.severities=1,2,3,4,5",
    "--mlguard-set", "attack.enabled=false",
    "--mlguard-set", "inputs.enabled=false",
    "--mlguard-set", "contract.enabled=false",
    *[arg for family in ("resources", "determinism", "drift", "gate", "shift", "slices") for arg in ("--mlguard-set", f"{family}.enabled=false")],
    "--mlguard-set", "verdict.early_stop=off",
    "--mlguard-set", "verdict.more_samples=off",
    "--mlguard-samples", "100000",  # all of them
]  # fmt: skip


RESNET_CONFTEST = """
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from pytest_mlguard import EvalData, TorchModel

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def mlguard_model():
    net = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    net.load_state_dict(torch.load(HERE / "weights.pt", weights_only=True))
    return TorchModel(net, input_shape=(3, 32, 32), n_classes=10, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                      batch_size=256, name="resnet18-32")


@pytest.fixture(scope="session")
def mlguard_data():
    data = np.load(HERE / "data.npz")
    return EvalData(data["x"], data["y"], name="random-32")
"""


def resnet_project(directory: Path, samples: int) -> Path:
    """A project declaring a random-weight ResNet-18 and ``samples`` 32x32 images labelled by it."""
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_scale import build

    model, data = build(32, samples, "cpu")
    directory.mkdir(parents=True)
    torch.save(model.module.state_dict(), directory / "weights.pt")
    np.savez(directory / "data.npz", x=data.x, y=data.y)
    (directory / "conftest.py").write_text(RESNET_CONFTEST)
    (directory / "pyproject.toml").write_text('[tool.mlguard]\nseed = 0\n\n[tool.mlguard.calibration]\nchecks = ["ece"]\n')
    return directory


def command(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", str(project), "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *SETTINGS, *args]


#: the control of ``--pinned``: about 6 s of pure Python on one core, no file, no import, nothing shared between copies
CONTROL = [sys.executable, "-c", "x = 0\nfor i in range(80_000_000):\n    x += i"]

def environment(threads: int | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in [name for name in env if name.startswith("MLGUARD_")]:
        del env[name]
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def warm_up(project: Path, base: Path) -> None:
    """One small shard and its merge, untimed: every module a run imports is compiled (and pytest's
    assertion rewriting of the plugins' modules done) once, before the runs that are timed."""
    directory = base / "warm-up"
    small = ("--mlguard-samples", "16")
    timed([(command(project, "--mlguard", "--mlguard-shard", "0/1", f"--mlguard-output={directory}", *small), environment(1))], "the warm-up shard")
    timed([(command(project, "--mlguard-merge", str(directory), f"--mlguard-output={base / 'warm-up-merged'}", *small), environment(1))], "the warm-up merge")


def timed(commands: list[tuple[list[str], dict[str, str]]], what: str, cores: list[int] | None = None) -> tuple[float, list[float]]:
    """Wall seconds until every command, started at once, has ended, and each one's CPU seconds (user +
    sys, from ``os.wait4``: what the machine's other load does not inflate); command ``i`` on core
    ``cores[i]`` if given."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        processes = [
            subprocess.Popen(args, cwd=ROOT, env=env, text=True, stdout=log, stderr=subprocess.STDOUT, preexec_fn=None if cores is None else _pin(cores[i]))
            for i, (args, env) in enumerate(commands)
        ]
        cpu = []
        for process in processes:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu.append(usage.ru_utime + usage.ru_stime)
        wall = time.perf_counter() - start
        if any(process.returncode not in (0, 1) for process in processes):
            log.seek(0)
            raise SystemExit(f"{what} failed ({[process.returncode for process in processes]}):\n{log.read()[-6000:]}")
    return wall, cpu


def _pin(core: int) -> Any:
    """A ``preexec_fn`` that keeps the child process on ``core``."""
    return lambda: os.sched_setaffinity(0, {core})


def merge_work(directories: list[Path], project: Path) -> float:
    """Seconds to read the shards and recompute every check, in this process (the merge's own work): the
    second of two merges, so that importing the modules the first one needs is not counted (the merge
    process's column counts start-up)."""
    from pytest_mlguard._verdicts import paired

    _merge_once(directories, project)
    paired._BOUNDS.clear()  # the binomial bounds the first merge kept: a merge process starts without them
    return _merge_once(directories, project)


def _merge_once(directories: list[Path], project: Path) -> float:
    import numpy as np

    from pytest_mlguard._shard.items import merged_checks
    from pytest_mlguard._shard.merge import load_shards
    from pytest_mlguard.checks._registry import all_keys
    from pytest_mlguard.config import resolve

    start = time.perf_counter()
    settings = resolve(cli=_cli(), files=_files(project), environ={}, keys=all_keys())
    # the shards' own settings to check them against each other: paths in this process resolve otherwise than in
    # theirs (the header alone: the merge itself reads each shard once, and so does this)
    with np.load(directories[0] / "mlguard-shard.npz", allow_pickle=False) as data:
        shard_settings = json.loads(str(data["header"]))["settings"]
    shards = load_shards(directories, ROOT, shard_settings)
    merged_checks(shards, settings)
    return time.perf_counter() - start


def _cli() -> dict[str, str]:
    values = dict(pair.split("=", 1) for flag, pair in zip(SETTINGS[::2], SETTINGS[1::2]) if flag == "--mlguard-set")
    return {**values, "samples": "100000"}


def _files(project: Path) -> list[Any]:
    """The project's ``[tool.mlguard]``, as its runs read it."""
    from pytest_mlguard.checks._registry import all_keys
    from pytest_mlguard.config._files import pyproject_source

    source = pyproject_source(project / "pyproject.toml", all_keys())
    return [] if source is None else [source]


def compare(whole: Path, merged: Path) -> int:
    """The number of checks, after checking that the merged report has the unsharded one's values and verdicts."""

    def checks(path: Path) -> dict[str, tuple[Any, ...]]:  # timings aside; a NaN value is written null
        report = json.loads((path / "report.json").read_text())
        return {c["id"]: (None if c["value"] is None else round(c["value"], 8), c["verdict"], c["n"]) for c in report["checks"] if c["family"] != "resources"}

    got, expected = checks(merged), checks(whole)
    if got != expected:
        raise SystemExit(f"the merged report differs from the unsharded one: {sorted(set(got.items()) ^ set(expected.items()), key=str)[:6]}")
    return len(got)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, nargs="*", default=[2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--resnet", type=int, metavar="SAMPLES", help="a random-weight ResNet-18 on SAMPLES 32x32 images instead of the digits")
    parser.add_argument("--pinned", action="store_true", help="one core and one thread per process: the unsharded run on core 0, shard i on core i")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="keep this environment's bytecode settings (PYTHONDONTWRITEBYTECODE: every process compiles)")
    args = parser.parse_args()
    from pytest_mlguard._cores import usable_cores

    cores = usable_cores()  # within a container's CPU limit too
    if args.pinned and max(args.shards) > cores:
        raise SystemExit(f"--pinned needs a core per shard: {max(args.shards)} shards, {cores} cores")
    print(f"machine: {cores} cores; load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}{'; pinned: one core and one thread per process' if args.pinned else ''}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        project = EXAMPLE if args.resnet is None else resnet_project(base / "resnet", args.resnet)
        print(f"project: {'the digits example' if args.resnet is None else f'ResNet-18, {args.resnet} samples of 32x32'}")
        if not args.no_bytecode_cache:  # every child's compiled (and assertion-rewritten) modules kept between processes, as installed
            os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # read at start-up: this process's own stay as they are
            os.environ["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
            warm_up(project, base)
        print(f"bytecode: {'as this environment says' if args.no_bytecode_cache else 'cached between processes (PYTHONPYCACHEPREFIX), warmed by one small untimed run'}")
        for count in args.shards:
            rows.append(measure(project, base, count, args.repeats, args.pinned, cores))
            print_tables(rows)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


def measure(project: Path, base: Path, count: int, repeats: int, pinned: bool, cores: int) -> dict[str, Any]:
    """Medians over ``repeats`` of: the unsharded run, ``count`` shards side by side and their merge, each in
    wall and CPU seconds (the CPU seconds of each shard), and the merge's own work; after checking the merge."""
    runs: dict[str, list[Any]] = {"whole": [], "shards": [], "merge": [], "work": [], "control": []}
    checks = 0
    for repeat in range(repeats):
        whole = base / f"whole-{count}-{repeat}"
        whole_run = [(command(project, "--mlguard", f"--mlguard-output={whole}"), environment(1 if pinned else None))]
        runs["whole"].append(timed(whole_run, "the unsharded run", [0] if pinned else None))
        directories = [base / f"shards-{count}-{repeat}" / str(i) for i in range(count)]
        shards = [(command(project, "--mlguard", "--mlguard-shard", f"{i}/{count}", f"--mlguard-output={d}"), environment(1 if pinned else max(1, cores // count))) for i, d in enumerate(directories)]
        runs["shards"].append(timed(shards, "a shard", list(range(count)) if pinned else None))
        if pinned:  # the machine's own scale-out: the same fixed work alone, then N copies side by side, as pinned
            runs["control"].append((timed([(CONTROL, environment(1))], "the control", [0])[0], timed([(CONTROL, environment(1))] * count, "the control", list(range(count)))[0]))
        merged = base / f"merged-{count}-{repeat}"
        runs["merge"].append(timed([(command(project, "--mlguard-merge", *map(str, directories), f"--mlguard-output={merged}"), environment(None))], "the merge"))
        runs["work"].append(merge_work(directories, project))
        checks = compare(whole, merged)
    median = statistics.median
    return {
        "count": count, "checks": checks,
        "whole": median(w for w, _ in runs["whole"]), "whole_cpu": median(c[0] for _, c in runs["whole"]),
        "shards": median(w for w, _ in runs["shards"]), "shard_cpu": [median(c[i] for _, c in runs["shards"]) for i in range(count)],
        "merge": median(w for w, _ in runs["merge"]), "merge_cpu": median(c[0] for _, c in runs["merge"]), "work": median(runs["work"]),
        "control": median(side / alone for alone, side in runs["control"]) if runs["control"] else None,
    }  # fmt: skip


def print_tables(rows: list[dict[str, Any]]) -> None:
    """The wall-clock table, and the same runs in CPU seconds (what the machine's other load does not inflate)."""
    print("| shards | checks | unsharded s | N shards side by side s | speed-up | N x sharded / unsharded (1.0 perfect) | merge process s (% of run) | merge work s (% of run) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        w, s, m, k, n = r["whole"], r["shards"], r["merge"], r["work"], r["count"]
        print(f"| {n} | {r['checks']} | {w:.1f} | {s:.1f} | {w / s:.2f} | {n * s / w:.2f} | {m:.1f} ({100 * m / w:.1f}%) | {k:.2f} ({100 * k / w:.2f}%) |")
    print("\nCPU seconds (user + sys) of each process:\n")
    print("| shards | unsharded CPU s | each shard's CPU s | N x slowest shard / unsharded (1.0 perfect) | all shards / unsharded | merge process CPU s (% of run) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        w, shards, n, m = r["whole_cpu"], r["shard_cpu"], r["count"], r["merge_cpu"]
        print(f"| {n} | {w:.1f} | {' / '.join(f'{c:.1f}' for c in shards)} | {n * max(shards) / w:.2f} | {sum(shards) / w:.2f} | {m:.1f} ({100 * m / w:.1f}%) |", flush=True)
    controls = [r for r in rows if r["control"] is not None]
    if controls:
        print("\nThe machine's own scale-out (pinned): a fixed CPU-bound loop that shares nothing, alone on core 0, then N copies")
        print("side by side on cores 0..N-1 (each copy the whole loop); side by side / alone is 1.0 on N idle cores:\n")
        print("| shards | the machine: side by side / alone | the shards: N x sharded / unsharded | the shards over the machine |")
        print("|---|---|---|---|")
        for r in controls:
            shards = r["count"] * r["shards"] / r["whole"]
            print(f"| {r['count']} | {r['control']:.2f} | {shards:.2f} | {shards / r['control']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
