"""Saved baselines: plain JSON files, one per name, that teams commit or keep as CI artefacts.

Schema ``pytest-mlguard/baseline/1``: ``schema``, ``name``, ``saved_at`` (UTC, ISO 8601),
``version``, ``seed``, ``samples``, ``score``, ``score_components`` and ``checks`` (each with
``id``, ``model``, ``family``, ``metric``, ``value``, ``floor`` or ``ceiling``, ``threshold``, ``n``
and ``passed``: the report's checks without their details). A ``report.json`` is accepted wherever
a baseline is, so the report of a CI run can serve as the next run's baseline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..reporting._atomic import write_files
from ..reporting._strict_json import dumps


BASELINE_SCHEMA = "pytest-mlguard/baseline/1"
_REPORT_SCHEMA_PREFIX = "pytest-mlguard/report/"
_CHECK_FIELDS = ("id", "model", "family", "metric", "value", "floor", "ceiling", "threshold", "n", "passed")


def resolve_baseline(name: str, directory: Path, where: str, invocation_dir: Path, rootdir: Path) -> Path:
    """Where the baseline ``name`` lives: ``<directory>/<name>.json``, or ``name`` itself if it is a
    path (ending in ``.json``), relative to the invocation directory when it was given on the command
    line or in the environment, else to the rootdir.

    Example:
        >>> resolve_baseline("main", Path("/p/mlguard-baselines"), "default", Path("/p/sub"), Path("/p")).as_posix()
        '/p/mlguard-baselines/main.json'
        >>> resolve_baseline("ci/report.json", Path("/p/b"), "command line", Path("/p/sub"), Path("/p")).as_posix()
        '/p/sub/ci/report.json'
    """
    if not name.endswith(".json"):
        return directory / f"{name}.json"
    path = Path(name)
    if path.is_absolute():
        return path
    base = invocation_dir if where.startswith(("command line", "environment")) else rootdir
    return base / path


def baseline_from_report(report: Mapping[str, Any], name: str, *, saved_at: datetime | None = None) -> dict[str, Any]:
    """The baseline of a run: its metrics and score, without per-check details."""
    saved_at = saved_at or datetime.now(timezone.utc)
    return {
        "schema": BASELINE_SCHEMA,
        "name": name,
        "saved_at": saved_at.replace(microsecond=0).isoformat(),
        "version": report.get("version"),
        "seed": report.get("seed"),
        "samples": report.get("samples"),
        "score": report["score"],
        "score_components": report["score_components"],
        "checks": [{k: check[k] for k in _CHECK_FIELDS if k in check} for check in report["checks"]],
    }


def save_baseline(report: Mapping[str, Any], name: str, directory: Path) -> Path:
    """Write the baseline of ``report`` as ``<directory>/<name>.json`` (whole or not at all)."""
    path = directory / f"{name}.json"
    text = dumps(baseline_from_report(report, name), indent=2) + "\n"  # strict JSON: non-finite values as null
    write_files({path: text.encode()})
    return path


def load_baseline(path: Path, *, name: str, where: str) -> dict[str, Any]:
    """Read a baseline (or a report.json) and check that it holds what a comparison needs."""
    fix = f"save one with `pytest --mlguard --mlguard-save-baseline {name}`" if not name.endswith(".json") else ""
    if not path.is_file():
        hint = f"; {fix}" if fix else ""
        raise ConfigError(f"baseline {name!r} ({where}) not found: expected a file at {path}{hint}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"baseline {name!r} ({where}) at {path} is not readable JSON: {exc}") from None
    schema = data.get("schema", "") if isinstance(data, dict) else ""
    if not (schema == BASELINE_SCHEMA or str(schema).startswith(_REPORT_SCHEMA_PREFIX)):
        raise ConfigError(
            f"baseline {name!r} ({where}) at {path} has schema {schema!r}: expected {BASELINE_SCHEMA!r} "
            f"or a pytest-mlguard report.json"
        )
    checks = data.get("checks")
    if not isinstance(checks, list) or not all(
        isinstance(c, dict) and {"id", "model", "metric", "value"} <= set(c) for c in checks
    ):
        raise ConfigError(f"baseline {name!r} ({where}) at {path}: expected a list of checks with id, model, metric and value")
    data.setdefault("name", name)
    data["path"] = str(path)
    return data
