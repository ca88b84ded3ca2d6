"""Fingerprints of a production pipeline: its code, the project modules it imports, its state.

Example:
    >>> from pytest_mlguard import Pipeline
    >>> fingerprint_pipeline(Pipeline(len, name="builtin")) is None  # built-in code and no version
    True
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import pickle
import sys
from typing import Any

from .fingerprint import Uncacheable, _hash_function, _hash_value, _user_file

__all__ = ["fingerprint_pipeline", "pipeline_print"]


def _project_sources(*modules: Any, limit: int = 200) -> list[tuple[str, bytes]]:
    """The source of ``modules`` and of every project module they reach through their globals
    (modules they import, and the modules of functions, classes and objects they import), sorted."""
    seen: dict[str, bytes] = {}
    queue = [m for m in modules if m is not None]
    while queue and len(seen) < limit:
        module = queue.pop()
        path = _user_file(module)
        if path is None or str(path) in seen:
            continue
        try:
            seen[str(path)] = path.read_bytes()
        except OSError:
            continue
        for value in list(vars(module).values()):
            if inspect.ismodule(value):
                queue.append(value)
                continue
            owner = getattr(value, "__module__", None)  # where an imported function, class or object comes from
            owner = owner if isinstance(owner, str) else type(value).__module__
            if owner in sys.modules:
                queue.append(sys.modules[owner])
    return sorted(seen.items())


def pipeline_print(pipeline: Any) -> str:
    """A hash of what decides a production pipeline's behaviour.

    The pipeline's settings (input kind, declared rejections, examples), the source of the project
    modules its callable comes from and of every project module they import (transitively), the
    state of the object a bound method belongs to (a service's torch model: weights and code), the
    values the callable closes over, binds (``functools.partial``, defaults) or reads from its
    module's globals, and the pipeline's ``version`` attribute if it has one.

    Raises:
        Uncacheable: its code is out of reach (no project source and no ``version``), or a part of
            its state cannot be hashed.
    """
    digest = hashlib.sha256(f"{pipeline.input}:{sorted(f'{t.__module__}.{t.__qualname__}' for t in pipeline.rejects)}".encode())
    fn = pipeline.fn
    seen: dict[int, Any] = {}
    where = f"pipeline {getattr(pipeline, 'name', '')!r}"
    while isinstance(fn, functools.partial):  # the arguments a partial binds, then its function
        _hash_value(digest, (fn.args, fn.keywords), seen=seen, where=where)
        fn = fn.func
    owner = getattr(fn, "__self__", None)
    function = getattr(fn, "__func__", fn)
    digest.update(f"version:{getattr(pipeline, 'version', None)}".encode())
    if pipeline.examples is not None:
        try:
            digest.update(pickle.dumps(pipeline.examples, protocol=4))
        except Exception:  # noqa: BLE001 - unpicklable examples: their repr
            digest.update(repr(pipeline.examples).encode())
    modules = [sys.modules.get(getattr(function, "__module__", None) or "")]
    if not isinstance(function, type) and not inspect.isfunction(function) and not inspect.ismethod(fn):
        modules.append(sys.modules.get(type(function).__module__))  # a callable object: its class's module
        _hash_value(digest, function, seen=seen, where=where)
    if owner is not None and not inspect.ismodule(owner):
        modules.append(sys.modules.get(type(owner).__module__))
        _hash_value(digest, owner, seen=seen, where=where)
    if inspect.isfunction(function):
        _hash_function(digest, function, 0, seen=seen, where=where)
    sources = _project_sources(*modules)
    if not sources and getattr(pipeline, "version", None) is None:
        raise Uncacheable(
            f"the code of {where} is out of reach (no source file in the project) and it names no `version`; set its `version` to cache it"
        )
    for path, source in sources:
        digest.update(path.encode())
        digest.update(source)
    return digest.hexdigest()


def fingerprint_pipeline(pipeline: Any) -> str | None:
    """:func:`pipeline_print`, or ``None`` where it cannot be computed."""
    try:
        return pipeline_print(pipeline)
    except Uncacheable:
        return None
