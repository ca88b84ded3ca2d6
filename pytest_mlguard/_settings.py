"""The run's settings from pytest's configuration: the command line, the environment, the ini files
and ``[tool.mlguard]`` of pyproject.toml, and a custom test's ``@pytest.mark.mlguard(...)``.

:func:`check_settings` resolves them before pytest imports the project's conftest.py files;
:class:`RunSettings` holds the sources for the run and resolves the settings of the run and of each
marked test (:mod:`pytest_mlguard.config._settings` does the resolving and validating).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from .config._files import pyproject_source
from .config._settings import CORE_KEYS, ENV_PREFIX, Key, Settings, Source, resolve
from .errors import ConfigError

INI_KEYS = tuple(key.name for key in CORE_KEYS if key.ini)
MARKER_CORE_KEYS = ("seed", "samples", "output", "device", "profile")


def cli_values(config: pytest.Config, options: Any = None) -> dict[str, Any]:
    """Settings given on the command line, by dotted key; from ``options`` (the namespace of the
    options parsed so far) before pytest has parsed them all."""

    def option(dest: str) -> Any:
        return getattr(options, dest, None) if options is not None else config.getoption(dest, None)

    from .checks._registry import all_keys
    from .config._options import option_values

    values: dict[str, Any] = option_values(all_keys(), option)
    for assignment in option("mlguard_set") or ():
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"invalid --mlguard-set {assignment!r}: expected KEY=VALUE, such as accuracy.floor=0.9")
        values[key.strip()] = value.strip()
    return values


def check_settings(config: pytest.Config, options: Any) -> Settings | None:
    """Resolve the settings from the command line (``options``), the environment and the ini files,
    before pytest imports the project's conftest.py files: those import torch, and an invalid
    setting should not wait for it (``ConfigError`` if one is invalid). The settings, or where a
    conftest.py may yet declare a name, the core settings alone (``None`` if those cannot be told)."""
    from .checks._registry import all_keys
    from .config._profiles import BUILTIN_PROFILES

    misread = output_read_as_path(config.invocation_params.args, config.invocation_params.dir) or merge_read_as_path(config.invocation_params.args, config.invocation_params.dir)
    if misread is not None:
        raise ConfigError(misread)
    keys = all_keys()
    cli = cli_values(config, options)
    try:
        files = file_sources(config, keys)  # raises on a table no family declares yet, as resolve on a name
        return resolve(cli=cli, files=files, keys=keys, profiles=BUILTIN_PROFILES)
    except ConfigError as exc:
        if exc.unknown is None or not may_be_declared_later(exc.unknown, keys):
            raise
        # a name not known yet may be a setting of a family a conftest.py adds (pytest_mlguard_families):
        # it is checked in pytest_configure, once the conftest files are loaded
    try:
        files = file_sources(config, keys)
    except ConfigError:  # a table of a family a conftest.py adds: the core settings of the command line and environment
        files = []
    core = {key.name for key in CORE_KEYS}
    environ = {k: v for k, v in os.environ.items() if k.removeprefix(ENV_PREFIX).lower() in core}
    try:
        only = [Source({k: v for k, v in s.values.items() if k in core}, s.where, s.where_by_key, typed=s.typed) for s in files]
        return resolve(cli={k: v for k, v in cli.items() if k in core}, environ=environ, files=only, keys=CORE_KEYS)
    except ConfigError:
        return None


def may_be_declared_later(name: str, keys: Sequence[Key]) -> bool:
    """Whether the unknown setting ``name`` may be a key of a family a conftest.py adds (the
    ``pytest_mlguard_families`` hook), checked once the conftest files are loaded. A family's keys sit under
    its name (``text_length.floor``, ``[tool.mlguard.text_length]``, ``MLGUARD_TEXT_LENGTH__FLOOR``): a
    top-level name (``sead``), or one under a known family's or setting's name (``accuracy.flor``), is
    unknown now, before the conftest files import torch.

    Example:
        >>> from pytest_mlguard.config._settings import CORE_KEYS
        >>> [may_be_declared_later(name, CORE_KEYS) for name in ("text_length.floor", "MLGUARD_TEXT_LENGTH__FLOOR", "sead", "seed.x")]
        [True, True, False, False]
    """
    if name.startswith(ENV_PREFIX):
        name = name.removeprefix(ENV_PREFIX).lower().replace("__", ".")
    namespace, dot, _ = name.partition(".")
    return bool(dot) and not any(key.name == namespace or key.name.startswith(namespace + ".") for key in keys)


def check_merge(config: pytest.Config, options: Any) -> None:
    """``ConfigError`` (a ``MergeError``) unless each directory of ``--mlguard-merge`` holds shard statistics,
    checked before pytest imports the project's conftest.py files: the option takes every argument after it,
    and a project path there left the run to collect the rootdir before the merge said so."""
    directories = getattr(options, "mlguard_merge", None)
    if not directories:
        return
    from ._shard.merge import MergeError, shard_files

    base = config.invocation_params.dir
    try:
        shard_files(directories, base)
    except MergeError as exc:
        given = next((d for d in directories if _looks_like_a_project(base / d)), None)
        if given is None:
            raise
        raise MergeError(
            f"{exc}; {given} looks like a project path: --mlguard-merge takes every argument after it for a shard "
            f"directory, so give the paths to test before it (pytest {given} --mlguard-merge DIR ...)"
        ) from None


def _looks_like_a_project(path: Path) -> bool:
    """A test file, or a directory of a project to test (a conftest.py, a configuration file, test files)."""
    if path.is_file():
        return path.suffix == ".py"
    names = ("conftest.py", *_CONFIG_NAMES)
    tests = ("test_*.py", "*_test.py")  # pytest's default python_files
    return path.is_dir() and (any((path / name).is_file() for name in names) or any(any(path.glob(pattern)) for pattern in tests))


def output_read_as_path(args: Sequence[str], invocation_dir: Path) -> str | None:
    """Why ``--mlguard-output DIR``, written as two arguments, misled pytest, or ``None``.

    pytest chooses the rootdir, and so the ini file and pyproject.toml, before plugins add their options:
    it then takes a separate ``DIR`` that exists for a test path. Where ``DIR`` lies outside the other paths
    (or the invocation directory when there are none), the rootdir moves up to hold it and, where pytest would
    then find another configuration file than without it, the project's configuration is missed without a
    word, so that is a usage error; ``--mlguard-output=DIR`` is not misread.

    Example:
        >>> output_read_as_path(["--mlguard", "--mlguard-output=/tmp"], Path("/work"))  # with "=": read as meant
    """
    if any(arg == "-c" or arg.startswith(("--rootdir", "--config-file", "--inifile", "-c")) for arg in args):
        return None  # the rootdir or the ini file is given: nothing is looked for
    for index, arg in enumerate(args[:-1]):
        if arg != "--mlguard-output":
            continue
        given = args[index + 1]
        output = (invocation_dir / given).resolve()
        if not output.is_dir():  # pytest passes over a path that does not exist
            return None
        base, _ = _base(args, {index + 1}, invocation_dir)
        if output == base or base in output.parents or _config_dir(base) == _config_dir(Path(os.path.commonpath([output, base]))):
            return None  # pytest finds the same configuration with the output taken for a path as without it
        return (
            f"--mlguard-output {given} (two arguments) names an existing directory outside {base}: pytest reads its "
            f"configuration before it knows pytest-mlguard's options, took {given} for a test path and looked for the "
            f"rootdir and ini file from {os.path.commonpath([output, base])} instead, so [tool.mlguard] of the project's "
            f"pyproject.toml may be missed; expected --mlguard-output={given} (with '=')"
        )
    return None


def _base(args: Sequence[str], values: set[int], invocation_dir: Path) -> tuple[Path, list[Path]]:
    """The folder that holds the test paths of ``args`` (the option values at ``values`` aside), or the
    invocation directory where there are none, and those paths."""
    paths = [(invocation_dir / a.split("::")[0]).resolve() for i, a in enumerate(args) if i not in values and not a.startswith("-")]
    paths = [path if path.is_dir() else path.parent for path in paths if path.exists()]
    return (Path(os.path.commonpath(paths)) if paths else invocation_dir.resolve()), paths


def merge_read_as_path(args: Sequence[str], invocation_dir: Path) -> str | None:
    """Why the directories of ``--mlguard-merge DIR ...``, written as separate arguments, misled pytest, or ``None``.

    As for ``--mlguard-output`` (:func:`output_read_as_path`): pytest takes each existing ``DIR`` for a test
    path before it knows the option, and where they lie outside the other paths (or the invocation
    directory), looks for the rootdir and the configuration from the folder that holds them: the Kubernetes
    recipe's ``pytest --mlguard-merge /results`` run in the project read no pyproject.toml and stopped on
    "other settings". ``--mlguard-merge=DIR`` (repeatable) is not misread.

    Example:
        >>> merge_read_as_path(["--mlguard-merge=/tmp"], Path("/work"))  # with "=": read as meant
    """
    if any(arg == "-c" or arg.startswith(("--rootdir", "--config-file", "--inifile", "-c")) for arg in args):
        return None  # the rootdir or the ini file is given: nothing is looked for
    start = next((index + 1 for index, arg in enumerate(args) if arg == "--mlguard-merge"), None)
    if start is None:
        return None
    end = next((index for index in range(start, len(args)) if args[index].startswith("-")), len(args))
    given = [a for a in args[start:end] if (invocation_dir / a).resolve().is_dir()]  # pytest passes over the others
    base, paths = _base(args, {i for i in range(1, len(args)) if start <= i < end or args[i - 1] == "--mlguard-output"}, invocation_dir)
    directories = [(invocation_dir / a).resolve() for a in given]
    if not directories or all(d == base or base in d.parents for d in directories):
        return None
    found = _config_dir(Path(os.path.commonpath(directories if not paths else [*directories, base])))
    if found == _config_dir(base):
        return None  # pytest finds the same configuration with the directories taken for paths as without them
    fix = " ".join(f"--mlguard-merge={a}" for a in given)
    return (
        f"--mlguard-merge {' '.join(given)} (separate arguments) names directories outside {base}: pytest reads its configuration "
        f"before it knows pytest-mlguard's options, took them for test paths and looked for the rootdir and ini file from "
        f"there ({found or 'no configuration file found'}) instead of {_config_dir(base) or base}, so the project's settings "
        f"would be missed; expected {fix} (with '=')"
    )


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
    pyproject = _pyproject(config)
    if pyproject is not None:
        display = os.path.relpath(pyproject, config.invocation_params.dir)
        source = pyproject_source(pyproject, keys, display=display)
        if source is not None:
            sources.append(source)
    return sources


#: the files pytest looks for, from the common ancestor of its paths upwards, to choose the rootdir
_CONFIG_NAMES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def _config_dir(start: Path) -> Path | None:
    """The nearest folder from ``start`` upwards that holds a file pytest may read its configuration from."""
    return next((folder for folder in (start, *start.parents) if any((folder / name).is_file() for name in _CONFIG_NAMES)), None)


def _pyproject(config: pytest.Config) -> Path | None:
    """The pyproject.toml whose ``[tool.mlguard]`` the run reads: pytest's configuration file, else the rootdir's."""
    pyproject = config.inipath if config.inipath and config.inipath.name == "pyproject.toml" else None
    if pyproject is None and (config.rootpath / "pyproject.toml").is_file():
        pyproject = config.rootpath / "pyproject.toml"
    return pyproject


def config_files(config: pytest.Config) -> list[str]:
    """The configuration files the run reads (pytest's, and the pyproject.toml of ``[tool.mlguard]``), absolute."""
    files = [path for path in (config.inipath, _pyproject(config)) if path is not None]
    return list(dict.fromkeys(str(Path(path).resolve()) for path in files))


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
        from .config._profiles import BUILTIN_PROFILES

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
