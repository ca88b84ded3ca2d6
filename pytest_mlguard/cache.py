"""The result cache: a check's result keyed by everything that determines it.

The key hashes the model (a torch module's parameters, buffers, plain attributes and the source
files of its classes; a pickled estimator; or a black box's declared ``version``), the evaluation
data, the check's spec, the settings that shape the measurement (with the size and time of the files
they name), the source of pytest-mlguard itself and the versions of the libraries involved, so that
re-running an unchanged check is instant and any change to the weights gives a new key. Checks of a
production pipeline add the pipeline's code and state (:func:`fingerprint_pipeline`); checks whose
result depends on the machine (latency, determinism, drift) add the machine's identity.

Results live as JSON files under pytest's cache directory (``.pytest_cache/d/mlguard/results``),
beside a copy of the artefacts the check saved (``artifacts/<key>/``), which a cache hit restores
into this run's report directory, so that report.html shows the same failing examples as the run
that measured them. ``--mlguard-cache-clear`` empties it. Every file is written whole or not at all,
so xdist workers share one cache.

Example:
    >>> fingerprint_arrays(np.zeros(3), np.ones(2)) == fingerprint_arrays(np.zeros(3), np.ones(2))
    True
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
import json
import os
import pickle
import shutil
import sys
import time
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .reporting.atomic import write_files
from .reporting.strict_json import dumps

if TYPE_CHECKING:
    from .checks.base import CheckResult, CheckSpec, Family
    from .checks.evaluation import Evaluation
    from .contract.model import Model

__all__ = [
    "FORMAT",
    "MAX_ARTIFACT_BYTES",
    "ResultCache",
    "cache_key",
    "cache_summary",
    "cached_result",
    "fingerprint_arrays",
    "fingerprint_model",
    "fingerprint_paths",
    "fingerprint_pipeline",
    "machine_identity",
    "run_cached",
]

#: the layout of a cache entry; a new layout gives new keys, so old entries are never misread
FORMAT = 1
_LIBRARIES = ("pytest-mlguard", "torch", "adversarial-robustness-toolbox", "albumentations", "numpy", "pillow", "scikit-learn")
#: settings that decide where results go or how they are shown, never what a check measures
_NOT_MEASURED = ("output", "cache")
_NOT_MEASURED_PREFIXES = ("report.", "progress.", "baseline.")
#: artefacts of one check larger than this stay where they are instead of being copied into the cache
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """A hash of the arrays' dtypes, shapes and contents."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def fingerprint_model(model: Model) -> str | None:
    """A hash of everything that decides the model's outputs; ``None`` for a black box without a
    ``version`` attribute (its code is out of reach, so nothing tells that it changed)."""
    from .contract.model import SklearnModel, TorchModel

    digest = hashlib.sha256(json.dumps(model.describe(), sort_keys=True, default=str).encode())
    digest.update(f"{type(model).__qualname__}:{model.output}:{model.batch_size}".encode())
    if isinstance(model, TorchModel):
        _hash_module(digest, model.module)
        return digest.hexdigest()
    if isinstance(model, SklearnModel):
        digest.update(pickle.dumps(model.estimator, protocol=4))
        return digest.hexdigest()
    version = getattr(model, "version", None)
    if version is None:
        return None
    digest.update(f"version:{version}".encode())
    return digest.hexdigest()


