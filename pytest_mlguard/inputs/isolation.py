"""Run a pipeline in an isolated worker process, kept warm between inputs.

A segfault, an ``abort()``, a hang or a memory blow-up of the pipeline must become a failure of
the check that found it, naming the input, and the pytest session must go on. So inputs go to a
worker process:

* a *zygote* process is started once (``python -c``, a fresh interpreter, never a fork of the
  pytest process, whose thread pools a fork would break). It receives the pipeline pickled with
  cloudpickle, unpickles it (importing torch and the project's modules, loading the weights) and
  waits;
* the zygote forks a *worker* per crash: the fork inherits the loaded pipeline, so a restart
  after a crash costs milliseconds, not an interpreter start. The worker caps its address space
  (``RLIMIT_AS``: the loaded pipeline plus ``memory_mb``), sets torch to one thread, and answers
  inputs one at a time over a socket;
* the parent sends an input and waits ``timeout`` seconds for the outcome; on a timeout it kills
  the worker (a hang), on an end of file it asks the zygote how the worker died (a crash, with
  the signal's name and the end of its stderr). Either way the next input gets a fresh worker.

How long they live: the zygote starts with the first input (or :meth:`IsolatedPipeline.start`) and
ends with :meth:`IsolatedPipeline.close`, the object's garbage collection, :func:`close_all` (which
the plugin calls when its session ends) or the process's exit; a process keeps at most
:data:`MAX_ZYGOTES` of them alive, shutting down the least recently used idle one (it starts again
on its next input). A zygote whose parent died, even by ``SIGKILL``, exits and kills its workers
(:mod:`._zygote`).

What the pipeline needs: it is pickled with cloudpickle, so a closure or a lambda works, and
classes and functions of importable modules are sent by reference (the worker gets the parent's
``sys.path``). A pipeline that holds something unpicklable (an open socket, a session of a native
runtime) is given as a factory instead: ``PipelineFactory("my_service.app:make_predict")`` builds
it in the zygote. POSIX only (``os.fork``); elsewhere the checks run the pipeline in-process.

This module is the parent's side; :mod:`.zygote` the children's, :mod:`.transport` what travels
between them.

Example:
    >>> with IsolatedPipeline(abs, rejects=(), n_classes=2, timeout=5) as isolated:  # doctest: +SKIP
    ...     isolated(1).kind
    'prediction'
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .graceful import Outcome
from ._transport import HEADER, PipelineFactory, pickle_pipeline, readable, recv, send

__all__ = ["MAX_ZYGOTES", "IsolatedPipeline", "PipelineFactory", "close_all", "isolation_available"]

_STARTUP_TIMEOUT = 300.0

#: zygotes a process keeps alive at once: starting one more shuts down the least recently used idle one
MAX_ZYGOTES = 2

#: the started pipelines of this process, least recently used first
_live: list[weakref.ref[IsolatedPipeline]] = []


def isolation_available() -> bool:
    """Whether this platform can isolate a pipeline (it needs ``os.fork`` and Unix sockets)."""
    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds")


def close_all() -> None:
    """Shut down every zygote (and its worker) this process started; a pipeline used again starts a new
    one. The plugin calls it when its pytest session ends (``pytest_unconfigure``)."""
    for ref in list(_live):
        pipeline = ref()
        if pipeline is not None:
            pipeline.close()
    _live.clear()


def _used(pipeline: IsolatedPipeline, *, starting: bool = False) -> None:
    """Note ``pipeline`` as the most recently used; when it is ``starting`` a zygote, shut down the
    least recently used idle zygotes over :data:`MAX_ZYGOTES`."""
    pipelines = [other for ref in _live if (other := ref()) is not None and other is not pipeline and other.running]
    pipelines.append(pipeline)
    if starting:
        idle = [other for other in pipelines[:-1] if not other.busy]
        for other in idle[: max(0, len(pipelines) - MAX_ZYGOTES)]:
            other.close()
            pipelines.remove(other)
    _live[:] = [weakref.ref(other) for other in pipelines]


def _describe_status(status: int | None) -> str:
    if status is None:
        return "the worker process died"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"crashed the worker process: killed by {name}"
    if os.WIFEXITED(status):
        return f"ended the worker process: exit status {os.WEXITSTATUS(status)}"
    return f"the worker process died (status {status})"


def _shutdown(process: subprocess.Popen[bytes], control: socket.socket) -> None:
    try:
        send(control, ("exit", None))
    except OSError:
        pass
    control.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class IsolatedPipeline:
    """A pipeline in a warm worker process: ``isolated(raw)`` returns the :class:`Outcome`.

    Args:
        fn: the pipeline's callable (pickled with cloudpickle), or a :class:`PipelineFactory`.
        rejects: the exception types it declares as clean rejections.
        n_classes, class_names: what a valid prediction is.
        task: the model's task: a segmenter's or a detector's pipeline returns masks or boxes.
        timeout: seconds an input may take before the worker counts as hung and is killed.
        memory_mb: how much memory an input may allocate on top of the loaded pipeline.

    Raises:
        pytest_mlguard.errors.CheckError: the pipeline cannot be pickled, or the worker cannot load it.
    """

    def __init__(
        self,
        fn: Callable[[Any], Any],
        *,
        rejects: tuple[type[BaseException], ...],
        n_classes: int,
        class_names: Sequence[str] = (),
        timeout: float = 10.0,
        memory_mb: int | None = 1024,
        task: str = "classification",
    ) -> None:
        self.timeout = float(timeout)
        self.memory_mb = memory_mb
        self.restarts = 0
        self.calls = 0
        self._payload = pickle_pipeline((fn, tuple(rejects), int(n_classes), tuple(class_names), task))
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._worker: socket.socket | None = None
        self._pid: int | None = None
        self.busy = False  # an input in flight: never shut down by another pipeline's start
        self._log = tempfile.TemporaryFile(prefix="mlguard-worker-")  # noqa: SIM115 - the workers write to it for as long as this object lives
        self._finalizer: Any = None

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> IsolatedPipeline:
        """Start the zygote and wait until it has loaded the pipeline."""
        from ..errors import CheckError

        if self._process is not None:
            return self
        parent, child = socket.socketpair()
        _used(self, starting=True)
        command = [sys.executable, "-c", f"from pytest_mlguard.inputs._zygote import zygote_main; zygote_main({child.fileno()}, {os.getpid()})"]
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            command, pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, env=env
        )
        child.close()
        self._control = parent
        self._finalizer = weakref.finalize(self, _shutdown, self._process, parent)
        send(parent, {"sys_path": list(sys.path), "payload": self._payload})
        parent.settimeout(_STARTUP_TIMEOUT)
        try:
            status, detail = recv(parent)
        except (TimeoutError, EOFError, OSError) as exc:
            self.close()
            raise CheckError(f"the isolated worker process did not start: {exc}; its output: {self._log_tail()}") from None
        finally:
            parent.settimeout(None)
        if status != "ready":
            self.close()
            raise CheckError(
                f"the isolated worker process could not load the pipeline: {detail.strip()}\n"
                "Make the pipeline importable from the test process's sys.path, give it as "
                "PipelineFactory('module:function'), or set inputs.isolation = \"none\""
            )
        return self

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        if self._finalizer is not None:
            self._finalizer()
        self._process = None

    @property
    def running(self) -> bool:
        """Whether its zygote is started (and not closed)."""
        return self._process is not None

    def __enter__(self) -> IsolatedPipeline:  # noqa: PYI034 - typing.Self needs Python 3.11; the package supports 3.10
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inputs -------------------------------------------------------------------------------------
    def _fork(self) -> None:
        assert self._control is not None
        send(self._control, ("fork", self.memory_mb))
        message, fds, _, _ = socket.recv_fds(self._control, HEADER, 1)
        self._pid = int.from_bytes(message, "big")
        os.set_inheritable(fds[0], False)  # received fds are inheritable: a subprocess must not keep the worker's socket open
        self._worker = socket.socket(fileno=fds[0])

    def _reap(self) -> int | None:
        assert self._control is not None
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        pid, self._pid = self._pid, None
        self.restarts += 1
        send(self._control, ("reap", pid))
        _, status = recv(self._control)
        return status

    def __call__(self, raw: Any) -> Outcome:
        """The outcome of the pipeline on ``raw`` (a crash or a hang is a failure outcome)."""
        if self._process is None:
            self.start()
        else:
            _used(self)
        self.busy = True
        try:
            return self._outcome(raw)
        finally:
            self.busy = False

    def _outcome(self, raw: Any) -> Outcome:
        if self._worker is None:
            try:
                self._fork()
            except (EOFError, OSError) as exc:
                from ..errors import CheckError

                raise CheckError(f"the isolated worker's zygote process died ({exc}): {self._log_tail()}") from None
        assert self._worker is not None
        self.calls += 1
        log_offset = self._log.seek(0, os.SEEK_END)
        watch = _MemoryWatch(self._pid)
        try:
            send(self._worker, raw)
            self._wait(watch)
            self._worker.settimeout(None)
            kind, detail, label, _, *output = recv(self._worker)
        except TimeoutError:
            self._reap()
            grown = watch.exhausted(self.memory_mb)
            if grown is not None:
                return Outcome(
                    "failure",
                    f"ran out of memory: the worker's memory grew by {grown} MiB, to its cap (the memory cap inputs.memory_mb = "
                    f"{self.memory_mb} MiB), and it gave no answer within {self.timeout:g} s; worker killed",
                )
            return Outcome("failure", f"hung: no answer within {self.timeout:g} s (the time budget inputs.timeout); worker killed")
        except (EOFError, OSError):
            status = self._reap()
            tail = self._log_tail(log_offset)
            grown = watch.exhausted(self.memory_mb)
            died = _describe_status(status) + (f" ({tail})" if tail else "")
            if grown is not None:
                return Outcome("failure", f"ran out of memory: the worker's memory grew by {grown} MiB, to its cap (the memory cap inputs.memory_mb = {self.memory_mb} MiB), and it {died}")
            return Outcome("failure", died)
        if kind == "failure" and detail.startswith("ran out of memory") and self.memory_mb:
            detail += f" (the memory cap inputs.memory_mb = {self.memory_mb} MiB)"
        return Outcome(kind, detail, label, output[0] if output else None)

    def _wait(self, watch: _MemoryWatch) -> None:
        """Wait for the worker's answer up to ``timeout`` seconds, sampling its memory meanwhile
        (``socket.timeout`` when none came)."""
        assert self._worker is not None
        deadline = time.monotonic() + self.timeout
        pause = 0.005
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if readable(self._worker, min(pause, left)):
                return
            watch.sample()
            pause = min(pause * 2, 0.1)

    def _log_tail(self, offset: int = 0) -> str:
        """What the worker printed when it died: faulthandler's error line and innermost frame."""
        self._log.flush()
        self._log.seek(offset)
        lines = [line.strip() for line in self._log.read().decode("utf-8", "replace").splitlines() if line.strip()]
        self._log.seek(0, os.SEEK_END)
        fatal = next((line for line in lines if line.startswith("Fatal Python error")), None)
        frame = next((line for line in lines if line.startswith("File ") and "<string>" not in line), None)
        picked = [line for line in (fatal, frame) if line] or lines[-2:]
        return "; ".join(picked)


