"""Fingerprints: hashes of everything that decides what a model or a pipeline computes.

A torch module is hashed by its parameters and buffers, every other attribute of every submodule
(a ``scale = 20.0``, a plain tensor, a ``forward`` replaced on the instance), the hooks of every
submodule and torch's global module hooks (their code and closure state), TorchScript code,
``torch.compile`` backends and the source files of its classes outside torch. Where a part cannot be
hashed reliably (a callable whose code cannot be read, an estimator that cannot be pickled, a black
box without a ``version``), :class:`Uncacheable` says which part and why, and the check is not cached.

Example:
    >>> fingerprint_arrays(np.zeros(3), np.ones(2)) == fingerprint_arrays(np.zeros(3), np.ones(2))
    True
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import pickle
import sys
import types
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..contract._model import Model


#: how deep containers and objects are followed
_DEPTH = 3
#: the hook tables of a module, by what the report calls them
_HOOKS = (
    ("_forward_pre_hooks", "forward pre-hook"),
    ("_forward_hooks", "forward hook"),
    ("_backward_pre_hooks", "backward pre-hook"),
    ("_backward_hooks", "backward hook"),
)
_GLOBAL_HOOKS = (
    ("_global_forward_pre_hooks", "global forward pre-hook"),
    ("_global_forward_hooks", "global forward hook"),
    ("_global_backward_pre_hooks", "global backward pre-hook"),
    ("_global_backward_hooks", "global backward hook"),
)


class Uncacheable(Exception):
    """The cache key of a check cannot be computed reliably; the message says which part and why."""


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """A hash of the arrays' dtypes, shapes and contents."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def model_print(model: Model) -> str:
    """A hash of everything that decides the model's outputs.

    Raises:
        Uncacheable: a black box without a ``version`` attribute (its code is out of reach), an
            estimator that cannot be pickled, or a torch module with a part that cannot be hashed.
    """
    from ..contract._model import SklearnModel, TorchModel
    from ..contract._record_model import RecordModel

    digest = hashlib.sha256(json.dumps(model.describe(), sort_keys=True, default=str).encode())
    digest.update(f"{type(model).__qualname__}:{model.output}:{model.batch_size}".encode())
    if isinstance(model, TorchModel):
        seen: dict[int, Any] = {}
        _hash_module(digest, model.module, seen)
        _hash_global_hooks(digest, seen)
        return digest.hexdigest()
    estimator = getattr(model, "model", None)  # a RecordModel's, when it is an estimator (preprocess: code out of reach)
    if isinstance(model, SklearnModel) or (isinstance(model, RecordModel) and model.preprocess is None and hasattr(estimator, "predict_proba")):
        try:
            digest.update(pickle.dumps(model.estimator if isinstance(model, SklearnModel) else estimator, protocol=4))
        except Exception as exc:  # noqa: BLE001 - any pickling failure: the estimator cannot be hashed
            raise Uncacheable(f"the estimator of model {model.name!r} cannot be pickled ({type(exc).__name__}: {exc})") from None
        return digest.hexdigest()
    version = getattr(model, "version", None)
    if version is None:
        raise Uncacheable(
            f"model {model.name!r} is a black box ({type(model).__name__}) without a `version` attribute: nothing tells "
            "that it changed; set its `version` to cache it"
        )
    digest.update(f"version:{version}".encode())
    return digest.hexdigest()


def fingerprint_model(model: Model) -> str | None:
    """:func:`model_print`, or ``None`` where it cannot be computed."""
    try:
        return model_print(model)
    except Uncacheable:
        return None


def _where(name: str) -> str:
    return f"submodule {name!r}" if name else "the model's module"


@functools.lru_cache(maxsize=1)
def _torch_internals() -> frozenset[str]:
    """The attributes ``torch.nn.Module.__init__`` sets: parameters, buffers, submodules and hook
    tables (hashed on their own), and ``training`` (checks run the model in eval mode)."""
    import torch

    return frozenset(vars(torch.nn.Module()))


