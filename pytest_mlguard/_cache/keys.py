"""Cache keys: a hash of everything that determines a check's result.

The key hashes the model (:func:`~pytest_mlguard._cache.fingerprint.model_print`), the evaluation
data, the check's spec, the settings that shape the measurement (with the size and time of the files
they name), the limits ``--mlguard-budget`` gave the check (not the budget itself), the source of
pytest-mlguard and the versions of the libraries involved, and the code of a family from outside
pytest-mlguard (:func:`~pytest_mlguard._cache.pipelines.family_print`). Checks of a production pipeline add
:func:`~pytest_mlguard._cache.pipelines.pipeline_print`; checks whose result depends on the machine
(latency, determinism, drift) add the machine's identity.

Example:
    >>> cache_key(evaluation, spec)  # doctest: +SKIP
    '5b0c...'
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .fingerprint import Uncacheable, fingerprint_arrays, fingerprint_paths, machine_identity, model_print
from .pipelines import family_print, pipeline_print

if TYPE_CHECKING:
    from ..checks._base import CheckSpec, Family
    from ..checks._evaluation import Evaluation


#: the layout of a cache entry; a new layout gives new keys, so old entries are never misread
FORMAT = 2
_LIBRARIES = ("pytest-mlguard", "torch", "adversarial-robustness-toolbox", "albumentations", "numpy", "pillow", "scikit-learn")
#: settings that decide where results go, how they are shown or how long the run may take (the
#: limits a budget gives a check are keyed on their own), never what a check measures
_NOT_MEASURED = ("output", "cache", "budget")
_NOT_MEASURED_PREFIXES = ("report.", "progress.", "baseline.")


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
    package = Path(__file__).parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    versions.append(("pytest-mlguard source", digest.hexdigest()))
    return tuple(versions)


def _measured(key: str) -> bool:
    return key not in _NOT_MEASURED and not key.startswith(_NOT_MEASURED_PREFIXES)


def _remembered(evaluation: Evaluation, name: str, compute: Any) -> str:
    """``compute()``, remembered for the evaluation, failure included."""

    def outcome() -> str | Uncacheable:
        try:
            return compute()
        except Uncacheable as exc:
            return exc

    value = evaluation.memo(f"fingerprint:{name}", outcome)
    if isinstance(value, Uncacheable):
        raise value
    return value


def _extras_fingerprint(evaluation: Evaluation) -> dict[str, str | None]:
    """Fingerprints of the further fixtures a family needs (the gate's baseline model)."""
    from ..contract._model import Model, as_model
    from ..errors import InvalidArgument

    prints: dict[str, str | None] = {}
    for need, value in sorted(evaluation.extras.items()):
        if value is None:
            prints[need] = None
            continue
        try:
            model = value if isinstance(value, Model) else as_model(value, evaluation.full_data, fixture=f"mlguard_{need}")
        except InvalidArgument as exc:
            raise Uncacheable(f"mlguard_{need} is not a model the cache can read: {exc}") from None
        prints[need] = model_print(model)
    return prints


def key_of(evaluation: Evaluation, spec: CheckSpec, family: Family | None = None, *, limited: bool = True) -> str:
    """The cache key of ``spec`` on ``evaluation``.

    The limits ``--mlguard-budget`` gave the check (``evaluation.limits``: fewer samples, less
    time) are part of the key; ``limited=False`` gives the key of the check without limits. The
    budget itself is not: a result measured in full serves a budgeted run, and another budget keeps
    the cache.

    Raises:
        Uncacheable: the check cannot be cached (a family that declares ``cacheable=False``, a black
            box without a ``version``, a pipeline whose code is out of reach, a part of the model that
            cannot be hashed); the message says why.
    """
    if family is None:
        from ..checks._family import registered_family

        family = registered_family(spec.family)
    if not family.cacheable:
        raise Uncacheable(f"the {family.name} family declares cacheable=False")
    needs = family.needs
    code = _remembered(evaluation, f"family:{family.name}", lambda: family_print(family) or "")
    pipeline = None
    if "pipeline" in needs and evaluation.pipeline is not None:
        pipeline = _remembered(evaluation, "pipeline", lambda: pipeline_print(evaluation.pipeline))
    machine = None
    if family.machine:
        torch = sys.modules.get("torch")
        machine = [machine_identity(), torch.get_num_threads() if torch is not None else None]
    model = _remembered(evaluation, "model", lambda: model_print(evaluation.model))
    extras = _extras_fingerprint(evaluation) if evaluation.extras else {}
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
        "family_code": code,
        "limits": repr(getattr(evaluation, "limits", None)) if limited else "None",
        "settings": settings,
        "versions": _versions(),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def cache_key(evaluation: Evaluation, spec: CheckSpec, family: Family | None = None, *, limited: bool = True) -> str | None:
    """:func:`key_of`, or ``None`` if the check cannot be cached.

    Example:
        >>> cache_key(evaluation, spec)  # doctest: +SKIP
        '5b0c...'
    """
    try:
        return key_of(evaluation, spec, family, limited=limited)
    except Uncacheable:
        return None
