"""What isolating the pipeline costs, printed as ratios measured side by side in one run.

For each pipeline, the same inputs go through, interleaved and repeated (the best of ``--repeats``):

* ``in-process``: :func:`pytest_mlguard.inputs.graceful.outcome_of` in this process, as
  ``inputs.isolation = "none"`` runs it;
* ``isolated``: :class:`pytest_mlguard.inputs.isolation.IsolatedPipeline`, the warm worker process
  the inputs checks use (the input pickled over a Unix socket, the outcome back).

Both run torch on one thread (the worker sets one thread; this process is set to match), so the
ratio is the cost of isolation alone. Then, once each: starting the worker (an interpreter that
unpickles the pipeline), a fresh worker after a crash (a fork of the loaded zygote), and the
examples per second of whole inputs checks (Hypothesis generating, the isolated pipeline judging).

Pipelines: ``decode``, Pillow only (the overhead in the worst case: almost no work per input); the
digits service (Pillow, then the CNN); the wine service of the tabular example (a record, then
scikit-learn).

    python benchmarks/bench_isolation.py              # about a minute on 2 cores
    python benchmarks/bench_isolation.py --quick
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).parent))

import zoo  # noqa: E402

from pytest_mlguard.checks._evaluation import Evaluation  # noqa: E402
from pytest_mlguard.checks._registry import all_keys, family  # noqa: E402
from pytest_mlguard.config import resolve  # noqa: E402
from pytest_mlguard.inputs.files import CORRUPT_FILE_CASES, encode_image  # noqa: E402
from pytest_mlguard.inputs.graceful import outcome_of  # noqa: E402
from pytest_mlguard.inputs.isolation import IsolatedPipeline  # noqa: E402


class Unreadable(ValueError):
    pass


def decode(raw: bytes) -> list[float]:
    """Pillow only: the least work a pipeline can do on an image."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
    except Exception as exc:
        raise Unreadable(str(exc)) from exc
    return [0.1] * 10


def image_inputs(n: int) -> list[bytes]:
    data = zoo.digits()
    valid = [encode_image(data.x[i % data.n], (0.0, 1.0)) for i in range(n)]
    cases = list(CORRUPT_FILE_CASES.values())
    return [valid[i] if i % 4 else cases[(i // 4) % len(cases)](valid[i]) for i in range(n)]


def record_inputs(n: int) -> list[dict[str, Any]]:
    records = zoo.wine_pipeline().examples
    assert records is not None
    out = []
    for i in range(n):
        record = dict(records[i % len(records)])
        if i % 4 == 0:
            record.pop(next(iter(record)))
        out.append(record)
    return out


def best_of(repeats: int, work: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def compare(name: str, fn: Callable[[Any], Any], rejects: tuple[type[BaseException], ...], n_classes: int, inputs: list[Any], repeats: int) -> None:
    start = time.perf_counter()
    isolated = IsolatedPipeline(fn, rejects=rejects, n_classes=n_classes, timeout=30).start()
    startup = time.perf_counter() - start
    try:
        for raw in inputs[:20]:  # warm both: first calls load lazily
            isolated(raw)
            outcome_of(fn, raw, rejects=rejects, n_classes=n_classes)
        in_process = isolated_time = float("inf")
        for _ in range(repeats):  # interleaved
            in_process = min(in_process, best_of(1, lambda: [outcome_of(fn, raw, rejects=rejects, n_classes=n_classes) for raw in inputs]))
            isolated_time = min(isolated_time, best_of(1, lambda: [isolated(raw) for raw in inputs]))
        same = [outcome_of(fn, raw, rejects=rejects, n_classes=n_classes).kind for raw in inputs] == [isolated(raw).kind for raw in inputs]
        n = len(inputs)
        print(
            f"{name:<8} {n} inputs: in-process {n / in_process:8.0f}/s, isolated {n / isolated_time:8.0f}/s; "
            f"isolated / in-process = {isolated_time / in_process:.2f} "
            f"(+{(isolated_time - in_process) / n * 1000:.3f} ms per input); same outcomes: {same}; worker start {startup:.2f} s"
        )
    finally:
        isolated.close()


def restart_cost(repeats: int) -> None:
    def crashes(raw: bytes) -> list[float]:
        if raw == b"abort":
            os.abort()
        return [0.5, 0.5]

    with IsolatedPipeline(crashes, rejects=(), n_classes=2) as isolated:
        isolated(b"ok")
        start = time.perf_counter()
        for _ in range(repeats):
            isolated(b"abort")
            isolated(b"ok")
        per = (time.perf_counter() - start) / repeats
    print(f"a crash and a fresh worker (a fork of the loaded zygote) then one input: {per * 1000:.1f} ms")


def checks_per_second(budget: int) -> None:
    with tempfile.TemporaryDirectory() as out:
        cases = [
            ("digits", zoo.good_model(), zoo.digits(), zoo.good_pipeline(), ("corrupt-files", "odd-modes", "odd-resolutions", "dtypes")),
            ("wine", zoo.wine_model(), zoo.wine_data(), zoo.wine_pipeline(), ("missing-fields", "dtypes")),
        ]
        for name, model, data, pipeline, checks in cases:
            settings = resolve(cli={"output": out, "inputs.max_examples": str(budget), "inputs.max_side": "256"}, environ={}, keys=all_keys())
            evaluation = Evaluation(model, data, settings, pipeline=pipeline)
            inputs = family("inputs")
            evaluation.run(inputs, inputs.spec(checks[0], settings))  # starts the worker, shared by the checks
            for check in checks:
                start = time.perf_counter()
                result = evaluation.run(inputs, inputs.spec(check, settings))
                elapsed = time.perf_counter() - start
                print(
                    f"{name:<7} inputs[{check}]: {result.details['generated']} Hypothesis examples, {result.n} distinct inputs "
                    f"in {elapsed:.2f} s = {result.details['generated'] / elapsed:.0f} examples/s (passed: {result.passed})"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer inputs and repeats")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = 100 if args.quick else 400
    repeats = 2 if args.quick else args.repeats
    torch.set_num_threads(1)  # as the worker does: the ratio is the cost of isolation alone
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, torch threads 1, best of {repeats}, interleaved")
    service = zoo.good_pipeline()
    wine = zoo.wine_pipeline()
    compare("decode", decode, (Unreadable,), 10, image_inputs(n), repeats)
    compare("digits", service.fn, service.rejects, 10, image_inputs(n), repeats)
    compare("wine", wine.fn, wine.rejects, 3, record_inputs(n), repeats)
    restart_cost(5 if args.quick else 20)
    checks_per_second(50 if args.quick else 200)


if __name__ == "__main__":
    main()
