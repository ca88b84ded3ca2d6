"""Windows of a timestamped production log: :class:`ProductionLog`, which ``mlguard_production`` may
return, and the most recent window of it that ``shift.window`` selects (docs/drift.md).

The window is the last ``shift.window`` of the log, up to its latest timestamp: ``(latest - window,
latest]``; the window before it, ``(latest - 2 window, latest - window]``, is the reference where
``shift.reference = "previous-window"``. A timestamp is a ``datetime``, a numpy ``datetime64``, an ISO
8601 string or POSIX seconds (a number); a naive datetime or string is read as UTC.

Example (a window needs at least 10 inputs):
    >>> times = ["2026-12-01T10:00", "2026-12-01T12:00"] + [f"2026-12-02T{hour:02d}:00" for hour in range(10, 20)]
    >>> log = ProductionLog(np.zeros((12, 2)), times)
    >>> window = select_window(log, parse_window("1d", "shift.window", "test"), "evaluation")
    >>> len(window.current), window.describe()
    (10, '1d of the log, 2026-12-01T19:00:00Z to 2026-12-02T19:00:00Z: 10 of its 12 inputs')
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ContractError
from . import UNITS as _UNITS, parse_window as parse_window
from .sample import FIXTURE, MIN_SAMPLES



@dataclass(frozen=True)
class ProductionLog:
    """Logged production inputs with the time each was logged, as ``mlguard_production`` may return
    them; ``shift.window`` then compares the most recent window of the log (docs/drift.md).

    Args:
        inputs: what ``mlguard_production`` may return otherwise: an array of model inputs, a table's
            columns by name, or a list of image files or their bytes.
        timestamps: one per input: ``datetime`` s, numpy ``datetime64``, ISO 8601 strings or POSIX
            seconds; naive datetimes and strings are read as UTC.

    Example::

        @pytest.fixture(scope="session")
        def mlguard_production():
            logged = np.load("logs/last-week.npz")
            return ProductionLog(logged["x"], logged["timestamps"])
    """

    inputs: Any
    timestamps: Any


def _error(message: str) -> ContractError:
    return ContractError(message, fixture=FIXTURE)


def log_length(inputs: Any) -> int:
    if hasattr(inputs, "columns") and hasattr(inputs, "to_numpy"):
        return len(inputs)
    if isinstance(inputs, Mapping):
        return len(next(iter(inputs.values()), ()))
    try:
        return len(inputs)
    except TypeError:
        raise _error(f"Expected inputs with a length in ProductionLog(inputs, timestamps) but got {type(inputs).__name__}") from None


def _seconds(stamp: Any) -> float:
    """POSIX seconds of one timestamp (``ValueError`` where it is none)."""
    if isinstance(stamp, (bool, np.bool_)):
        raise ValueError("a bool is no timestamp")
    if isinstance(stamp, np.datetime64):
        if np.isnat(stamp):
            raise ValueError("not a time (NaT)")
        return float(stamp.astype("datetime64[us]").astype(np.int64)) / 1e6
    if isinstance(stamp, str):
        stamp = dt.datetime.fromisoformat(stamp.strip())
    if isinstance(stamp, dt.datetime):
        return (stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.timezone.utc)).timestamp()
    if isinstance(stamp, (int, float, np.integer, np.floating)) and math.isfinite(float(stamp)):
        return float(stamp)
    raise ValueError("expected a datetime, a datetime64, an ISO 8601 string or POSIX seconds")


def timestamps_seconds(timestamps: Any, n: int) -> np.ndarray:
    """POSIX seconds of ``timestamps``, one for each of ``n`` inputs.

    Raises:
        ContractError: ``timestamps`` is not a sequence of ``n`` timestamps, or one of them is no time.
    """
    if hasattr(timestamps, "to_numpy"):  # a pandas Series or index
        timestamps = timestamps.to_numpy()
    if isinstance(timestamps, (str, bytes)) or not isinstance(timestamps, (Sequence, np.ndarray)):
        raise _error(f"Expected a sequence of {n} timestamps, one per input, but got {type(timestamps).__name__} {timestamps!r:.60}")
    if len(timestamps) != n:
        raise _error(f"Expected one timestamp per input, {n}, but got {len(timestamps)} timestamps")
    seconds = np.empty(n)
    for index, stamp in enumerate(timestamps):
        try:
            seconds[index] = _seconds(stamp)
        except (ValueError, TypeError, OverflowError) as exc:
            raise _error(f"Expected timestamps (a datetime, a datetime64, an ISO 8601 string or POSIX seconds) but timestamp {index} is {stamp!r:.60}: {exc}") from None
    return seconds


def _taken(inputs: Any, index: np.ndarray) -> Any:
    """The inputs at ``index``, in the form they came in (a table as a dict of columns)."""
    if hasattr(inputs, "detach"):
        inputs = inputs.detach().cpu().numpy()
    if hasattr(inputs, "columns") and hasattr(inputs, "to_numpy"):
        return {name: np.asarray(inputs[name])[index] for name in inputs.columns}
    if isinstance(inputs, Mapping):
        return {name: np.asarray(column)[index] for name, column in inputs.items()}
    if isinstance(inputs, np.ndarray):
        return inputs[index]
    return [inputs[int(i)] for i in index]


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration_text(seconds: float) -> str:
    """``86400.0`` as ``1d``: the largest unit that divides it."""
    for unit, size in _UNITS.items():
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Window:
    """The inputs of the log's most recent window (``current``), of the window before it where it is the
    reference (``previous``), and where they lie in the log."""

    current: Any
    previous: Any
    length: float
    end: float
    logged: int
    counts: tuple[int, int | None]

    def describe(self) -> str:
        start = self.end - self.length
        return f"{duration_text(self.length)} of the log, {_iso(start)} to {_iso(self.end)}: {self.counts[0]} of its {self.logged} inputs"

    def details(self) -> dict[str, Any]:
        """JSON-safe, for the checks' details."""
        found: dict[str, Any] = {"window": duration_text(self.length), "start": _iso(self.end - self.length), "end": _iso(self.end), "n": self.counts[0], "logged": self.logged}
        if self.counts[1] is not None:
            found["reference"] = {"start": _iso(self.end - 2 * self.length), "end": _iso(self.end - self.length), "n": self.counts[1]}
        return found


