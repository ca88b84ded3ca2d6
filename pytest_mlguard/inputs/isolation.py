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

What the pipeline needs: it is pickled with cloudpickle, so a closure or a lambda works, and
classes and functions of importable modules are sent by reference (the worker gets the parent's
``sys.path``). A pipeline that holds something unpicklable (an open socket, a session of a native
runtime) is given as a factory instead: ``PipelineFactory("my_service.app:make_predict")`` builds
it in the zygote. POSIX only (``os.fork``); elsewhere the checks run the pipeline in-process.

Example:
    >>> with IsolatedPipeline(abs, rejects=(), n_classes=2, timeout=5) as isolated:  # doctest: +SKIP
    ...     isolated(1).kind
    'prediction'
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .graceful import Outcome, outcome_of

__all__ = ["IsolatedPipeline", "PipelineFactory", "isolation_available"]

_HEADER = 8
_STARTUP_TIMEOUT = 300.0


def isolation_available() -> bool:
    """Whether this platform can isolate a pipeline (it needs ``os.fork`` and Unix sockets)."""
    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds")


class PipelineFactory:
    """A pipeline given as ``"module:function"``, built by calling ``function(*args, **kwargs)``.

    It pickles as its name, so the isolated worker builds the pipeline itself: use it when the
    pipeline holds something that cannot be pickled. Calling the factory object runs the built
    pipeline, so it is also the ``fn`` of a :class:`~pytest_mlguard.Pipeline`.

    Example:
        >>> square = PipelineFactory("operator:methodcaller", "__pow__", 2)
        >>> square(3)
        9
    """

    def __init__(self, target: str, *args: Any, **kwargs: Any) -> None:
        module, sep, name = target.partition(":")
        if not sep or not module or not name:
            from ..errors import InvalidArgument

            raise InvalidArgument.expected("'module:function'", "target", target)
        self.target = target
        self.args = args
        self.kwargs = kwargs
        self._built: Callable[[Any], Any] | None = None

    def build(self) -> Callable[[Any], Any]:
        """Import the module and call the function (once)."""
        if self._built is None:
            module, _, name = self.target.partition(":")
            function: Any = importlib.import_module(module)
            for part in name.split("."):
                function = getattr(function, part)
            self._built = function(*self.args, **self.kwargs)
        return self._built

    def __call__(self, raw: Any) -> Any:
        return self.build()(raw)

    def __getstate__(self) -> dict[str, Any]:
        return {"target": self.target, "args": self.args, "kwargs": self.kwargs, "_built": None}

    def __repr__(self) -> str:
        return f"PipelineFactory({self.target!r})"


# -- framing over a stream socket -------------------------------------------------------------------
def _send(sock: socket.socket, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(len(data).to_bytes(_HEADER, "big") + data)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _recv(sock: socket.socket) -> Any:
    return pickle.loads(_recv_exact(sock, int.from_bytes(_recv_exact(sock, _HEADER), "big")))


# -- the zygote and its workers (run in the child processes) ---------------------------------------
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
    fn, rejects, n_classes, class_names = target
    if "torch" in sys.modules:
        # after a fork, the OpenMP pool of the parent is unusable: one thread avoids it (and
        # keeps the worker from competing with other processes for the cores)
        sys.modules["torch"].set_num_threads(1)
    _limit_memory(memory_mb)
    while True:
        try:
            raw = _recv(sock)
        except (EOFError, OSError):
            return
        start = time.perf_counter()
        try:
            outcome = outcome_of(fn, raw, rejects=rejects, n_classes=n_classes, class_names=class_names)
        except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt, GeneratorExit: still an outcome
            outcome = Outcome("failure", f"raised {type(exc).__name__}: {exc}")
        _send(sock, (outcome.kind, outcome.detail, outcome.label, time.perf_counter() - start))


def _zygote_main(fd: int) -> None:  # pragma: no cover - runs in the zygote process
    """The zygote: load the pipeline, then fork a worker whenever the parent asks for one."""
    control = socket.socket(fileno=fd)
    setup = _recv(control)
    sys.path[:] = setup["sys_path"]
    try:
        target, files = pickle.loads(setup["payload"])
        _restore_code_files(files)
        fn = target[0]
        if isinstance(fn, PipelineFactory):
            fn.build()
        elif isinstance(getattr(fn, "fn", None), PipelineFactory):
            fn.fn.build()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the check
        import traceback

        _send(control, ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"))
        return
    _send(control, ("ready", os.getpid()))
    children: set[int] = set()
    while True:
        try:
            command, argument = _recv(control)
        except (EOFError, OSError):
            break
        if command == "fork":
            parent_end, child_end = socket.socketpair()
            pid = os.fork()
            if pid == 0:
                control.close()
                parent_end.close()
                try:
                    _serve(child_end, target, argument)
                finally:
                    os._exit(0)
            child_end.close()
            children.add(pid)
            socket.send_fds(control, [pid.to_bytes(_HEADER, "big")], [parent_end.fileno()])
            parent_end.close()
        elif command == "reap":
            pid = argument
            if pid in children:
                children.discard(pid)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                _send(control, ("status", status))
            else:
                _send(control, ("status", None))
        elif command == "exit":
            break
    for pid in children:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


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
        _send(control, ("exit", None))
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
    ) -> None:
        self.timeout = float(timeout)
        self.memory_mb = memory_mb
        self.restarts = 0
        self.calls = 0
        self._payload = _pickle_pipeline((fn, tuple(rejects), int(n_classes), tuple(class_names)))
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._worker: socket.socket | None = None
        self._pid: int | None = None
        self._log = tempfile.TemporaryFile(prefix="mlguard-worker-")  # noqa: SIM115 - the workers write to it for as long as this object lives
        self._finalizer: Any = None

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> IsolatedPipeline:
        """Start the zygote and wait until it has loaded the pipeline."""
        from ..errors import CheckError

        if self._process is not None:
            return self
        parent, child = socket.socketpair()
        command = [sys.executable, "-c", f"from pytest_mlguard.inputs.isolation import _zygote_main; _zygote_main({child.fileno()})"]
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            command, pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, env=env
        )
        child.close()
        self._control = parent
        self._finalizer = weakref.finalize(self, _shutdown, self._process, parent)
        _send(parent, {"sys_path": list(sys.path), "payload": self._payload})
        parent.settimeout(_STARTUP_TIMEOUT)
        try:
            status, detail = _recv(parent)
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

    def __enter__(self) -> IsolatedPipeline:  # noqa: PYI034 - typing.Self needs Python 3.11; the package supports 3.10
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inputs -------------------------------------------------------------------------------------
    def _fork(self) -> None:
        assert self._control is not None
        _send(self._control, ("fork", self.memory_mb))
        message, fds, _, _ = socket.recv_fds(self._control, _HEADER, 1)
        self._pid = int.from_bytes(message, "big")
        self._worker = socket.socket(fileno=fds[0])

    def _reap(self) -> int | None:
        assert self._control is not None
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        pid, self._pid = self._pid, None
        self.restarts += 1
        _send(self._control, ("reap", pid))
        _, status = _recv(self._control)
        return status

    def __call__(self, raw: Any) -> Outcome:
        """The outcome of the pipeline on ``raw`` (a crash or a hang is a failure outcome)."""
        if self._process is None:
            self.start()
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
            _send(self._worker, raw)
            self._wait(watch)
            self._worker.settimeout(None)
            kind, detail, label, _ = _recv(self._worker)
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
        return Outcome(kind, detail, label)

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
            readable, _, _ = select.select([self._worker], [], [], min(pause, left))
            if readable:
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


