"""Run inputs through a pipeline, search for a failing one with Hypothesis, shrink it, save it.

:class:`Fuzzer` holds what one check learns: the verdict on every distinct input, the failing
ones, and how to save them. :meth:`Fuzzer.search` runs ``hypothesis.find`` over a strategy of
:class:`~.generate.Case` s for an input the pipeline does not handle gracefully; Hypothesis shrinks
it, and its example database (under the output directory) replays it first on the next run.
Verdicts are cached by content, so an input Hypothesis draws twice runs once, and after the
check's time budget no new input runs (the search ends with what it has).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotApplicable
from . import safe_name
from ._generate import Case
from .graceful import Outcome, outcome_of

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from ..checks._base import CheckSpec
    from ..checks._evaluation import Evaluation
    from ..contract._pipeline import Pipeline

Runner = Callable[[Any], Outcome]
MAX_LISTED = 500
_LABELS = {"shrunk": "shrunk by Hypothesis", "replayed": "replayed from Hypothesis' example database"}


class InProcessPipeline:
    """The pipeline called in the test process (``inputs.isolation = "none"``): a crash or a hang
    of the pipeline is a crash or a hang of pytest."""

    restarts = 0

    def __init__(self, pipeline: Pipeline, n_classes: int, class_names: tuple[str, ...], task: str = "classification") -> None:
        self.pipeline = pipeline
        self.n_classes = n_classes
        self.class_names = class_names
        self.task = task
        self.calls = 0

    def __call__(self, raw: Any) -> Outcome:
        self.calls += 1
        return outcome_of(self.pipeline.fn, raw, rejects=self.pipeline.rejects, n_classes=self.n_classes, class_names=self.class_names, task=self.task)


def pipeline_runner(evaluation: Evaluation) -> tuple[Runner, str]:
    """The evaluation's pipeline runner, shared by its checks, and how it is isolated."""
    from .isolation import IsolatedPipeline, isolation_available

    pipeline, model, settings = evaluation.pipeline, evaluation.model, evaluation.settings
    assert pipeline is not None
    isolation = settings.get("inputs.isolation")
    timeout = settings.get("inputs.timeout")
    memory = settings.get("inputs.memory_mb") or None
    if isolation == "process" and isolation_available():
        runner = evaluation.memo(
            ("inputs.isolated", id(pipeline), timeout, memory),
            lambda: IsolatedPipeline(
                pipeline.fn,
                rejects=pipeline.rejects,
                n_classes=model.n_classes,
                class_names=model.class_names,
                timeout=timeout,
                memory_mb=memory,
                task=getattr(model, "task", "classification"),
            ).start(),
        )
        cap = f", memory cap {memory} MiB" if memory else ""
        return runner, f"process (timeout {timeout:g} s{cap})"
    runner = evaluation.memo(("inputs.in-process", id(pipeline)), lambda: InProcessPipeline(pipeline, model.n_classes, model.class_names, getattr(model, "task", "classification")))
    how = "none (inputs.isolation = none)" if isolation == "none" else "none (this platform has no os.fork)"
    return runner, how


# -- saving and loading inputs ----------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("latin-1")
    return repr(value)


