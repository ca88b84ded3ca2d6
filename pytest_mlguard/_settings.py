"""The run's settings from pytest's configuration: the command line, the environment, the ini files
and ``[tool.mlguard]`` of pyproject.toml, and a custom test's ``@pytest.mark.mlguard(...)``.

:func:`check_settings` resolves them before pytest imports the project's conftest.py files;
:class:`RunSettings` holds the sources for the run and resolves the settings of the run and of each
marked test (:mod:`pytest_mlguard.config.settings` does the resolving and validating).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from .config.files import pyproject_source
from .config.settings import CORE_KEYS, Key, Settings, Source, resolve
from .errors import ConfigError

INI_KEYS = tuple(key.name for key in CORE_KEYS if key.ini)
MARKER_CORE_KEYS = ("seed", "samples", "output", "device", "profile")


def cli_values(config: pytest.Config, options: Any = None) -> dict[str, Any]:
    """Settings given on the command line, by dotted key; from ``options`` (the namespace of the
    options parsed so far) before pytest has parsed them all."""

    def option(dest: str) -> Any:
        return getattr(options, dest, None) if options is not None else config.getoption(dest, None)

    from .checks.registry import all_keys
    from .config.options import option_values

    values: dict[str, Any] = option_values(all_keys(), option)
    for assignment in option("mlguard_set") or ():
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"invalid --mlguard-set {assignment!r}: expected KEY=VALUE, such as accuracy.floor=0.9")
        values[key.strip()] = value.strip()
    return values


def check_settings(config: pytest.Config, options: Any) -> None:
    """Resolve the settings from the command line (``options``), the environment and the ini files,
    before pytest imports the project's conftest.py files: those import torch, and an invalid
    setting should not wait for it (``ConfigError`` if one is invalid)."""
    from .checks.registry import all_keys
    from .config.profiles import BUILTIN_PROFILES

    keys = all_keys()
    try:
        resolve(cli=cli_values(config, options), files=file_sources(config, keys), keys=keys, profiles=BUILTIN_PROFILES)
    except ConfigError as exc:
        if exc.unknown is None:
            raise
        # a name not known yet may be a setting of a family a conftest.py adds (pytest_mlguard_families):
        # it is checked in pytest_configure, once the conftest files are loaded


def file_sources(config: pytest.Config, keys: Any) -> list[Source]:
    """ini keys (``mlguard_seed`` ...) first, then ``[tool.mlguard]`` of the project's pyproject.toml."""
    sources = []
    ini_values = {}
    where_by_key = {}
    ini_name = config.inipath.name if config.inipath else "ini"
    for name in INI_KEYS:
        value = config.getini(f"mlguard_{name}")
        if value not in ("", None):
            ini_values[name] = value
            where_by_key[name] = f"{ini_name} (mlguard_{name})"
    if ini_values:
        sources.append(Source(ini_values, ini_name, where_by_key))
    pyproject = config.inipath if config.inipath and config.inipath.name == "pyproject.toml" else None
    if pyproject is None and (config.rootpath / "pyproject.toml").is_file():
        pyproject = config.rootpath / "pyproject.toml"
    if pyproject is not None:
        display = os.path.relpath(pyproject, config.invocation_params.dir)
        source = pyproject_source(pyproject, keys, display=display)
        if source is not None:
            sources.append(source)
    return sources


class RunSettings:
    """The sources of the run's settings, read once; the settings of the run (:attr:`settings`) and of
    each marked test (:meth:`for_marker`). ``ConfigError`` for an invalid setting, naming its source."""

    def __init__(self, config: pytest.Config, keys: tuple[Key, ...]) -> None:
        self.config = config
        self.keys = keys
        #: the settings given on the command line, by dotted key (rerun commands repeat them)
        self.cli = cli_values(config)
        self.files = file_sources(config, keys)
        self.settings = self.resolve()

    def resolve(self, marker: Mapping[str, Any] | None = None, marker_where: str = "the mlguard marker") -> Settings:
        from .config.profiles import BUILTIN_PROFILES

        settings = resolve(cli=self.cli, files=self.files, marker=marker, marker_where=marker_where, keys=self.keys, profiles=BUILTIN_PROFILES)
        return self._with_output_dir(settings)

    def _with_output_dir(self, settings: Settings) -> Settings:
        """Relative paths (``output``, ``calibration.ood_data``, ...) made absolute: against the
        invocation directory when given on the command line or in the environment, else the rootdir."""
        values = settings.as_dict()
        for key, value in values.items():
            paths = isinstance(value, tuple) and bool(value) and all(isinstance(v, Path) for v in value)
            if not paths and (not isinstance(value, Path) or value.is_absolute()):
                continue
            where = settings.source(key)
            if where.startswith(("command line", "environment")):
                base = self.config.invocation_params.dir
            else:
                base = self.config.rootpath
            values[key] = tuple((base / v).resolve() for v in value) if paths else (base / value).resolve()
        return Settings(values, {key: settings.source(key) for key in values})

    def for_marker(self, marker: pytest.Mark | None, nodeid: str) -> Settings:
        """Settings for a custom test: the ``@pytest.mark.mlguard(...)`` kwargs at the lowest precedence."""
        if marker is None or not marker.kwargs:
            return self.settings
        where = f"@pytest.mark.mlguard(...) on {nodeid}"
        values = {k: v for k, v in marker.kwargs.items() if k != "settings"}
        unknown = sorted(set(values) - set(MARKER_CORE_KEYS))
        if unknown:
            raise ConfigError(
                f"unknown keyword {unknown[0]!r} in {where}: expected {', '.join(MARKER_CORE_KEYS)} "
                "or settings={'dotted.key': value}"
            )
        extra = marker.kwargs.get("settings", {})
        if not isinstance(extra, Mapping):
            raise ConfigError(f"invalid settings={extra!r} in {where}: expected a dict of dotted keys, such as {{'corruption.floor': 0.8}}")
        return self.resolve({**values, **extra}, where)
