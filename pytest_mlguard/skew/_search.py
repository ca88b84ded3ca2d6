"""The search for a raw record whose two feature paths disagree: :func:`find_skew`.

The example records run first, as one batch through the offline path (as it built the training
table) and one by one through the online path; then Hypothesis draws raw records of the schema (and
the examples), one at a time through both paths, searching for one they disagree on, and shrinks it.
The search is seeded (``hypothesis.find(..., random=Random(seed))``) and keeps no example database,
so a seed searches the same records on every machine.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._messages import exception_text, without_addresses
from ..errors import InvalidArgument
from ._compare import Difference, differences, offline_table, online_row, plain
from ._paths import FeaturePaths

SkewCheck = Literal["features", "predictions"]


class _OutOfTime(BaseException):
    """The search's time is spent (a BaseException: Hypothesis stops at once)."""


@dataclass
class Outcome:
    """Both paths' features of one record, or why a path gave none, and (``predictions``) both classes."""

    offline: list[Any] | None = None
    online: list[Any] | None = None
    offline_error: str | None = None
    online_error: str | None = None
    differences: list[Difference] = field(default_factory=list)
    classes: tuple[int, int] | None = None

    def disagrees(self, check: SkewCheck) -> bool:
        if (self.offline_error is None) != (self.online_error is None):
            return True  # one path gives features (or a prediction), the other raises
        if check == "features":
            return bool(self.differences)
        return self.classes is not None and self.classes[0] != self.classes[1]


