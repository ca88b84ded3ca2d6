"""The isolated worker processes of :mod:`.isolation`, on their side: the *zygote* loads the pipeline
once and forks a *worker* per crash; a worker caps its memory and answers inputs until its parent
closes the socket. Runs in the child processes only (``python -c "...zygote_main(fd, parent)"``).

Neither outlives the test process, even one killed by ``SIGKILL`` (no ``atexit`` then): the zygote
waits for commands with a timeout and exits once its parent is gone (its ``getppid()`` changes):
an end of file on its socket is not enough, since a process forked from the test process (a
DataLoader's or multiprocessing's worker) holds a copy of the parent's end. ``PR_SET_PDEATHSIG``
would not do for the zygote: it fires when the parent's *thread* that started it ends, not the
parent. A worker, forked from the single-threaded zygote, asks for it (Linux) and gets ``SIGKILL``
when the zygote ends; on exit the zygote kills and waits for its workers (no zombies).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from .._messages import exception_text
from .graceful import Outcome, outcome_of
from ._transport import HEADER, PipelineFactory, readable, recv, restore_code_files, send

#: seconds between the zygote's checks that its parent is still alive
PARENT_POLL = 0.5
#: ``prctl``'s option that sends a signal to the caller when its parent ends (linux/prctl.h)
_PR_SET_PDEATHSIG = 1


def _vm_size() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _limit_memory(memory_mb: int | None) -> None:
    if not memory_mb:
        return
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    current = _vm_size()
    if current is None:  # no /proc (macOS): RLIMIT_AS is not enforced there anyway
        return
    limit = current + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(sock: socket.socket, target: tuple[Any, ...], memory_mb: int | None) -> None:
    """The worker: answer inputs with their outcomes until the parent closes the socket."""
    import faulthandler

    faulthandler.enable()
    fn, rejects, n_classes, class_names, *rest = target
    task = rest[0] if rest else "classification"
    if "torch" in sys.modules:
        # after a fork, the OpenMP pool of the parent is unusable: one thread avoids it (and
        # keeps the worker from competing with other processes for the cores)
        sys.modules["torch"].set_num_threads(1)
    _limit_memory(memory_mb)
    while True:
        try:
            raw = recv(sock)
        except (EOFError, OSError):
            return
        start = time.perf_counter()
        try:
            outcome = outcome_of(fn, raw, rejects=rejects, n_classes=n_classes, class_names=class_names, task=task)
        except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt, GeneratorExit: still an outcome
            outcome = Outcome("failure", f"raised {exception_text(exc)}")
        send(sock, (outcome.kind, outcome.detail, outcome.label, time.perf_counter() - start, outcome.output))


def _next(control: socket.socket, parent: int | None) -> Any:
    """The parent's next message; ``None`` once it closed the socket or ended."""
    while parent is not None and not readable(control, PARENT_POLL):
        if os.getppid() != parent:
            return None
    try:
        return recv(control)
    except (EOFError, OSError):
        return None


def _die_with_zygote(zygote: int) -> None:
    """In a worker: be killed when the zygote ends (``PR_SET_PDEATHSIG``, Linux), or end now if it has."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != zygote:
        os._exit(0)


def zygote_main(fd: int, parent: int | None = None) -> None:  # pragma: no cover - runs in the zygote process
    """The zygote: load the pipeline, then fork a worker whenever the parent (pid ``parent``) asks for one."""
    os.set_inheritable(fd, False)  # a subprocess the pipeline starts must not hold the socket open
    control = socket.socket(fileno=fd)
    setup = _next(control, parent)
    if setup is None:
        return
    sys.path[:] = setup["sys_path"]
    try:
        target, files = pickle.loads(setup["payload"])
        restore_code_files(files)
        fn = target[0]
        if isinstance(fn, PipelineFactory):
            fn.build()
        elif isinstance(getattr(fn, "fn", None), PipelineFactory):
            fn.fn.build()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the check
        import traceback

        send(control, ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"))
        return
    send(control, ("ready", os.getpid()))
    children: set[int] = set()
    while (message := _next(control, parent)) is not None:
        command, argument = message
        if command == "fork":
            parent_end, child_end = socket.socketpair()
            zygote = os.getpid()
            pid = os.fork()
            if pid == 0:
                _die_with_zygote(zygote)
                control.close()
                parent_end.close()
                try:
                    _serve(child_end, target, argument)
                finally:
                    os._exit(0)
            child_end.close()
            children.add(pid)
            socket.send_fds(control, [pid.to_bytes(HEADER, "big")], [parent_end.fileno()])
            parent_end.close()
        elif command == "reap":
            pid = argument
            if pid in children:
                children.discard(pid)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                send(control, ("status", status))
            else:
                send(control, ("status", None))
        elif command == "exit":
            break
    for pid in children:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)

