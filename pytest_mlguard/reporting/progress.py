"""Progress of long checks in the terminal, without drowning pytest's own output.

A check that has run for ``progress.after`` seconds gets a line saying which check it is, where it
stands in the suite and how far it has got, another every ``progress.every`` seconds, and a last one
when it is done:

    mlguard [3/6] attack[pgd-linf-8/255] on cifar: 2048/5000 samples, 40 s
    mlguard [3/6] attack[pgd-linf-8/255] on cifar: done in 95 s

Fast checks print nothing, ``-q`` prints nothing, and neither do pytest-xdist workers (the
controller shows each finished item). The lines come from a timer thread that runs only while a
check measures (inside the test's call, where pytest does not touch output capture), so a check
needs no help to be reported; "how far" in samples appears when a check says it with
``Evaluation.report_progress(done, total)``.

This module is cheap to import: it holds the ``progress.*`` settings keys.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..config.parse import parse_number, parse_optional
from ..config.settings import Key

__all__ = ["PROGRESS_KEYS", "Progress", "check_label", "terminal_writer"]

PROGRESS_KEYS: tuple[Key, ...] = (
    Key(
        "progress.after",
        parse_optional(parse_number(0.0, 86400.0)),
        10.0,
        "seconds a check runs before its progress is shown in the terminal; none shows none",
    ),
    Key("progress.every", parse_number(0.1, 86400.0), 30.0, "seconds between two progress lines of the same check"),
)


def check_label(nodeid: str) -> str:
    """``examples/digits/conftest.py::mlguard::attack[pgd-linf-0.1]`` -> ``attack[pgd-linf-0.1]``;
    a custom test's name otherwise.

    Example:
        >>> check_label("tests/test_robust.py::test_noise")
        'test_noise'
    """
    _, sep, rest = nodeid.partition("::mlguard::")
    return rest if sep else nodeid.rpartition("::")[2]


class Progress:
    """Writes the progress lines of long checks through ``write``.

    Args:
        write: writes one line to the terminal; ``None`` shows nothing (``-q``, xdist workers).
        after: seconds a check runs before its first line; ``None`` never shows one.
        every: seconds between two lines of the same check.
        clock: the time source.

    Example:
        >>> lines = []
        >>> progress = Progress(lines.append, after=0.0, every=60.0)
        >>> progress.position(2, 5)
        >>> with progress.running("digits", "attack[pgd-linf-0.1]"):
        ...     progress.update("digits", 180, 360)
        ...     time.sleep(0.2)
        >>> lines[0].startswith("mlguard [2/5] attack[pgd-linf-0.1] on digits:"), lines[-1].split(":")[1].split()[0]
        (True, 'done')
    """

    def __init__(
        self,
        write: Callable[[str], None] | None,
        *,
        after: float | None = 10.0,
        every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write
        self.after = after
        self.every = every
        self.clock = clock
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
        """While ``check`` measures ``model``: a timer thread writes its lines when they are due."""
        if self.write is None or self.after is None or self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        write, after, every = self.write, self.after, self.every
        stop = threading.Event()
        started = self.clock()
        shown = threading.Event()
        with self._lock:
            self._label, self._done = f"{check} on {model}", {}

        def tick() -> None:
            wait = after
            while not stop.wait(max(0.0, wait)):
                with self._lock:
                    if stop.is_set():
                        return
                    write(self._line(self.clock() - started))
                    shown.set()
                wait = every

        timer = threading.Thread(target=tick, name="mlguard-progress", daemon=True)
        timer.start()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            with self._lock:  # no line is written after this: the check's output capture is still pytest's
                stop.set()
                if shown.is_set():
                    write(f"mlguard{self._position} {self._label}: done in {self.clock() - started:.0f} s")
                self._label = None
            timer.join()


def terminal_writer(config: Any) -> Callable[[str], None]:
    """A function that writes a line to pytest's terminal while a test runs, with output capture
    suspended as pytest's own live logging does (and nothing without a terminal reporter).

    The reporter is looked up when a line is written: plugins configure in no set order, so it may
    not be registered yet when the session is made."""

    def write(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        capture = config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line(line)

    return write