def _hash_module(digest: Any, module: Any) -> None:
    """Parameters and buffers (persistent or not), the plain attributes of every submodule (a
    ``scale = 20.0``) and the source files of the module classes outside torch (``forward``'s code)."""
    for name, tensor in (*module.named_parameters(), *module.named_buffers()):
        digest.update(f"{name}{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(_tensor_bytes(tensor))
    classes = set()
    for name, submodule in module.named_modules():
        plain = {k: v for k, v in vars(submodule).items() if not k.startswith("_") and k != "training" and _is_plain(v)}
        digest.update(f"{name}:{type(submodule).__module__}.{type(submodule).__qualname__}:{sorted(plain.items())!r}".encode())
        classes.add(type(submodule))
    for cls in sorted(classes, key=lambda c: f"{c.__module__}.{c.__qualname__}"):
        if not cls.__module__.startswith("torch."):  # torch's own modules: its version is in the key
            digest.update(_source_of(cls))


def _hash_value(digest: Any, value: Any, depth: int = 0) -> None:
    """What decides the behaviour of an object a pipeline holds: a torch module's weights and
    code, an array's bytes, a plain value, the items of a container (to a depth of 3); otherwise
    its type and the object's own plain attributes."""
    if _is_plain(value):
        digest.update(repr(value).encode())
        return
    if isinstance(value, np.ndarray):
        digest.update(fingerprint_arrays(value).encode())
        return
    torch = sys.modules.get("torch")  # a value can only be a tensor or module if torch is imported
    if torch is not None and isinstance(value, torch.nn.Module):
        _hash_module(digest, value)
        return
    if torch is not None and isinstance(value, torch.Tensor):
        digest.update(_tensor_bytes(value))
        return
    digest.update(f"{type(value).__module__}.{type(value).__qualname__}".encode())
    if depth >= 3:
        return
    if isinstance(value, Mapping):
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode())
            _hash_value(digest, value[key], depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value:
            _hash_value(digest, item, depth + 1)
    elif hasattr(value, "__dict__") and not (inspect.isroutine(value) or inspect.isclass(value) or inspect.ismodule(value)):
        for key, item in sorted(vars(value).items()):
            digest.update(key.encode())
            _hash_value(digest, item, depth + 1)


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


def fingerprint_pipeline(pipeline: Any) -> str | None:
    """A hash of what decides a production pipeline's behaviour, or ``None`` if its code is out of reach.

    The pipeline's settings (input kind, declared rejections, examples), the source of the project
    modules its callable comes from and of every project module they import (transitively), the
    state of the object a bound method belongs to (a service's torch model: weights and code), the
    values the callable closes over, binds (``functools.partial``, defaults) or reads from its
    module's globals, and the pipeline's ``version`` attribute if it has one.
    """
    digest = hashlib.sha256(f"{pipeline.input}:{sorted(f'{t.__module__}.{t.__qualname__}' for t in pipeline.rejects)}".encode())
    fn = pipeline.fn
    while isinstance(fn, functools.partial):  # the arguments a partial binds, then its function
        _hash_value(digest, (fn.args, fn.keywords))
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
        _hash_value(digest, function)
    if owner is not None and not inspect.ismodule(owner):
        modules.append(sys.modules.get(type(owner).__module__))
        _hash_value(digest, owner)
    for cell in getattr(function, "__closure__", None) or ():
        try:
            _hash_value(digest, cell.cell_contents)
        except ValueError:  # an empty cell
            pass
    _hash_value(digest, (getattr(function, "__defaults__", None), getattr(function, "__kwdefaults__", None)))
    code, scope = getattr(function, "__code__", None), getattr(function, "__globals__", {})
    for name in sorted(set(code.co_names) if code is not None else ()):  # the module-level objects it uses
        value = scope.get(name)
        if value is not None and not (inspect.isroutine(value) or inspect.isclass(value) or inspect.ismodule(value)):
            _hash_value(digest, value)
    sources = _project_sources(*modules)
    if not sources and getattr(pipeline, "version", None) is None:
        return None  # neither code nor a version to tell that it changed
    for path, source in sources:
        digest.update(path.encode())
        digest.update(source)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def machine_identity() -> str:
    """The host, CPU model, CPU and memory counts and OS: what latency, thread and precision
    results depend on."""
    import platform

    from .production.server import machine

    return json.dumps({"host": platform.node(), **machine()}, sort_keys=True)


def _is_plain(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_is_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


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


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    """Library versions, and a hash of pytest-mlguard's own source (an editable install's edits
    change no version number)."""
    versions = []
    for name in _LIBRARIES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "absent"))
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    versions.append(("pytest-mlguard source", digest.hexdigest()))
    return tuple(versions)


def _measured(key: str) -> bool:
    return key not in _NOT_MEASURED and not key.startswith(_NOT_MEASURED_PREFIXES)


def _extras_fingerprint(evaluation: Evaluation) -> dict[str, str | None] | None:
    """Fingerprints of the further fixtures a family needs (the gate's baseline model); ``None`` if
    one cannot be fingerprinted."""
    from .contract.model import Model, as_model
    from .errors import InvalidArgument

    prints: dict[str, str | None] = {}
    for need, value in sorted(evaluation.extras.items()):
        if value is None:
            prints[need] = None
            continue
        try:
            model = value if isinstance(value, Model) else as_model(value, evaluation.full_data)
        except InvalidArgument:
            return None
        prints[need] = fingerprint_model(model)
        if prints[need] is None:
            return None
    return prints