class _MemoryWatch:
    """The memory of a worker while it handles one input, from ``/proc/<pid>/statm`` (Linux): its
    address space (what ``RLIMIT_AS`` caps) and resident set, at the start and at their peaks.

    An input that stops answering may hang or may be stuck at the memory cap (an allocation that
    fails and is retried, a machine swapping under load): which one is decided from how far the
    worker's memory grew, not from how long it took.
    """

    #: the share of the cap an input must have taken to count as out of memory rather than hung
    SHARE = 0.9

    def __init__(self, pid: int | None) -> None:
        self.path = Path(f"/proc/{pid}/statm") if pid is not None else None
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self.start = self._read()
        self.peak = self.start

    def _read(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            size, resident = self.path.read_text().split()[:2]
        except (OSError, ValueError):
            return None
        return int(size) * self.page, int(resident) * self.page

    def sample(self) -> None:
        now = self._read()
        if now is not None:
            self.peak = now if self.peak is None else (max(self.peak[0], now[0]), max(self.peak[1], now[1]))

    def exhausted(self, memory_mb: int | None) -> int | None:
        """MiB the worker grew by, if that reached :attr:`SHARE` of the cap ``memory_mb``; else ``None``."""
        self.sample()
        if not memory_mb or self.start is None or self.peak is None:
            return None
        grown = max(self.peak[0] - self.start[0], self.peak[1] - self.start[1]) / 2**20
        return round(grown) if grown >= self.SHARE * memory_mb else None

