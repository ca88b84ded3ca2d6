"""Progress of long checks in the terminal, through pytest's terminal reporter, without breaking
pytest's own output.

On a terminal, a check that has run for ``progress.after`` seconds shows a status after pytest's
dots (or after its node id with ``-v``), rewritten in place each second and erased when the check is
done, so the dot line stays whole:

    conftest.py .......  mlguard [8/35] attack[pgd-linf-8/255] on cifar: 2048/5000 samples, 40 s

When the output is not a terminal (a CI log), nothing can be rewritten: a check prints a line only
once it has run ``progress.every`` seconds, another every ``progress.every`` seconds, and one when it
is done, so only checks that long break the dot line:

    mlguard [8/35] attack[pgd-linf-8/255] on cifar: 2048/5000 samples, 30 s
    mlguard [8/35] attack[pgd-linf-8/255] on cifar: done in 95 s

``-q`` shows nothing, and neither do pytest-xdist workers (the controller shows each finished item).
The output comes from a timer thread that runs only while a check measures (inside the test's call,
with output capture suspended as pytest's live logging does); "how far" in samples appears when a
check says it with ``Evaluation.report_progress(done, total)``.

This module is cheap to import: it holds the ``progress.*`` settings keys.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ..config.parse import parse_number, parse_optional
from ..config._settings import Key


PROGRESS_KEYS: tuple[Key, ...] = (
    Key(
        "progress.after",
        parse_optional(parse_number(0.0, 86400.0)),
        10.0,
        "seconds a check runs before a terminal shows its progress (rewritten in place each second); none shows none",
    ),
    Key(
        "progress.every",
        parse_number(0.1, 86400.0),
        30.0,
        "when the output is not a terminal (a CI log): seconds a check runs before each progress line it prints",
    ),
)

#: seconds between two rewrites of the status on a terminal
REFRESH = 1.0


def check_label(nodeid: str) -> str:
    """``examples/digits/conftest.py::mlguard::attack[pgd-linf-0.1]`` -> ``attack[pgd-linf-0.1]``;
    a custom test's name otherwise.

    Example:
        >>> check_label("tests/test_robust.py::test_noise")
        'test_noise'
    """
    from .._names import SUITE_NODE

    _, sep, rest = nodeid.partition(SUITE_NODE)
    return rest if sep else nodeid.rpartition("::")[2]


class Display(Protocol):
    """Where progress goes: a status rewritten in place (``live``, a terminal) or lines (a log)."""

    @property
    def live(self) -> bool: ...

    def status(self, text: str) -> None:
        """Replace the status shown at the end of the current line by ``text`` (``""`` erases it)."""

    def line(self, text: str) -> None:
        """Write ``text`` as a line of its own."""


class Progress:
    """Shows the progress of long checks on ``display``.

    Args:
        display: a terminal or log; ``None`` shows nothing (``-q``, xdist workers).
        after: seconds a check runs before a live display shows its status; ``None`` shows nothing.
        every: seconds between two lines on a display that is not live (the first after as long).
        clock: the time source.
        refresh: seconds between two rewrites of a live status.

    Example:
        >>> class Log:
        ...     live, lines = False, []
        ...     def line(self, text): self.lines.append(text)
        >>> progress = Progress(Log(), after=0.0, every=0.05)
        >>> progress.position(2, 5)
        >>> with progress.running("digits", "attack[pgd-linf-0.1]"):
        ...     progress.update("digits", 180, 360)
        ...     time.sleep(0.2)
        >>> Log.lines[0].startswith("mlguard [2/5] attack[pgd-linf-0.1] on digits:"), Log.lines[-1].split(":")[1].split()[0]
        (True, 'done')
    """

    def __init__(
        self,
        display: Display | None,
        *,
        after: float | None = 10.0,
        every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        refresh: float = REFRESH,
    ) -> None:
        self.display = display
        self.after = after
        self.every = every
        self.clock = clock
        self.refresh = refresh
        self._position = ""
        self._lock = threading.Lock()
        self._done: dict[str, Any] = {}
        self._label: str | None = None
        self._depth = 0  # a check that runs other checks (the gate) is reported as itself

    def position(self, index: int | None, total: int | None) -> None:
        """The test item now starting is the ``index``-th of ``total`` (``None``: not a suite item)."""
        self._position = f" [{index}/{total}]" if index is not None and total else ""

    def update(self, model: str, done: int, total: int | None = None, unit: str = "samples") -> None:
        """The running check has got ``done`` of ``total`` ``unit`` of the way (shown on its next line)."""
        with self._lock:
            self._done = {"done": done, "total": total, "unit": unit}

    def _line(self, elapsed: float) -> str:
        amount = ""
        if self._done:
            total = self._done["total"]
            amount = f"{self._done['done']}/{total} " if total else f"{self._done['done']} "
            amount += f"{self._done['unit']}, "
        return f"mlguard{self._position} {self._label}: {amount}{elapsed:.0f} s"

    @contextlib.contextmanager
    def running(self, model: str, check: str) -> Iterator[None]:
        """While ``check`` measures ``model``: a timer thread shows its progress when it is due."""
        display = self.display
        if display is None or self.after is None or self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        live = display.live
        first, then = (self.after, self.refresh) if live else (self.every, self.every)
        stop = threading.Event()
        started = self.clock()
        shown = threading.Event()
        with self._lock:
            self._label, self._done = f"{check} on {model}", {}

        def tick() -> None:
            wait = first
            while not stop.wait(max(0.0, wait)):
                with self._lock:
                    if stop.is_set():
                        return
                    text = self._line(self.clock() - started)
                    if live:
                        display.status(text)
                    else:
                        display.line(text)
                    shown.set()
                wait = then

        timer = threading.Thread(target=tick, name="mlguard-progress", daemon=True)
        timer.start()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            with self._lock:  # nothing is written after this: the check's output capture is still pytest's
                stop.set()
                if shown.is_set():
                    if live:
                        display.status("")
                    else:
                        display.line(f"mlguard{self._position} {self._label}: done in {self.clock() - started:.0f} s")
                self._label = None
            timer.join()


class TerminalDisplay:
    """pytest's terminal reporter as a :class:`Display`, with output capture suspended while it
    writes, as pytest's own live logging does (and nothing without a terminal reporter).

    A live status is written after what the current line holds (pytest's dots, or a node id with
    ``-v``), cut to the terminal's width, and erased with backspaces; it goes through the reporter's
    ``write_raw``, so that pytest's count of the line's width, which places its ``[ 50%]``, is
    unchanged. The reporter is looked up when something is written: plugins configure in no set
    order, so it may not be registered yet when the session is made.
    """

    def __init__(self, config: Any) -> None:
        self.config = config
        self._shown = 0  # characters of the status now on the screen

    def _reporter(self) -> Any:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    @property
    def live(self) -> bool:
        reporter = self._reporter()
        return reporter is not None and bool(reporter.isatty())

    @contextlib.contextmanager
    def _uncaptured(self) -> Iterator[Any]:
        reporter = self._reporter()
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            yield reporter

    def status(self, text: str) -> None:
        with self._uncaptured() as reporter:
            if reporter is None:
                return
            writer = self.config.get_terminal_writer()
            used = writer.width_of_current_line
            room = writer.fullwidth - used - 3 if used >= 0 else 0
            shown = "  " + text.encode("ascii", "replace").decode()[:room] if text and room >= 20 else ""
            erase = "\b" * self._shown + " " * self._shown + "\b" * self._shown
            reporter.write_raw(erase + shown, flush=True)
            self._shown = len(shown)

    def line(self, text: str) -> None:
        with self._uncaptured() as reporter:
            if reporter is not None:
                reporter.write_line(text)
