"""What the tabular suite costs beyond the model's own inference, printed as ratios measured side by side.

The suite is the tabular example's (``examples/tabular/records``, the settings of its pyproject.toml:
every column missing in turn, the seven perturbations at severities 1, 3 and 5, covariate shift at 3),
run through ``Evaluation.run`` as the pytest items run it, on a fresh evaluation each time (the clean
predictions included). Two numbers stand for the inference it needs:

* *inside*: the seconds spent inside the estimator's ``predict_proba`` during the suite (the model
  wrapped in a timer), on the tables the checks built;
* *plain*: as many ``predict_proba`` calls on the clean DataFrame, timed alone.

A ratio suite / inference of 1.0 is a suite with no overhead; the target is within 3x. Two models: the
example's (a ColumnTransformer and a random forest of 100 trees, the costly case for inference) and the
same ColumnTransformer before a logistic regression (inference of a few milliseconds: the overhead shows
most). The variants take turns, ``--repeats`` times; the medians are printed.

    OMP_NUM_THREADS=1 python benchmarks/bench_tabular.py   # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "tabular"))
sys.path.insert(0, str(ROOT))  # this checkout's package, not the one a shared venv has installed (editable) from another

from wine_model import CLASS_NAMES, FEATURES, load_wine_table, train_record_model  # noqa: E402

from pytest_mlguard import RecordModel, TableData  # noqa: E402
from pytest_mlguard.checks._evaluation import Evaluation  # noqa: E402
from pytest_mlguard.checks._registry import all_keys  # noqa: E402
from pytest_mlguard.config import resolve  # noqa: E402
from pytest_mlguard.contract import check_declaration  # noqa: E402
from pytest_mlguard.tabular import FAMILY  # noqa: E402

#: the tabular settings of examples/tabular/pyproject.toml
EXAMPLE = {"tabular.checks": "missing,perturbation,shift", "tabular.severities": "1,3,5", "tabular.shift_severities": "3", "seed": "0"}


class Timed:
    """An estimator whose ``predict_proba`` adds up the seconds spent in it."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.classes_ = estimator.classes_
        self.seconds = 0.0
        self.calls = 0
        self.rows = 0

    def predict_proba(self, frame: Any) -> Any:
        start = time.perf_counter()
        out = self.estimator.predict_proba(frame)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        self.rows += len(frame)
        return out


def linear_model() -> Any:
    """The example's ColumnTransformer before a logistic regression (standardised measurements)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, y = load_wine_table("train")
    columns = ColumnTransformer(
        [
            ("measurements", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(FEATURES)),
            ("colour", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), ["colour"]),
        ]
    )
    return make_pipeline(columns, LogisticRegression(C=0.5, max_iter=2000)).fit(frame, y)


def run_suite(estimator: Any, frame: Any, y: Any) -> tuple[float, Timed, int]:
    """Seconds of the whole suite on a fresh evaluation, the timed estimator, the number of checks."""
    settings = resolve(keys=all_keys(), cli=EXAMPLE)
    plan = FAMILY.plan(settings)
    timed = Timed(estimator)
    start = time.perf_counter()
    model, data = check_declaration(RecordModel(timed, class_names=CLASS_NAMES, name="wine-records"), TableData(frame, y, name="wine-test"))
    evaluation = Evaluation(model, data, settings)
    for spec in plan:
        evaluation.run(FAMILY, spec)
    return time.perf_counter() - start, timed, len(plan)


def plain(estimator: Any, frame: Any, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        estimator.predict_proba(frame)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    frame, y = load_wine_table("test")
    models = {"random forest (the example's)": train_record_model(), "logistic regression": linear_model()}
    measured: dict[str, dict[str, list[float]]] = {name: {"suite": [], "inside": [], "plain": []} for name in models}
    counts: dict[str, tuple[int, int, int]] = {}
    run_suite(models["logistic regression"], frame, y)  # warm up: imports, first calls
    for _ in range(args.repeats):
        for name, estimator in models.items():  # in turns, so that load from elsewhere falls on both alike
            seconds, timed, checks = run_suite(estimator, frame, y)
            measured[name]["suite"].append(seconds)
            measured[name]["inside"].append(timed.seconds)
            measured[name]["plain"].append(plain(estimator, frame, timed.calls))
            counts[name] = (checks, timed.calls, timed.rows)
    print(f"tabular suite of examples/tabular/records ({len(frame)} rows, {frame.shape[1]} columns), median of {args.repeats}")
    print(f"{'model':32} {'checks':>6} {'calls':>6} {'rows':>7} {'suite s':>8} {'inside s':>9} {'plain s':>8} {'suite/inside':>13} {'suite/plain':>12}")
    for name, series in measured.items():
        suite, inside, alone = (statistics.median(series[key]) for key in ("suite", "inside", "plain"))
        checks, calls, rows = counts[name]
        print(f"{name:32} {checks:6d} {calls:6d} {rows:7d} {suite:8.3f} {inside:9.3f} {alone:8.3f} {suite / inside:13.2f} {suite / alone:12.2f}")
    print("target: suite / inference within 3x")


if __name__ == "__main__":
    main()