def select_window(log: ProductionLog, length: float, reference: str) -> Window:
    """The most recent ``length`` seconds of ``log`` (and the window before it where ``reference`` is
    ``previous-window``).

    Raises:
        ContractError: a bad timestamp, or a window with fewer than :data:`~.sample.MIN_SAMPLES` inputs.
    """
    n = log_length(log.inputs)
    if n == 0:
        raise _error("Expected logged inputs in ProductionLog(inputs, timestamps) but got an empty log")
    seconds = timestamps_seconds(log.timestamps, n)
    end = float(seconds.max())
    current = np.flatnonzero(seconds > end - length)
    previous = np.flatnonzero((seconds > end - 2 * length) & (seconds <= end - length)) if reference == "previous-window" else None
    window = Window(_taken(log.inputs, current), None if previous is None else _taken(log.inputs, previous), length, end, n,
                    (len(current), None if previous is None else len(previous)))
    if len(current) < MIN_SAMPLES:
        raise _error(f"Expected at least {MIN_SAMPLES} inputs in the window shift.window selects, but the last {window.describe()}")
    if previous is not None and len(previous) < MIN_SAMPLES:
        raise _error(
            f"Expected at least {MIN_SAMPLES} inputs in the window before the last (shift.reference = 'previous-window'), but "
            f"{_iso(end - 2 * length)} to {_iso(end - length)} holds {len(previous)} of the log's {n} inputs"
        )
    return window