def _code_key(code: types.CodeType) -> tuple[str, int, bytes]:
    if sys.version_info >= (3, 11):
        return code.co_qualname, code.co_firstlineno, code.co_code
    return code.co_name, code.co_firstlineno, code.co_code


def _code_files(modules: Sequence[Any]) -> dict[tuple[str, int, bytes], str]:
    """The source file of every code object of ``modules``' functions (and of the code nested in
    them), keyed by name, first line and bytecode: cloudpickle sends functions of a conftest.py by
    value with their file name replaced by ``<dynamic-code>``, and the worker puts it back."""
    files: dict[tuple[str, int, bytes], str] = {}

    def walk(code: types.CodeType) -> None:
        files[_code_key(code)] = code.co_filename
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                walk(constant)

    for module in modules:
        for value in list(vars(module).values()):
            candidates = [value, *vars(value).values()] if isinstance(value, type) else [value]
            for candidate in candidates:
                function = getattr(candidate, "__func__", candidate)
                function = getattr(function, "__wrapped__", function)
                code = getattr(function, "__code__", None)
                if isinstance(code, types.CodeType):
                    walk(code)
    return files


def _restore_code_files(files: dict[tuple[str, int, bytes], str]) -> None:
    """Give the functions cloudpickle sent by value their source file back (tracebacks and
    faulthandler then name the user's conftest.py, not ``<dynamic-code>``)."""
    if not files:
        return
    import gc

    def fixed(code: types.CodeType) -> types.CodeType:
        consts = tuple(fixed(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
        filename = files.get(_code_key(code), code.co_filename) if code.co_filename == "<dynamic-code>" else code.co_filename
        return code.replace(co_filename=filename, co_consts=consts)

    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and obj.__code__.co_filename == "<dynamic-code>":
            obj.__code__ = fixed(obj.__code__)


def _pickle_pipeline(target: tuple[Any, ...]) -> bytes:
    """cloudpickle the pipeline; functions defined in a conftest.py go by value (the worker cannot
    import ``conftest`` by name reliably)."""
    import cloudpickle

    from ..errors import CheckError

    conftests = [
        module
        for module in list(sys.modules.values())
        if getattr(module, "__file__", None) and Path(str(module.__file__)).name == "conftest.py"
    ]
    registered = []
    for module in conftests:
        try:
            cloudpickle.register_pickle_by_value(module)
            registered.append(module)
        except (ValueError, TypeError):
            pass
    try:
        return cloudpickle.dumps((target, _code_files(registered)))
    except Exception as exc:  # noqa: BLE001 - any pickling error is the user's to fix
        raise CheckError(
            f"the pipeline cannot be sent to the isolated worker process ({type(exc).__name__}: {exc}). "
            "Make it picklable, give it as PipelineFactory('module:function') so that the worker builds it, "
            'or set inputs.isolation = "none" to run it in the test process'
        ) from None
    finally:
        for module in registered:
            cloudpickle.unregister_pickle_by_value(module)