@dataclass
class SkewFinding:
    """What :func:`find_skew` found: how many records it tried, and the first disagreement, shrunk.

    Attributes:
        record: the shrunk raw record the paths disagree on (``None``: none found).
        outcome: both paths' features of it (columns in :attr:`columns`), their differences and classes.
        tried, disagreed: the distinct records run, and those the paths disagreed on.
    """

    check: SkewCheck
    name: str
    columns: tuple[str, ...]
    tried: int = 0
    disagreed: int = 0
    record: dict[str, Any] | None = None
    outcome: Outcome | None = None
    where: str = ""
    out_of_time: bool = False
    seed: int = 0

    @property
    def agreement(self) -> float:
        """The share of the records tried that the paths agree on."""
        return (self.tried - self.disagreed) / self.tried if self.tried else math.nan

    def to_dict(self) -> dict[str, Any]:
        outcome = self.outcome
        found: dict[str, Any] = {"check": self.check, "paths": self.name, "seed": self.seed, "tried": self.tried, "disagreed": self.disagreed}
        found.update(record=self.record, found_by=self.where or None, out_of_time=self.out_of_time)
        if outcome is not None:
            found["offline"] = None if outcome.offline is None else dict(zip(self.columns, map(plain, outcome.offline)))
            found["online"] = None if outcome.online is None else dict(zip(self.columns, map(plain, outcome.online)))
            found.update(offline_error=outcome.offline_error, online_error=outcome.online_error)
            found["differences"] = [d.to_dict() for d in outcome.differences]
            found["classes"] = None if outcome.classes is None else {"offline": outcome.classes[0], "online": outcome.classes[1]}
        return found

    def save(self, path: Path) -> Path:
        """Write :meth:`to_dict` as JSON (NaN and inf as Python's json writes them)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=repr) + "\n", encoding="utf-8")
        return path

    def message(self, saved: Path | None = None) -> str:
        """What a failure says: the record, and how the paths disagree on it."""
        if self.record is None or self.outcome is None:
            cut = " (the search ran out of time)" if self.out_of_time else ""
            return f"the offline and online paths of {self.name!r} agree on {self.tried} raw records{cut}"
        outcome = self.outcome
        what = "features" if self.check == "features" else "predictions"
        lines = [f"the offline and online paths of {self.name!r} give different {what} on {self.disagreed} of {self.tried} raw records; {self.where}:"]
        lines.append(f"  record: {json.dumps(self.record, default=repr, sort_keys=True)}")
        for side, error in (("offline", outcome.offline_error), ("online", outcome.online_error)):
            if error is not None:
                lines.append(f"  the {side} path raised {error}")
        if outcome.classes is not None and outcome.classes[0] != outcome.classes[1]:
            lines.append(f"  predicted class: offline {outcome.classes[0]}, online {outcome.classes[1]}")
        lines += [f"  {d.describe()}" for d in outcome.differences[:10]]
        if len(outcome.differences) > 10:
            lines.append(f"  ... and {len(outcome.differences) - 10} more columns")
        if saved is not None:
            lines.append(f"  saved as {saved}")
        return "\n".join(lines)


def _call(function: Callable[..., Any], argument: Any) -> tuple[Any, str | None]:
    try:
        return function(argument), None
    except Exception as exc:  # noqa: BLE001 - a path that raises is part of what is compared
        return None, exception_text(exc)[:300]


def model_classes(model: Any, columns: tuple[str, ...], rows: list[list[Any]]) -> list[int]:
    """The class ``model`` predicts for each row of features: numbers as a float array ``(N, d)``,
    other features as a pandas DataFrame with ``columns``."""
    numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for row in rows for v in row)
    if numeric:
        batch: Any = np.asarray(rows, dtype=np.float64)
    else:
        import pandas as pd

        batch = pd.DataFrame(rows, columns=list(columns))
    predict = getattr(model, "predict_proba", None)
    scores = np.asarray(predict(batch) if callable(predict) else model(batch), dtype=np.float64)
    return [int(i) for i in scores.reshape(len(rows), -1).argmax(axis=1)]


class _Runner:
    """Runs records through both paths, keeps what each distinct record gave."""

    def __init__(self, paths: FeaturePaths, check: SkewCheck, model: Any) -> None:
        self.paths, self.check, self.model = paths, check, model
        self.columns: tuple[str, ...] | None = tuple(paths.columns) if paths.columns is not None else None
        self.seen: dict[str, Outcome] = {}

    def batch(self, records: list[dict[str, Any]]) -> list[Outcome]:
        """Outcomes of ``records`` with one call of the offline path on all of them."""
        table, error = _call(self.paths.offline, [dict(r) for r in records])
        if error is not None:
            return [self._outcome(record, None, error) for record in records]
        try:
            columns, rows = offline_table(table, self.columns)
        except TypeError as exc:  # a mistake in the declaration, not a skew
            raise InvalidArgument(f"Expected the offline path to return a table of features for {len(records)} records but it {exc}") from None
        self.columns = self.columns or columns
        if len(rows) != len(records):
            error = f"ValueError: the offline path returned {len(rows)} rows for {len(records)} records"
            return [self._outcome(record, None, error) for record in records]
        return [self._outcome(record, row, None) for record, row in zip(records, rows)]

    def one(self, record: dict[str, Any]) -> Outcome:
        key = json.dumps(record, sort_keys=True, default=repr)
        if key not in self.seen:
            self.seen[key] = self.batch([record])[0]
        return self.seen[key]

    def _outcome(self, record: dict[str, Any], offline: list[Any] | None, offline_error: str | None) -> Outcome:
        vector, online_error = _call(self.paths.online, dict(record))
        columns = self.columns or ()
        online = None
        if online_error is None:
            try:
                online = online_row(vector, columns)
            except TypeError as exc:  # this record's online features are not features: a disagreement
                online_error = f"TypeError: the online path {exc}"
        outcome = Outcome(offline, online, offline_error, online_error)
        if offline is not None and online is not None:
            outcome.differences = differences(columns, offline, online, self.paths.column_tolerance, self.paths.relative)
            if self.check == "predictions" and self.model is not None:
                outcome.classes = self._classes(columns, offline, online, outcome)
        key = json.dumps(record, sort_keys=True, default=repr)
        self.seen.setdefault(key, outcome)
        return outcome

    def _classes(self, columns: tuple[str, ...], offline: list[Any], online: list[Any], outcome: Outcome) -> tuple[int, int] | None:
        try:
            first = model_classes(self.model, columns, [offline])[0]
        except Exception as exc:
            raise InvalidArgument(
                f"Expected a model that predicts from the offline path's features but it raised {exception_text(exc)}: "
                "pass FeaturePaths(model=...) where mlguard_model does not take the features"
            ) from exc
        try:
            return first, model_classes(self.model, columns, [online])[0]
        except Exception as exc:  # noqa: BLE001 - the online features the model cannot read: a disagreement
            outcome.online_error = f"{type(exc).__name__} from the model on the online features: {without_addresses(str(exc))}"[:300]
            return None


def _strategy(paths: FeaturePaths, examples: list[dict[str, Any]], mutations: Sequence[str]) -> Any:
    """Raw records of the schema (declared, or inferred from the examples), the examples, and (with
    ``mutations``) malformed records: a valid one with some of those mutations."""
    from hypothesis import strategies as st

    from ..inputs.records import infer_schema
    from ..strategies import malformed_records, records

    schema = paths.schema if paths.schema is not None else infer_schema(examples)
    choices = [records(schema), *([st.sampled_from(examples)] if examples else [])]
    if mutations:
        choices.append(malformed_records(schema, examples=examples or None, mutations=list(mutations)))
    return st.one_of(*choices)


def find_skew(
    paths: FeaturePaths,
    check: SkewCheck = "features",
    *,
    model: Any = None,
    max_examples: int = 200,
    seed: int = 0,
    seconds: float | None = None,
    mutations: Sequence[str] = (),
) -> SkewFinding:
    """Search for a raw record on which ``paths.offline`` and ``paths.online`` disagree.

    Args:
        paths: the two feature paths (a :class:`FeaturePaths`).
        check: ``"features"`` (some feature differs beyond its tolerance) or ``"predictions"`` (the
            model predicts another class from the online features); a path that raises on a record
            the other handles disagrees with it either way.
        model: the model of ``"predictions"`` (default ``paths.model``).
        max_examples: records Hypothesis draws (besides the examples and shrinking).
        seed: the search's seed: the same seed searches the same records.
        seconds: no new record runs after this long (``None``: no limit).
        mutations: also draw malformed records with these mutations of
            :func:`pytest_mlguard.strategies.malformed_records` (``"missing-field"``, ``"null"``, ``"nan"``,
            ...): the paths must then agree on them too (both reject a record, or give the same features).

    Returns:
        A :class:`SkewFinding`; ``finding.record`` is the shrunk record, or ``None``.

    Example:
        >>> paths = FeaturePaths(offline=lambda rs: [[r["x"] * 2.0] for r in rs], online=lambda r: [r["x"] + 1.0],
        ...                      schema={"x": (0.0, 10.0)}, columns=("x2",))
        >>> find_skew(paths, max_examples=50).record
        {'x': 0.0}
    """
    if check not in ("features", "predictions"):
        raise InvalidArgument.expected("'features' or 'predictions'", "check", check)
    model = model if model is not None else paths.model
    if check == "predictions" and model is None:
        raise InvalidArgument.expected("a model to predict from the features (model=, or FeaturePaths(model=...))", "model", model)
    runner = _Runner(paths, check, model)
    examples = [dict(e) for e in paths.examples or ()]
    first: tuple[dict[str, Any], Outcome, str] | None = None
    if examples:  # as the training table was built: the examples in one offline batch
        for index, (record, outcome) in enumerate(zip(examples, runner.batch(examples))):
            if first is None and outcome.disagrees(check):
                first = (record, outcome, f"example record {index}, in one offline batch with the other examples")
    finding = SkewFinding(check, paths.name, (), seed=seed)
    deadline = math.inf if seconds is None else time.monotonic() + seconds
    shrunk = _hypothesis_search(runner, _strategy(paths, examples, mutations), finding, max_examples, deadline)
    if shrunk is not None:
        first = (shrunk, runner.one(shrunk), f"found by Hypothesis (seed {seed}) and shrunk")
    finding.columns = runner.columns or ()
    finding.tried = len(runner.seen)
    finding.disagreed = sum(outcome.disagrees(check) for outcome in runner.seen.values())
    if first is not None:
        finding.record, finding.outcome, finding.where = first
    return finding


def _hypothesis_search(runner: _Runner, strategy: Any, finding: SkewFinding, max_examples: int, deadline: float) -> dict[str, Any] | None:
    """The shrunk record of ``strategy`` the paths disagree on, searched with ``finding.seed``; ``None``: none."""
    from hypothesis import HealthCheck, Phase, Verbosity, find, settings
    from hypothesis.errors import Flaky, NoSuchExample

    check = runner.check

    def disagrees(record: dict[str, Any]) -> bool:
        if json.dumps(record, sort_keys=True, default=repr) not in runner.seen and time.monotonic() > deadline:
            finding.out_of_time = True
            raise _OutOfTime
        return runner.one(record).disagrees(check)

    config = settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    try:
        return find(strategy, disagrees, settings=config, random=random.Random(finding.seed))
    except NoSuchExample:
        return None
    except (Flaky, _OutOfTime):  # the shrunk record agreed when run again, or no time left: the last disagreement
        return next((json.loads(k) for k, o in reversed(runner.seen.items()) if o.disagrees(check)), None)


def assert_no_skew(paths: FeaturePaths, check: SkewCheck = "features", *, save: str | Path | None = None, **search: Any) -> SkewFinding:
    """:func:`find_skew`, raising ``AssertionError`` with the shrunk record where the paths disagree.

    Args:
        paths, check: as :func:`find_skew`; ``search``: its other arguments.
        save: a JSON file to write the finding to where the paths disagree (named in the message).

    Example::

        def test_online_features_match_training(mlguard_features):
            assert_no_skew(mlguard_features, max_examples=500)
    """
    finding = find_skew(paths, check, **search)
    if finding.record is not None:
        saved = finding.save(Path(save)) if save is not None else None
        raise AssertionError(finding.message(saved))
    return finding