def _hash_module(digest: Any, module: Any, seen: dict[int, Any]) -> None:
    """Parameters and buffers (persistent or not), every other attribute of every submodule, its
    hooks, TorchScript code, ``torch.compile`` backends and the source files of the module classes
    outside torch (``forward``'s code)."""
    if id(module) in seen:
        digest.update(b"<module seen>")
        return
    for name, tensor in (*module.named_parameters(), *module.named_buffers()):
        digest.update(f"{name}{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(_tensor_bytes(tensor))
    submodules = list(module.named_modules(remove_duplicate=False))
    seen.update((id(submodule), submodule) for _, submodule in submodules)
    classes = set()
    for name, submodule in submodules:
        cls = type(submodule)
        digest.update(f"{name}:{cls.__module__}.{cls.__qualname__}".encode())  # not ``training``: checks run it in eval mode
        classes.add(cls)
        if hasattr(submodule, "dynamo_ctx") and hasattr(submodule, "_orig_mod"):  # torch.compile(module)
            _hash_compiled(digest, submodule.dynamo_ctx.callback, f"the torch.compile wrapper of {_where(name)}")
            continue
        if hasattr(submodule, "_c") and hasattr(submodule, "code"):  # a TorchScript module: its compiled code
            try:
                digest.update(str(submodule.code).encode())
            except RuntimeError:  # a script module without a forward
                pass
        internals = _torch_internals()
        for attribute, value in sorted(vars(submodule).items()):
            if attribute in internals or attribute == "_c":
                continue
            digest.update(attribute.encode())
            _hash_value(digest, value, 1, seen=seen, where=f"attribute {attribute!r} of {_where(name)}")
        _hash_hooks(digest, submodule, name, seen)
    for cls in sorted(classes, key=lambda c: f"{c.__module__}.{c.__qualname__}"):
        if not cls.__module__.startswith("torch."):  # torch's own modules: its version is in the key
            digest.update(_source_of(cls))


def _hash_hooks(digest: Any, module: Any, name: str, seen: dict[int, Any]) -> None:
    """The module's hooks in the order they run, with the flags that change how each is called."""
    for table, kind in _HOOKS:
        hooks = getattr(module, table, None) or {}
        flags = [getattr(module, flag, {}) or {} for flag in ("_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called")]
        for index, (handle, hook) in enumerate(hooks.items()):
            digest.update(f"{kind}:{[handle in flag for flag in flags]}".encode())
            _hash_callable(digest, hook, 1, seen=seen, where=f"{kind} {index} of {_where(name)}")
    digest.update(f"full backward hooks:{getattr(module, '_is_full_backward_hook', None)}".encode())


def _hash_global_hooks(digest: Any, seen: dict[int, Any]) -> None:
    """Hooks every torch module runs (``torch.nn.modules.module.register_module_forward_hook``)."""
    import torch.nn.modules.module as torch_module

    for table, kind in _GLOBAL_HOOKS:
        for index, hook in enumerate((getattr(torch_module, table, None) or {}).values()):
            digest.update(kind.encode())
            _hash_callable(digest, hook, 1, seen=seen, where=f"{kind} {index}")


def _compile_backend(callback: Any) -> Any:
    """The backend a ``torch.compile`` callback wraps (torch's ``_TorchCompileWrapper`` or
    ``_TorchCompileInductorWrapper``: backend name, mode's configuration, options), or ``None``."""
    for _ in range(8):
        wrapped = getattr(callback, "__wrapped__", None)
        if type(wrapped).__name__ in ("_TorchCompileWrapper", "_TorchCompileInductorWrapper"):
            return wrapped
        callback = getattr(callback, "_torchdynamo_orig_backend", None)
        if callback is None:
            return None
    return None


def _hash_compiled(digest: Any, callback: Any, where: str) -> None:
    backend = _compile_backend(callback)
    if backend is None:
        raise Uncacheable(f"{where} names a backend that cannot be read ({callback!r})")
    digest.update(f"torch.compile:{type(backend).__qualname__}".encode())
    _hash_value(digest, vars(backend), 1, seen={}, where=f"the backend of {where}")


def _hash_value(digest: Any, value: Any, depth: int = 0, *, seen: dict[int, Any] | None = None, where: str = "a value") -> None:
    """What decides the behaviour of a value: a torch module's weights and code, an array's bytes, a
    plain value, a callable's code and state (:func:`_hash_callable`), the items of a container and
    the attributes of an object (to a depth of 3), or the ``repr`` of an object without attributes
    (its type alone if that ``repr`` holds an address)."""
    seen = {} if seen is None else seen  # id -> object, kept alive so that no id is reused while hashing
    if _is_plain(value):
        digest.update(repr(value).encode())
        return
    if isinstance(value, np.ndarray):
        digest.update(fingerprint_arrays(value).encode())
        return
    torch = sys.modules.get("torch")  # a value can only be a tensor or module if torch is imported
    if torch is not None and isinstance(value, torch.nn.Module):
        _hash_module(digest, value, seen)
        return
    if torch is not None and isinstance(value, torch.Tensor):
        digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
        digest.update(_tensor_bytes(value))
        return
    if isinstance(value, weakref.ref):  # (an LSTM keeps weak references to its weights)
        digest.update(b"weakref")
        _hash_value(digest, value(), depth, seen=seen, where=where)
        return
    if inspect.isclass(value) or inspect.ismodule(value):
        digest.update(f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', value.__name__)}".encode())
        return
    if callable(value):
        _hash_callable(digest, value, depth, seen=seen, where=where)
        return
    digest.update(f"{type(value).__module__}.{type(value).__qualname__}".encode())
    if depth >= _DEPTH or id(value) in seen:
        return
    seen[id(value)] = value
    if isinstance(value, Mapping):
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode())
            _hash_value(digest, value[key], depth + 1, seen=seen, where=where)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value:
            _hash_value(digest, item, depth + 1, seen=seen, where=where)
    elif hasattr(value, "__dict__"):
        for key, item in sorted(vars(value).items()):
            digest.update(key.encode())
            _hash_value(digest, item, depth + 1, seen=seen, where=where)
    elif " at 0x" not in repr(value):  # a value without attributes: a dtype, a device, an enum member
        digest.update(repr(value).encode())


def _hash_callable(digest: Any, fn: Any, depth: int, *, seen: dict[int, Any], where: str) -> None:
    """A callable's code and state: a function's code, defaults, closure and the immutable values,
    arrays, tensors and project functions it reads from its module; a bound method's function and
    object; a partial's function and arguments; a ``torch.compile`` wrapper's backend and function;
    a callable object's class (its source, if it is the project's) and attributes.

    Raises:
        Uncacheable: for a callable whose code cannot be read (a C function pointer, say).
    """
    if id(fn) in seen:
        digest.update(b"<seen>")
        return
    seen[id(fn)] = fn
    if (original := getattr(fn, "_torchdynamo_orig_callable", None)) is not None and inspect.isfunction(fn):  # torch.compile(fn)
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        _hash_compiled(digest, cells["callback"].cell_contents if "callback" in cells else None, f"the torch.compile wrapper {where}")
        _hash_callable(digest, original, depth, seen=seen, where=where)
    elif isinstance(fn, functools.partial):
        _hash_callable(digest, fn.func, depth, seen=seen, where=where)
        _hash_value(digest, (fn.args, fn.keywords), depth, seen=seen, where=where)
    elif inspect.ismethod(fn):
        _hash_callable(digest, fn.__func__, depth, seen=seen, where=where)
        _hash_value(digest, fn.__self__, depth, seen=seen, where=where)
    elif inspect.isfunction(fn):
        _hash_function(digest, fn, depth, seen=seen, where=where)
    elif inspect.isbuiltin(fn):
        digest.update(f"{getattr(fn, '__module__', None)}.{fn.__qualname__}".encode())
        owner = getattr(fn, "__self__", None)
        if owner is not None and not inspect.ismodule(owner):
            _hash_value(digest, owner, depth, seen=seen, where=where)
    elif hasattr(fn, "__wrapped__"):  # functools.lru_cache and other wrappers
        digest.update(f"{type(fn).__module__}.{type(fn).__qualname__}".encode())
        _hash_callable(digest, fn.__wrapped__, depth, seen=seen, where=where)
    elif hasattr(fn, "code") and type(fn).__module__.split(".")[0] == "torch":  # a TorchScript function or method
        digest.update(str(fn.code).encode())
    elif inspect.isfunction(call := getattr(type(fn), "__call__", None)):  # noqa: B004 - an object of a Python class (callable() is true of every callable)
        cls = type(fn)
        digest.update(f"{cls.__module__}.{cls.__qualname__}".encode())
        if not cls.__module__.startswith("torch."):
            digest.update(_source_of(cls))
        _hash_function(digest, call, depth, seen=seen, where=where)
        if hasattr(fn, "__dict__"):
            _hash_value(digest, vars(fn), depth, seen=seen, where=where)
    elif " at 0x" in repr(fn):
        raise Uncacheable(f"{where} is {fn!r}, a callable whose code cannot be read")
    else:  # a ufunc, an operator.methodcaller: its repr names what it does
        digest.update(f"{type(fn).__module__}.{type(fn).__qualname__}:{fn!r}".encode())


def _hash_function(digest: Any, fn: types.FunctionType, depth: int, *, seen: dict[int, Any], where: str) -> None:
    _hash_code(digest, fn.__code__)
    _hash_value(digest, (fn.__defaults__, fn.__kwdefaults__), depth, seen=seen, where=where)
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        digest.update(name.encode())
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        _hash_value(digest, contents, depth + 1, seen=seen, where=f"{where} (its closure variable {name!r})")
    if depth >= _DEPTH:
        return
    scope = fn.__globals__
    for name in sorted(_names(fn.__code__)):  # what it reads from its module
        value = scope.get(name)
        if value is None or inspect.ismodule(value) or inspect.isclass(value) or isinstance(value, (list, dict, set)):
            continue  # not lists, dicts or sets: a log or a counter changes as the model runs
        if inspect.isroutine(value) and not (inspect.isfunction(value) and _user_file(sys.modules.get(value.__module__)) is not None):
            continue  # a library's function: its version is in the key, or its name is all there is
        digest.update(name.encode())
        _hash_value(digest, value, depth + 1, seen=seen, where=f"{where} (the global {name!r} it reads)")


def _hash_code(digest: Any, code: types.CodeType) -> None:
    """A code object's instructions, names and constants (nested functions' too), not its lines."""
    digest.update(f"{code.co_argcount}:{code.co_kwonlyargcount}:{code.co_flags}:{code.co_names}:{code.co_varnames}".encode())
    digest.update(code.co_code)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            _hash_code(digest, constant)
        else:
            digest.update(repr(constant).encode())


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names(constant)
    return names


@functools.lru_cache(maxsize=1)
def _installed_roots() -> tuple[Path, ...]:
    """Where the standard library and installed packages live."""
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple({Path(paths[k]).resolve() for k in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(k)})


def _user_file(module: Any) -> Path | None:
    """The source file of ``module`` if it is the project's own code (not the standard library, an
    installed package or pytest-mlguard, whose versions are in the key already)."""
    name = getattr(module, "__name__", "")
    path = getattr(module, "__file__", None)
    if not path or not str(path).endswith(".py") or name.split(".")[0] in ("pytest_mlguard", "_pytest", "pytest"):
        return None
    resolved = Path(path).resolve()
    if "site-packages" in resolved.parts or any(resolved.is_relative_to(root) for root in _installed_roots()):
        return None
    return resolved


@functools.lru_cache(maxsize=1)
def machine_identity() -> str:
    """The host, CPU model, CPU and memory counts and OS: what latency, thread and precision
    results depend on."""
    import platform

    from ..production._server import machine

    return json.dumps({"host": platform.node(), **machine()}, sort_keys=True)


def _is_plain(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_is_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str, bytes))


def _tensor_bytes(tensor: Any) -> bytes:
    import torch

    array = tensor.detach().cpu().contiguous()
    if not array.numel():
        return b""
    try:
        return array.view(-1).view(dtype=torch.uint8).numpy().tobytes()
    except (RuntimeError, TypeError):  # quantized and other exotic tensors
        import io

        buffer = io.BytesIO()
        torch.save(array, buffer)
        return buffer.getvalue()


def _source_of(cls: type) -> bytes:
    """The source file of a class (its whole module: ``forward`` may call helpers beside it)."""
    try:
        path = inspect.getsourcefile(cls)
        return Path(path).read_bytes() if path else cls.__qualname__.encode()
    except (OSError, TypeError):
        return cls.__qualname__.encode()


def fingerprint_paths(paths: Any) -> list[Any]:
    """Name, size and modification time of a file, or of every file under a directory."""
    listing: list[Any] = []
    for root in paths if isinstance(paths, tuple) else (paths,):
        root = Path(root)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root] if root.is_file() else []
        for path in files:
            stat = path.stat()
            listing.append([str(path), stat.st_size, stat.st_mtime_ns])
    return listing
