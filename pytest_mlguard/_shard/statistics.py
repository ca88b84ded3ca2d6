"""What a shard writes for the merge: its partial results and the per-sample statistics of its checks.

The file (:data:`FILE` in the shard's report directory) is one ``.npz`` written whole or not at all
(:func:`~pytest_mlguard.reporting._atomic.write_files`): a JSON ``header`` (the plugin's version,
the shard, the seed, the settings, each model's fingerprint, the partial results) and the arrays it
names. For each model, the clean statistics of its samples on the shard (their places in the
unsharded order, labels, clean probabilities); for each check computed from per-sample outcomes,
those outcomes at the same places (and what else its family keeps with :func:`keep_statistics`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: the file a shard writes into its report directory
FILE = "mlguard-shard.npz"
FORMAT = 1
#: settings that may differ from shard to shard (where each writes, how it shows progress, what it compares)
PER_SHARD = ("shard", "output", "cache", "device", "progress.", "report.", "baseline.")

_EXTRAS_KEY = ("shard", "statistics")


def keep_statistics(evaluation: Any, check_id: str, **arrays: Any) -> None:
    """Keep per-sample arrays of ``check_id`` (one value per outcome :func:`~pytest_mlguard._verdicts.paired.keep_outcomes`
    kept) for a shard's statistics, such as the confidence of each corrupted prediction."""
    evaluation.memo(_EXTRAS_KEY, dict)[check_id] = {name: np.asarray(value) for name, value in arrays.items()}


def compared_settings(settings: Any) -> dict[str, str]:
    """The settings every shard and the merge must share, as text (``PER_SHARD`` aside)."""
    values = settings.as_dict()
    return {
        key: json.dumps(values[key], sort_keys=True, default=_as_written)
        for key in sorted(values)
        if not any(key == name or (name.endswith(".") and key.startswith(name)) for name in PER_SHARD)
    }


def _as_written(value: Any) -> Any:
    """A setting that is not JSON as a configuration spells it: a threshold as ``0.5*above_chance``, a
    table (``attack.floors``) as a JSON object of those."""
    if isinstance(value, Mapping):
        return dict(value)
    describe = getattr(value, "describe", None)  # config.parse.Threshold
    return str(describe()) if callable(describe) else str(value)


class ShardStatistics:
    """Collects a shard's statistics while it runs (:class:`~pytest_mlguard._runner.CheckRunner`)."""

    def __init__(self, shard: Any, settings: Any, config_files: list[str] | None = None) -> None:
        self.shard = shard
        self.settings = settings
        #: the configuration files the shard's run read (a merge run with other settings names them)
        self.config_files = list(config_files or [])
        self.arrays: dict[str, np.ndarray] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.checks: list[dict[str, Any]] = []
        #: on an xdist controller, the worker whose clean statistics of each model were kept (``_shard/workers.py``)
        self.workers: dict[str, str] = {}

    def _put(self, value: Any) -> str:
        name = f"a{len(self.arrays)}"
        self.arrays[name] = np.asarray(value)
        return name

    def _model(self, evaluation: Any) -> None:
        if evaluation.model_id in self.models:
            return
        from .._cache.fingerprint import fingerprint_model

        proba = evaluation.clean_proba  # computed by the check already (NonFiniteOutput: it failed, and so does this)
        self.models[evaluation.model_id] = {
            "fingerprint": fingerprint_model(evaluation.model),
            "description": json.loads(json.dumps(evaluation.model.describe(), default=str)),
            "data": {"name": evaluation.full_data.name, "n": evaluation.full_data.n, "samples": evaluation.unsharded_n},
            "arrays": {"positions": self._put(evaluation.positions), "labels": self._put(evaluation.data.y), "clean_proba": self._put(proba)},
        }

    def add(self, evaluation: Any, spec: Any, result: Any, kind: str) -> None:
        """Keep the statistics of a check measured on this shard's samples (``kind``: how the merge recomputes it)."""
        from .._verdicts.paired import kept_outcomes
        from ..errors import NonFiniteOutput

        try:
            self._model(evaluation)
        except NonFiniteOutput:
            return  # the check failed on NaN outputs: the merge says so from its result
        entry: dict[str, Any] = {"model": evaluation.model_id, "id": spec.id, "family": spec.family, "kind": kind, "arrays": {}}
        kept = kept_outcomes(evaluation, spec.id)
        if kept is not None:
            local, outcomes = kept
            extras = dict(evaluation.memo(_EXTRAS_KEY, dict).get(spec.id, {}))
            places = extras.pop("positions", None)  # samples that are not the shard's own (an attack's chunks)
            entry["arrays"]["positions"] = self._put(evaluation.positions[local] if places is None else places)
            entry["arrays"]["outcomes"] = self._put(outcomes)
            for name, values in extras.items():
                entry["arrays"][name] = self._put(values)
        entry["details"] = {key: result.details.get(key) for key in ("mean_abs_change", "early_stop")}
        self.checks = [c for c in self.checks if (c["model"], c["id"]) != (entry["model"], entry["id"])] + [entry]

    def header(self, record: Any) -> dict[str, Any]:
        from .._version import __version__

        return {
            "format": FORMAT,
            "plugin": __version__,
            "shard": {"index": self.shard.index, "count": self.shard.count},
            "seed": self.settings.seed,
            "settings": compared_settings(self.settings),
            "config_files": self.config_files,
            "models": self.models,
            "checks": self.checks,
            "results": record.results,
            "skipped": record.skipped,
            "errors": record.errors,
            "descriptions": record.models,
        }

    def write(self, directory: Path, record: Any) -> Path:
        """Write the statistics file into ``directory``, whole or not at all."""
        from ..reporting._atomic import write_files

        buffer = io.BytesIO()
        header = json.dumps(self.header(record), default=str, allow_nan=True)
        arrays: dict[str, Any] = {"header": np.array(header), **self.arrays}
        np.savez(buffer, allow_pickle=False, **arrays)
        path = Path(directory) / FILE
        write_files({path: buffer.getvalue()})
        return path
