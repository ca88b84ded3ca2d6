"""Wall-clock limits: a check that gets no answer in time is stopped, and the run goes on.

Every check of the built-in suite runs under a limit: the ``timeout`` setting, or the time left in
``--mlguard-budget`` if that is sooner. The limit works as pytest-timeout's *signal* method does: a
``SIGALRM`` timer (``setitimer``) whose handler raises :class:`Deadline` in the main thread, wherever
the check is: in the model's Python code, in ``time.sleep``, waiting on a lock, a queue, a thread or
a child process. :class:`Deadline` derives from ``BaseException``, so that a model's or a pipeline's
``except Exception`` (or the inputs checks' own, which judge how a pipeline fails) does not swallow
it; if something swallows it anyway, or the clean-up after it hangs (a thread pool that waits for
its threads), it is raised again every :data:`AGAIN_S` seconds until the check has ended.

What a signal cannot stop: native code that never returns to Python (a C extension looping with the
GIL held, a deadlock inside a BLAS or CUDA call). Python runs signal handlers between bytecodes, so
such a check ends only when that call does. Without ``SIGALRM`` (Windows) or outside the main thread
(pytest-xdist runs tests in each worker's main thread), checks run without a limit.

Example:
    >>> import time
    >>> try:
    ...     with limit(0.05, "timeout"):
    ...         time.sleep(10)
    ... except Deadline as stopped:
    ...     print(stopped.reason, stopped.seconds)
    timeout 0.05
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal


#: seconds between a :class:`Deadline` and the next, while the stopped check has not ended
AGAIN_S = 1.0

Reason = Literal["timeout", "budget"]


class Deadline(BaseException):
    """Raised in the main thread when a check's time is up.

    Attributes:
        seconds: the limit that ran out.
        reason: ``"timeout"`` (the ``timeout`` setting) or ``"budget"`` (the end of ``--mlguard-budget``).
    """

    def __init__(self, seconds: float, reason: Reason) -> None:
        super().__init__(f"no answer within {seconds:g} s")
        self.seconds = seconds
        self.reason = reason


def can_limit() -> bool:
    """Whether :func:`limit` can stop a check here: ``SIGALRM`` exists and this is the main thread."""
    return hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def limit(seconds: float | None, reason: Reason = "timeout") -> Iterator[None]:
    """Raise :class:`Deadline` in the block if it runs for more than ``seconds`` (no limit: ``None``).

    Another ``SIGALRM`` timer that is already running (pytest-timeout's, say) is respected: if it is
    due first, this limit is not armed; otherwise it is put back afterwards with the time it had left.
    """
    if seconds is None or not can_limit():
        yield
        return
    seconds = max(seconds, 0.001)
    previous_handler = signal.getsignal(signal.SIGALRM)
    previous_due, _ = signal.getitimer(signal.ITIMER_REAL)
    if previous_due and previous_due <= seconds:  # someone else's timer fires first: leave it alone
        yield
        return
    active = True

    def handler(signum: int, frame: object) -> None:
        if not active:
            return
        signal.setitimer(signal.ITIMER_REAL, AGAIN_S)  # and again, until the block has ended
        raise Deadline(seconds, reason)

    started = time.monotonic()
    try:  # armed inside the try: a limit that runs out at once still gets its timer taken down
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        try:
            active = False
        finally:  # a Deadline raised just before `active = False` still gets here: the next one is AGAIN_S away
            active = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous_handler is None else previous_handler)
            if previous_due:
                signal.setitimer(signal.ITIMER_REAL, max(0.001, previous_due - (time.monotonic() - started)))
