"""Fingerprints of project code: a production pipeline's (its code, the project modules it imports,
its state) and a family's from outside pytest-mlguard (its ``run``, the project modules it imports, or
its distribution's version).

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
from importlib import metadata
from typing import Any

from .fingerprint import Uncacheable, _hash_function, _hash_value, _user_file


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


@functools.lru_cache(maxsize=64)
def _distribution_version(package: str) -> str | None:
    """``name==version`` of the installed distribution that holds the top-level ``package``, or ``None``."""
    names = metadata.packages_distributions().get(package) or ()
    for name in names:
        try:
            return f"{name}=={metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return None


def family_print(family: Any) -> str | None:
    """A hash of the code of a family from outside pytest-mlguard (a conftest's, a package's), or
    ``None`` for a built-in family (pytest-mlguard's source is in every key already).

    It hashes the family's ``run`` (code, closure and the globals it reads, as for a pipeline), the
    source of the project modules its ``run``, ``plan`` and ``make`` come from and of those they import
    (a conftest.py and its helpers), and the version of the installed distribution that holds it: an edit
    to a conftest family's check gives its checks new keys.

    Raises:
        Uncacheable: its code is out of reach (no project source and no installed distribution), or
            a part of its ``run``'s state cannot be hashed.
    """
    run = family.runner()
    function = getattr(run, "__func__", run)
    module = sys.modules.get(getattr(function, "__module__", None) or "")
    package = (getattr(module, "__name__", None) or "").split(".")[0]
    if package == "pytest_mlguard":
        return None
    where = f"the run function of family {family.name!r}"
    digest = hashlib.sha256(f"family:{family.name}".encode())
    if inspect.isfunction(function):
        _hash_function(digest, function, 0, seen={}, where=where)
    else:
        _hash_value(digest, function, seen={}, where=where)
    modules = [module, *(sys.modules.get(getattr(f, "__module__", None) or "") for f in (family.plan, family.make) if f is not None)]
    sources = _project_sources(*modules)
    version = _distribution_version(package) if package else None
    if not sources and version is None:
        raise Uncacheable(f"the code of family {family.name!r} is out of reach (no source file in the project and no installed distribution)")
    digest.update(f"version:{version}".encode())
    for path, source in sources:
        digest.update(path.encode())
        digest.update(source)
    return digest.hexdigest()
