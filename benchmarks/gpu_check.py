"""The GPU paths, end to end, on a machine with a CUDA device: under 10 minutes, one table to paste into
docs/scale.md ("GPUs").

Steps (each timed; one that fails is reported as such and the next runs):

1. ``pytest --mlguard examples/digits`` on ``cpu`` and on ``cuda``: wall times, and that the two
   reports hold the same checks and verdicts;
2. ``pytest --mlguard examples/digits -n auto --mlguard-device cuda``: one worker per visible GPU,
   each pinned through ``CUDA_VISIBLE_DEVICES`` (the header names the pin);
3. a ResNet-18 (random weights) at 224x224 on ``cuda``: the ``ci`` profile's default plan on
   ``--samples`` images (benchmarks/bench_scale.py), its wall time and ratio to pure inference;
4. determinism pitfalls on the ResNet-18: ``determinism[repeat]`` and ``determinism[batch]`` with
   torch set up for speed (cuDNN benchmark mode, TF32, non-deterministic kernels) and for
   reproducibility, and ``drift[bfloat16]``;
5. the memory budget in GPU memory: ``resources[memory-load]`` and ``resources[memory-inference]``.

    python benchmarks/gpu_check.py                 # 1,000 images at 224x224
    python benchmarks/gpu_check.py --samples 2000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

ROWS: list[tuple[str, str, float]] = []
SIZE = 224
DEVICE = "cuda"  # --device: another one tries the script on a machine without a GPU


def step(name: str, action: Callable[[], str]) -> None:
    """Run ``action`` and keep a row: what it found, or the error it raised, and its seconds."""
    start = time.perf_counter()
    try:
        found = action()
    except Exception as exc:  # noqa: BLE001 - a failed step is a result to report
        found = f"FAILED: {type(exc).__name__}: {str(exc)[:300]}"
    ROWS.append((name, found.replace("|", "/").replace("\n", " "), time.perf_counter() - start))
    print(f"[{time.perf_counter() - START:6.0f} s] {name}: {found}", flush=True)


def suite(device: str, *extra: str) -> tuple[dict[str, Any], str, float]:
    """The digits example's suite on ``device``: its report, its output and its wall seconds."""
    with tempfile.TemporaryDirectory() as output:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", "pytest", "--mlguard", "examples/digits", "-p", "no:cacheprovider", "-p", "no:randomly",
                   f"--mlguard-device={device}", f"--mlguard-output={output}", *extra]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        wall = time.perf_counter() - start
        report_file = Path(output) / "report.json"
        if not report_file.is_file():
            raise RuntimeError(f"no report (exit {done.returncode}): {(done.stdout + done.stderr)[-600:]}")
        return json.loads(report_file.read_text()), done.stdout, wall


def digits_on_both() -> str:
    cpu, _, cpu_wall = suite("cpu")
    cuda, _, cuda_wall = suite(DEVICE)
    verdicts = {c["id"]: c["passed"] for c in cpu["checks"]}
    differ = [c["id"] for c in cuda["checks"] if verdicts.get(c["id"]) != c["passed"]]
    same = "same verdicts" if not differ and len(verdicts) == len(cuda["checks"]) else f"verdicts differ: {differ}"
    return f"{len(cuda['checks'])} checks; cpu {cpu_wall:.0f} s, {DEVICE} {cuda_wall:.0f} s; {same}"


def digits_xdist() -> str:
    import torch

    report, out, wall = suite(DEVICE, "-n", "auto")
    pins = sorted({line.strip() for line in out.splitlines() if "pinned to GPU" in line})
    workers = next((line.strip() for line in out.splitlines() if line.startswith("created:")), "workers: ?")
    return f"{torch.cuda.device_count()} GPU(s), {workers}; {len(report['checks'])} checks in {wall:.0f} s; header: {pins or 'controller shows no pin'}"


def resnet_ci(samples: int) -> str:
    from bench_scale import build, forward_seconds, run

    model, data = build(SIZE, samples, DEVICE)
    wall, results = run(model, data, "ci", DEVICE, 0)
    per_sample = forward_seconds(model, data.x, DEVICE)
    evaluations = sum(r.evaluations or 0 for r in results)
    return (f"{len(results)} checks, {samples} images: {wall:.0f} s, {evaluations} evaluations, forward {per_sample * 1e3:.2f} ms a sample, "
            f"ratio to pure inference {wall / (evaluations * per_sample):.2f}")


def _determinism(fast: bool, samples: int) -> str:
    import torch
    from bench_scale import build

    from pytest_mlguard import check_model

    torch.backends.cudnn.benchmark = fast
    torch.backends.cudnn.deterministic = not fast
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = fast
    torch.use_deterministic_algorithms(not fast, warn_only=True)
    if not fast:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    try:
        model, data = build(SIZE, min(samples, 256), DEVICE)
        checks = ["determinism[repeat]", "determinism[batch]", "drift[bfloat16]"]
        results = check_model(model, data, checks, settings={"device": DEVICE, "verdict.early_stop": "off"})
        return "; ".join(f"{r.id} {'pass' if r.passed else 'FAIL'} {r.value:.3f}" + (f" ({r.message.splitlines()[-1][:160]})" if not r.passed else "") for r in results)
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, False
        torch.use_deterministic_algorithms(False)


def gpu_memory() -> str:
    from bench_scale import build

    from pytest_mlguard import check_model

    model, data = build(SIZE, 64, "cpu")
    settings = {"device": DEVICE, "resources.memory_mb": {"load": 100_000, "inference": 100_000}, "resources.requests": 20, "samples": 64}
    results = check_model(model, data, ["resources[memory-load]", "resources[memory-inference]"], settings=settings)
    return "; ".join(f"{r.id} {r.value:.0f} MB ({r.details.get('memory', 'resident')})" for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1000, help="ResNet-18 images (default: 1000)")
    parser.add_argument("--size", type=int, default=224, help="their side (default: 224)")
    parser.add_argument("--device", default="cuda", help="cuda (default), or another device to try the script without a GPU")
    args = parser.parse_args()
    global DEVICE, SIZE
    DEVICE, SIZE = args.device, args.size
    import torch

    if DEVICE.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device here (torch.cuda.is_available() is False)")
    name = torch.cuda.get_device_name(0) if DEVICE.startswith("cuda") else DEVICE
    print(f"gpu_check: {torch.cuda.device_count()} x {name}, torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}", flush=True)
    step(f"digits suite, cpu and {DEVICE}", digits_on_both)
    step(f"digits suite, -n auto on {DEVICE}", digits_xdist)
    step(f"ResNet-18 {SIZE}x{SIZE}, ci profile, {DEVICE}", lambda: resnet_ci(args.samples))
    step("determinism, torch set up for speed", lambda: _determinism(True, args.samples))
    step("determinism, torch set up to repeat", lambda: _determinism(False, args.samples))
    step("memory budgets in GPU memory", gpu_memory)
    print(f"\n{time.strftime('%Y-%m-%d')}, {torch.cuda.device_count()} x {name} ({DEVICE}), torch {torch.__version__}, {time.perf_counter() - START:.0f} s in all\n")
    print("| step | result | s |\n|---|---|---:|")
    for row_name, found, seconds in ROWS:
        print(f"| {row_name} | {found} | {seconds:.0f} |")


START = time.perf_counter()

if __name__ == "__main__":
    main()
