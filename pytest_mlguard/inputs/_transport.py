"""How a pipeline travels to the isolated worker process (:mod:`.isolation`), and its inputs and
outcomes back and forth: the pipeline pickled with cloudpickle (the functions of a conftest.py by
value, with their source file), or a :class:`PipelineFactory` that the worker builds itself; the
messages framed over a stream socket.
"""

from __future__ import annotations

import importlib
import pickle
import select
import socket
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: bytes of the length that precedes every message
HEADER = 8


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
def send(sock: socket.socket, obj: Any) -> None:
    """Send ``obj`` pickled, after its length."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(len(data).to_bytes(HEADER, "big") + data)


def readable(sock: socket.socket, timeout: float) -> bool:
    """Whether ``sock`` has something to read (or was closed) within ``timeout`` seconds: ``poll``,
    not ``select``, which fails for a descriptor numbered 1024 or more (a long session's)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(max(0.0, timeout) * 1000))


def recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket) -> Any:
    """The next object :func:`send` sent (``EOFError`` if the other end closed)."""
    return pickle.loads(recv_exact(sock, int.from_bytes(recv_exact(sock, HEADER), "big")))


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


def restore_code_files(files: dict[tuple[str, int, bytes], str]) -> None:
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


def pickle_pipeline(target: tuple[Any, ...]) -> bytes:
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