def save_input(raw: Any, directory: Path, stem: str, suffix: str = ".bin") -> Path:
    """Write an input as the file it is: bytes as such (with ``suffix``), a record as JSON (NaN and
    inf as ``NaN``/``Infinity``, as Python's json reads them), an array as ``.npy``."""
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(raw, np.ndarray):
        path = directory / f"{stem}.npy"
        np.save(path, raw, allow_pickle=False)
    elif isinstance(raw, (bytes, bytearray)):
        path = directory / f"{stem}{suffix if suffix not in ('.json', '.npy') else '.bin'}"
        path.write_bytes(bytes(raw))
    else:
        path = directory / f"{stem}.json"
        path.write_text(json.dumps(raw, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return path


def load_input(path: Path, kind: str) -> Any:
    """An input saved by :func:`save_input`, as the pipeline of ``kind`` receives it."""
    if kind == "record":
        return json.loads(path.read_text(encoding="utf-8"))
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if kind == "image-path":
        return str(path)
    return path.read_bytes()


def _key(raw: Any) -> str:
    try:
        data = pickle.dumps(raw, protocol=4)
    except Exception:  # noqa: BLE001 - an unpicklable input is keyed by its repr
        data = repr(raw).encode()
    return hashlib.sha1(data).hexdigest()


class _OutOfTime(BaseException):
    """The check's time budget is spent."""


@dataclass
class Failure:
    name: str
    case: Case
    outcome: Outcome
    saved: Path | None = None


class Fuzzer:
    """The inputs one check runs, their verdicts, and the failing ones.

    Args:
        runner: outcome of one input (isolated or in-process).
        kind: the pipeline's input kind (``image-bytes``, ``image-path``, ``record``).
        time_budget: seconds after which no new input runs.
    """

    def __init__(self, runner: Runner, kind: str, time_budget: float) -> None:
        self.runner = runner
        self.kind = kind
        self.deadline = time.monotonic() + time_budget
        self.verdicts: list[dict[str, Any]] = []
        self.failures: list[Failure] = []
        self.out_of_time = False
        self._cache: dict[str, Outcome] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="mlguard-inputs-")
        self.generated = 0

    def close(self) -> None:
        self._tmp.cleanup()

    def _argument(self, case: Case, key: str) -> Any:
        if self.kind == "image-path" and isinstance(case.raw, (bytes, bytearray)):
            path = Path(self._tmp.name) / f"{key[:16]}{case.suffix}"
            path.write_bytes(bytes(case.raw))
            return str(path)
        return case.raw

    def run(self, case: Case, name: str, *, must_predict: bool = False, record: bool = True, repeats: bool = False) -> Outcome:
        """The outcome of ``case`` (cached by content); a rejection of a ``must_predict`` input fails.

        ``record``: list the verdict; ``repeats``: list it again for an input seen before (a
        corpus lists every file, Hypothesis' repeated draws are listed once).
        """
        key = _key(case.raw)
        outcome = self._cache.get(key)
        fresh = outcome is None
        if outcome is None:
            outcome = self.runner(self._argument(case, key))
            self._cache[key] = outcome
        if record and (fresh or repeats):
            self.verdicts.append({"input": name, "what": case.description, "outcome": outcome.kind, "detail": outcome.detail[:300]})
        if must_predict and outcome.kind == "rejection":
            outcome = Outcome("failure", f"rejected a valid input: {outcome.detail}")
            self._cache[key] = outcome  # counted as a failure: a valid input must get a prediction
            if record and self.verdicts and self.verdicts[-1]["input"] == name:
                self.verdicts[-1].update(outcome="failure", detail=outcome.detail[:300])
        return outcome

    def seed(self, cases: list[tuple[str, Case, bool]]) -> None:
        """Run fixed cases (``(name, case, must_predict)``) before any search."""
        failed = {_key(f.case.raw) for f in self.failures}
        for name, case, must_predict in cases:
            outcome = self.run(case, name, must_predict=must_predict)
            key = _key(case.raw)
            if not outcome.graceful and key not in failed:  # the same bytes from two examples: listed once
                failed.add(key)
                self.failures.append(Failure(name, case, outcome))

    def replay(self, database: Path | None, key: str) -> None:
        """Run the failing inputs that earlier runs saved in Hypothesis' example database, first.

        Inputs that no longer fail are deleted from it, as Hypothesis deletes examples that no
        longer fail.
        """
        if database is None:
            return
        db = _database(database)
        for index, value in enumerate(sorted(db.fetch(_db_key(key)))):
            case = _decode_case(value)
            if case is None:
                db.delete(_db_key(key), value)
                continue
            outcome = self.run(case, f"database-{index}")
            if outcome.graceful:
                db.delete(_db_key(key), value)
            elif all(_key(f.case.raw) != _key(case.raw) for f in self.failures):
                self.failures.append(Failure("replayed", case, outcome))

    def search(self, strategy: SearchStrategy[Case], *, budget: int, seed: int, database: Path | None, key: str) -> None:
        """Search ``strategy`` with Hypothesis for an input that fails; keep the shrunk one, and save
        it in Hypothesis' example database for the next run.

        The search is seeded (``hypothesis.find(..., random=Random(seed))``): the same seed searches
        the same inputs. Hypothesis does not let a seeded search write its own entries to the
        database, so the shrunk input itself is saved there (under ``key``, through the database's
        public ``save``/``fetch``), and :meth:`replay` runs it first next time.
        """
        from hypothesis import HealthCheck, Phase, Verbosity, find, settings
        from hypothesis.errors import Flaky, NoSuchExample

        failing: dict[str, tuple[Case, Outcome]] = {}

        def fails(case: Case) -> bool:
            digest = _key(case.raw)
            if digest in failing:
                return True
            if digest not in self._cache and time.monotonic() > self.deadline:
                self.out_of_time = True
                raise _OutOfTime  # a BaseException: Hypothesis stops at once instead of shrinking it
            self.generated += 1
            outcome = self.run(case, f"hypothesis-{self.generated}", record=len(self.verdicts) < MAX_LISTED)
            if outcome.graceful:
                return False
            failing[digest] = (case, outcome)
            return True

        config = settings(
            max_examples=budget,
            database=None,
            deadline=None,
            derandomize=False,
            phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
        )
        shrunk: Case | None
        try:
            shrunk = find(strategy, fails, settings=config, random=random.Random(seed))
        except NoSuchExample:
            shrunk = None
        except (Flaky, _OutOfTime):  # the shrunk input did not fail again, or no time left: the last failing one
            shrunk = list(failing.values())[-1][0] if failing else None
        if shrunk is None:
            return
        case, outcome = failing[_key(shrunk.raw)]
        if database is not None:
            _database(database).save(_db_key(key), _encode_case(case))
        # the shrunk input is the headline: it replaces a seed case that was the very same input
        self.failures = [f for f in self.failures if _key(f.case.raw) != _key(case.raw) or f.name == "replayed"]
        if all(_key(f.case.raw) != _key(case.raw) for f in self.failures):
            self.failures.append(Failure("shrunk", case, outcome))

    def save(self, directory: Path) -> None:
        """Write each failing input (and the pixels it was made from) and the verdicts."""
        for failure in self.failures:
            stem = safe_name(failure.name)
            failure.saved = save_input(failure.case.raw, directory, stem, failure.case.suffix)
            if failure.case.pixels is not None and failure.saved.suffix != ".npy":
                np.save(directory / f"{stem}.pixels.npy", failure.case.pixels, allow_pickle=False)
        (directory / "verdicts.json").write_text(json.dumps(self.verdicts, indent=1, default=_json_default) + "\n")

    def measurement_parts(self, extra: dict[str, Any]) -> tuple[float, int, dict[str, Any], str]:
        """(graceful fraction, n, details, message) for the check's :class:`Measurement`."""
        n = len(self._cache)
        failed = sum(not o.graceful for o in self._cache.values())
        counts: dict[str, int] = {}
        for outcome in self._cache.values():
            counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
        details: dict[str, Any] = {
            **extra,
            "counts": counts,
            "generated": self.generated,
            "out_of_time": self.out_of_time,
            "failures": [
                {"input": f.name, "what": f.case.description, "detail": f.outcome.detail, "saved": str(f.saved) if f.saved else None}
                for f in self.failures
            ],
            "inputs": self.verdicts,
        }
        message = ""
        if self.failures:
            lines = [f"inputs the pipeline did not handle gracefully ({failed} of {n}):"]
            for failure in self.failures[:10]:
                label = _LABELS.get(failure.name, failure.name)
                what = failure.case.description
                lines.append(f"  {label}: {what}" if what != label else f"  {label}")
                lines.append(f"    {failure.outcome.detail}")
                if failure.saved is not None:
                    lines.append(f"    saved as {failure.saved}")
            if len(self.failures) > 10:
                lines.append(f"  ... and {len(self.failures) - 10} more in the report")
            message = "\n".join(lines)
            target = next((f for f in self.failures if f.name in ("shrunk", "replayed")), self.failures[0])
            if target.saved is not None:
                details["replay"] = ["--mlguard-set", f"inputs.replay={target.saved}"]
        value = (n - failed) / n if n else math.nan
        return value, n, details, message


def database_dir(evaluation: Evaluation) -> Path:
    """Hypothesis' example database of the inputs checks: ``<output>/hypothesis``."""
    return evaluation.settings.output / "hypothesis"


def database_key(evaluation: Evaluation, spec: CheckSpec) -> str:
    pipeline = evaluation.pipeline
    return f"pytest-mlguard/{evaluation.model_id}/{spec.id}/{pipeline.name if pipeline else ''}"


# -- the example database: failing inputs of earlier runs -------------------------------------------
def _database(path: Path) -> Any:
    from hypothesis.database import DirectoryBasedExampleDatabase

    return DirectoryBasedExampleDatabase(str(path))


def _db_key(key: str) -> bytes:
    # a key of its own: Hypothesis never reads these entries as choice sequences
    return f"{key}/failing-inputs".encode()


def _encode_case(case: Case) -> bytes:
    """A failing input as a database value: JSON with the raw input as base64 bytes, JSON or .npy."""
    import base64

    raw = case.raw
    if isinstance(raw, np.ndarray):
        buffer = io.BytesIO()
        np.save(buffer, raw, allow_pickle=False)
        kind, data = "array", base64.b64encode(buffer.getvalue()).decode()
    elif isinstance(raw, (bytes, bytearray)):
        kind, data = "bytes", base64.b64encode(bytes(raw)).decode()
    else:
        kind, data = "json", json.dumps(raw, default=_json_default)
    return json.dumps({"kind": kind, "data": data, "what": case.description, "suffix": case.suffix}).encode()


def _decode_case(value: bytes) -> Case | None:
    import base64

    try:
        entry = json.loads(value)
        if entry["kind"] == "array":
            raw: Any = np.load(io.BytesIO(base64.b64decode(entry["data"])), allow_pickle=False)
        elif entry["kind"] == "bytes":
            raw = base64.b64decode(entry["data"])
        else:
            raw = json.loads(entry["data"])
        return Case(raw, entry["what"], entry["suffix"])
    except (ValueError, KeyError, TypeError):
        return None


def artifact_folder(evaluation: Evaluation, spec: CheckSpec) -> Path:
    """The check's artefact directory, one folder per pipeline (a fixture may be parametrised over several)."""
    name = (evaluation.pipeline.name if evaluation.pipeline is not None else None) or "pipeline"
    directory = evaluation.artifact_dir(spec) / safe_name(name)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def pipeline_of(evaluation: Evaluation) -> Any:
    """The evaluation's production pipeline (``NotApplicable`` without one)."""
    if evaluation.pipeline is None:
        raise NotApplicable("no production pipeline: define an mlguard_pipeline fixture to fuzz it")
    return evaluation.pipeline


def time_limit(evaluation: Evaluation) -> float:
    """Seconds a check may take: ``inputs.time_budget``, or less under ``--mlguard-budget``."""
    seconds = evaluation.settings.get("inputs.time_budget")
    if getattr(evaluation.limits, "seconds", None) is not None:  # a share of --mlguard-budget
        seconds = min(seconds, evaluation.limits.seconds)
    return float(seconds)
