"""Reading ``[tool.mlguard]`` from a ``pyproject.toml``."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from ..errors import ConfigError
from ._settings import Key, Source, flatten

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


def pyproject_source(path: Path, keys: Iterable[Key], *, display: str | None = None) -> Source | None:
    """The ``[tool.mlguard]`` table of ``path`` as a flattened source, or ``None`` if it has none."""
    shown = display or str(path)
    where = f"{shown} [tool.mlguard]"
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot read {shown}: {exc}") from None
    table = document.get("tool", {}).get("mlguard")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table at [tool.mlguard] in {shown}, got {type(table).__name__}")
    known = {key.name: key for key in keys}
    table = dict(table)
    profiles = table.pop("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise ConfigError(f"expected tables [tool.mlguard.profiles.<name>] in {shown}, got profiles = {profiles!r}")
    flat_profiles = {
        name: flatten(values, known, f"{shown} [tool.mlguard.profiles.{name}]") for name, values in profiles.items()
    }
    return Source(flatten(table, known, where), where, profiles=flat_profiles, typed=True)
