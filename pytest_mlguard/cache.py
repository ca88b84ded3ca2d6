"""The result cache: a check's result keyed by everything that determines it.

The key hashes the model's weights (a torch module's state dict, a pickled estimator, or a black
box's declared ``version``), the evaluation data, the check's spec, the settings that shape the
measurement, and the versions of the libraries involved, so that re-running an unchanged check is
instant and any change to the weights gives a new key. Results live as JSON files under pytest's
cache directory (``.pytest_cache/d/mlguard/results``); ``--mlguard-cache-clear`` empties it.

Example:
    >>> fingerprint_arrays(np.zeros(3), np.ones(2)) == fingerprint_arrays(np.zeros(3), np.ones(2))
    True
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .reporting.atomic import write_files

if TYPE_CHECKING:
    from .checks.base import CheckSpec
    from .checks.evaluation import Evaluation
    from .contract.model import Model

__all__ = ["ResultCache", "cache_key", "fingerprint_arrays", "fingerprint_model"]

_LIBRARIES = ("pytest-mlguard", "torch", "adversarial-robustness-toolbox", "albumentations", "numpy", "pillow", "scikit-learn")


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def fingerprint_model(model: Model) -> str | None:
    """A hash of the model's weights and input spec; ``None`` for a black box without a ``version``."""
    from .contract.model import SklearnModel, TorchModel

    digest = hashlib.sha256(json.dumps(model.describe(), sort_keys=True, default=str).encode())
    if isinstance(model, TorchModel):
        digest.update(f"{type(model.module).__module__}.{type(model.module).__qualname__}:{model.output}".encode())
        for name, tensor in model.module.state_dict().items():
            array = tensor.detach().cpu().contiguous()
            digest.update(f"{name}{array.dtype}{tuple(array.shape)}".encode())
            digest.update(array.view(-1).view(dtype=_byte_dtype()).numpy().tobytes() if array.numel() else b"")
        return digest.hexdigest()
    if isinstance(model, SklearnModel):
        digest.update(pickle.dumps(model.estimator, protocol=4))
        return digest.hexdigest()
    version = getattr(model, "version", None)
    if version is None:
        return None
    digest.update(f"version:{version}".encode())
    return digest.hexdigest()


def _byte_dtype() -> Any:
    import torch

    return torch.uint8


def _versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def cache_key(evaluation: Evaluation, spec: CheckSpec) -> str | None:
    """The cache key of ``spec`` on ``evaluation``, or ``None`` if the check cannot be cached.

    Checks on a production pipeline are not cached: a pipeline is code, which no hash of its
    inputs captures.
    """
    if evaluation.pipeline is not None and spec.family == "inputs":
        return None
    model = evaluation.memo("fingerprint:model", lambda: fingerprint_model(evaluation.model))
    if model is None:
        return None
    data = evaluation.memo("fingerprint:data", lambda: fingerprint_arrays(evaluation.data.x, evaluation.data.y))
    settings = evaluation.settings
    content = {
        "model": model,
        "model_id": evaluation.model_id,
        "data": data,
        "check": [spec.family, spec.name, spec.metric, spec.kind, spec.threshold.describe(), repr(spec.params)],
        "settings": {key: repr(value) for key, value in sorted(settings.as_dict().items()) if key not in ("output", "cache")},
        "versions": evaluation.memo("fingerprint:versions", _versions),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


class ResultCache:
    """JSON results by key in a directory (normally ``config.cache.mkdir("mlguard") / "results"``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def get(self, key: str) -> Mapping[str, Any] | None:
        path = self.directory / f"{key}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, result: Mapping[str, Any]) -> None:
        write_files({self.directory / f"{key}.json": json.dumps(result).encode()})

    def clear(self) -> int:
        """Remove every cached result; return how many there were."""
        if not self.directory.exists():
            return 0
        count = len(list(self.directory.glob("*.json")))
        shutil.rmtree(self.directory)
        return count