def cache_key(evaluation: Evaluation, spec: CheckSpec, family: Family | None = None, *, limited: bool = True) -> str | None:
    """The cache key of ``spec`` on ``evaluation``, or ``None`` if the check cannot be cached.

    The limits ``--mlguard-budget`` gave the check (``evaluation.limits``: fewer samples, less
    time) are part of the key; ``limited=False`` gives the key of the check without limits.

    Checks of a production pipeline add :func:`fingerprint_pipeline`; families that declare
    ``machine=True`` (latency, determinism, drift) add :func:`machine_identity` and torch's thread
    count, so a result measured on another machine or with other threads is measured again.

    Not cached: families that declare ``cacheable=False``, pipelines whose code is out of reach
    (no project source and no ``version``) and black boxes without a ``version``.

    Example:
        >>> cache_key(evaluation, spec)  # doctest: +SKIP
        '5b0c...'
    """
    if family is not None and not getattr(family, "cacheable", True):
        return None
    needs = family.needs if family is not None else ("pipeline",) if spec.family == "inputs" else ()
    pipeline = None
    if "pipeline" in needs and evaluation.pipeline is not None:
        pipeline = evaluation.memo("fingerprint:pipeline", lambda: fingerprint_pipeline(evaluation.pipeline))
        if pipeline is None:
            return None
    machine = None
    if family is not None and getattr(family, "machine", False):
        torch = sys.modules.get("torch")
        machine = [machine_identity(), torch.get_num_threads() if torch is not None else None]
    model = evaluation.memo("fingerprint:model", lambda: fingerprint_model(evaluation.model))
    if model is None:
        return None
    extras = _extras_fingerprint(evaluation) if evaluation.extras else {}
    if extras is None:
        return None
    data = evaluation.memo("fingerprint:data", lambda: fingerprint_arrays(evaluation.data.x, evaluation.data.y))
    settings = {}
    for key, value in sorted(evaluation.settings.as_dict().items()):
        if not _measured(key):
            continue
        paths = isinstance(value, Path) or (isinstance(value, tuple) and bool(value) and all(isinstance(v, Path) for v in value))
        settings[key] = [repr(value), fingerprint_paths(value)] if paths else repr(value)
    content = {
        "format": FORMAT,
        "model": model,
        "model_id": evaluation.model_id,
        "extras": extras,
        "pipeline": pipeline,
        "machine": machine,
        "data": data,
        "check": [spec.family, spec.name, spec.metric, spec.kind, spec.threshold.describe(), repr(spec.params)],
        "limits": repr(getattr(evaluation, "limits", None)) if limited else "None",
        "settings": settings,
        "versions": _versions(),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _replace_paths(value: Any, old: str, new: str) -> Any:
    """``value`` (JSON-like) with every string's ``old`` directory replaced by ``new``."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, Mapping):
        return {k: _replace_paths(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_paths(v, old, new) for v in value]
    return value


def _artifact_path(evaluation: Evaluation, spec: CheckSpec) -> Path:
    """Where :meth:`Evaluation.artifact_dir` puts the check's artefacts, without creating it."""
    from .reporting.examples import artifact_dir_name

    return Path(evaluation.settings.output) / "artifacts" / artifact_dir_name(evaluation.model_id, spec.id)


class ResultCache:
    """Results by key in a directory (normally ``config.cache.mkdir("mlguard")``).

    ``results/<key>.json`` holds the result (:meth:`CheckResult.to_dict`), its message and where its
    artefacts were; ``artifacts/<key>/`` a copy of the artefacts the check saved in that run.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _entry(self, key: str) -> Path:
        return self.directory / "results" / f"{key}.json"

    def get(self, key: str) -> Mapping[str, Any] | None:
        """The stored entry, or ``None`` (none, or unreadable: a miss)."""
        try:
            entry = json.loads(self._entry(key).read_text())
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("format") == FORMAT else None

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        write_files({self._entry(key): dumps({"format": FORMAT, **entry}).encode()})  # strict JSON: NaN as null

    def store(self, key: str, result: CheckResult, evaluation: Evaluation, spec: CheckSpec, *, started: float) -> None:
        """Store ``result``, and a copy of the artefacts the check wrote since ``started`` (a
        ``time.time()``), unless they exceed :data:`MAX_ARTIFACT_BYTES`."""
        source = _artifact_path(evaluation, spec)
        files = {}
        if source.is_dir():
            files = {p: p for p in sorted(source.rglob("*")) if p.is_file() and p.stat().st_mtime >= started - 1.0}
        size = sum(p.stat().st_size for p in files)
        artifacts: dict[str, Any] = {"directory": str(source), "files": sorted(str(p.relative_to(source)) for p in files)}
        if size > MAX_ARTIFACT_BYTES:
            artifacts["copied"] = False
        elif files:
            target = self.directory / "artifacts" / key
            write_files({target / p.relative_to(source): p.read_bytes() for p in files})
            artifacts["copied"] = True
        entry = {
            "result": result.to_dict(),
            "message": result.message,
            "artifacts": artifacts,
            "stored_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self.put(key, entry)  # last: a reader that finds the entry finds its artefacts

    def lookup(self, key: str, evaluation: Evaluation, spec: CheckSpec) -> CheckResult | None:
        """The cached result of ``key`` with its artefacts restored into this run's report directory
        (paths in its details and message point there), marked ``details["cached"]``; ``None`` on a
        miss. Raises :class:`~pytest_mlguard.errors.NotApplicable` again for a check that did not
        apply when it was measured."""
        from .checks.base import CheckResult

        start = time.perf_counter()
        entry = self.get(key)
        if entry is None:
            return None
        if isinstance(entry.get("not_applicable"), str):  # the check does not apply to this model or pipeline
            from .errors import NotApplicable

            raise NotApplicable(entry["not_applicable"])
        try:
            result = CheckResult.from_dict(entry["result"])
            artifacts = entry.get("artifacts", {})
            old = artifacts.get("directory", "")
            names = list(artifacts.get("files", []))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None  # an entry of another layout: measure again
        new = _artifact_path(evaluation, spec)
        restored = "none"
        if names and artifacts.get("copied"):
            stored = self.directory / "artifacts" / key
            try:
                write_files({new / name: (stored / name).read_bytes() for name in names})
                restored = "restored"
            except OSError:
                return None  # artefacts gone (cleared by hand): measure again
        elif names:
            restored = "kept at the original path (too large to cache)"
        details = dict(result.details)
        message = result.message or str(entry.get("message", ""))
        if restored == "restored" and old and old != str(new):
            details = _replace_paths(details, old, str(new))
            message = message.replace(old, str(new))
        details["cached"] = {
            "key": key,
            "stored_at": entry.get("stored_at"),
            "duration_s": result.duration_s,
            "artifacts": restored,
        }
        return dataclasses.replace(result, details=details, message=message, duration_s=round(time.perf_counter() - start, 4))

    def clear(self) -> int:
        """Remove every cached result, artefact and drawn plot; return how many results there were."""
        results = self.directory / "results"
        count = len(list(results.glob("*.json"))) if results.is_dir() else 0
        for path in (results, self.directory / "artifacts", self.directory / "plots"):
            shutil.rmtree(path, ignore_errors=True)
        return count


def cached_result(cache: ResultCache | None, evaluation: Evaluation, family: Family, spec: CheckSpec) -> CheckResult | None:
    """The cached result of ``spec`` measured on all its samples, if there is one (no model evaluation)."""
    key = cache_key(evaluation, spec, family, limited=False) if cache is not None else None
    return cache.lookup(key, evaluation, spec) if cache is not None and key is not None else None


def run_cached(cache: ResultCache | None, evaluation: Evaluation, family: Family, spec: CheckSpec) -> CheckResult:
    """``evaluation.run(family, spec)``, or its cached result when nothing that determines it changed.

    A hit evaluates the model not once: the key hashes weights and data, never predictions.
    """
    key = cache_key(evaluation, spec, family) if cache is not None else None
    if cache is None or key is None:
        return evaluation.run(family, spec)
    keys = [key]
    if getattr(evaluation, "limits", None) is not None:  # a result measured without the budget's limits does more than asked
        keys.insert(0, cache_key(evaluation, spec, family, limited=False))
    for candidate in keys:
        hit = cache.lookup(candidate, evaluation, spec) if candidate is not None else None
        if hit is not None:
            return hit
    from .errors import NotApplicable

    started = time.time()
    try:
        result = evaluation.run(family, spec)
    except NotApplicable as exc:  # remembered too: deciding it may import what the check needs
        with contextlib.suppress(OSError):
            cache.put(key, {"not_applicable": str(exc), "stored_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        raise
    try:
        cache.store(key, result, evaluation, spec, started=started)
    except OSError as exc:
        warnings.warn(f"pytest-mlguard could not cache the result of {spec.id} in {cache.directory}: {exc}", RuntimeWarning, stacklevel=2)
    return result


def cache_summary(results: list[Mapping[str, Any]], directory: Path, start: Path) -> str:
    """The terminal's line on the cache: how many results it gave, and where it is."""
    cached = [r for r in results if isinstance(r.get("details"), Mapping) and r["details"].get("cached")]
    saved = sum(float(r["details"]["cached"].get("duration_s") or 0.0) for r in cached)
    where = os.path.relpath(directory, start)
    if not cached:
        return f"mlguard cache: 0 of {len(results)} results reused (measured and stored in {where}); --mlguard-cache-clear empties it"
    return (
        f"mlguard cache: {len(cached)} of {len(results)} results reused from {where} "
        f"(unchanged weights, data and settings; {saved:.1f}s of checks not rerun); --mlguard-cache-clear empties it"
    )
