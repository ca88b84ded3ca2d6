"""One resolution of settings: command line > environment > ini/pyproject > marker > default.

Every key is declared once as a :class:`Key` (its parser, default and help); the core keys live
here, each check family declares its own in its folder. :func:`resolve` reads every source, validates
each value with the place it came from and returns a frozen :class:`Settings`.

Example:
    >>> settings = resolve(cli={"seed": "3"}, keys=CORE_KEYS)
    >>> settings.seed, settings.source("seed")
    (3, 'command line (--mlguard-seed)')
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from .parse import (
    Parser,
    parse_bool,
    parse_choice,
    parse_device,
    parse_int,
    parse_optional,
    parse_path,
    parse_str,
    typed_list,
)


def _parse_shard(value: Any, key: str, where: str) -> Any:
    from .._shard.split import parse_shard

    return parse_shard(value, key, where)


ENV_PREFIX = "MLGUARD_"
#: the secret that signs result-cache entries: an environment variable of the prefix that is no
#: setting (a secret never comes from a file, and its value is never shown)
CACHE_KEY_VARIABLE = "MLGUARD_CACHE_KEY"


@dataclass(frozen=True)
class Key:
    """A setting: its dotted name, parser, default and one line of help.

    ``table`` keys hold a ``{name = value}`` table whose entries merge across sources, so that
    ``--mlguard-set corruption.floors.gaussian_noise-3=0.7`` overrides one entry of the table in
    ``pyproject.toml``.
    """

    name: str
    parse: Parser
    default: Any
    help: str
    table: bool = False
    cli: str | None = None  # a dedicated command-line option, such as "--mlguard-seed"
    metavar: str | None = None  # what --help shows for the option's value, such as "INT"
    ini: bool = False  # also an ini key, mlguard_<name> (pytest.ini, [tool.pytest.ini_options])


@dataclass(frozen=True)
class Source:
    """Raw values from one place, and how to name that place in an error message."""

    values: Mapping[str, Any]
    where: str
    # per-key descriptions of the place, where the place differs from key to key
    where_by_key: Mapping[str, str] = field(default_factory=dict)
    # settings profiles this source defines ([tool.mlguard.profiles.<name>]), flattened
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # values keep their types (TOML, a marker's Python values): a list is a list, not "1,3"
    typed: bool = False

    def where_of(self, key: str) -> str:
        return self.where_by_key.get(key, self.where)


CORE_KEYS: tuple[Key, ...] = (
    Key("seed", parse_int(0, 2**32 - 1), 0, "seed of every random choice; a run is reproducible from it", cli="--mlguard-seed", metavar="INT", ini=True),
    Key(
        "samples",
        parse_optional(parse_int(1)),
        None,
        "number of evaluation samples each check uses (a seeded subset); none means all",
        cli="--mlguard-samples",
        metavar="N",
        ini=True,
    ),
    Key(
        "output",
        parse_path,
        Path("mlguard-report"),
        "directory the reports and badges are written to, relative to the current directory when given on the command line "
        "or in the environment, else to the rootdir",
        cli="--mlguard-output",
        metavar="DIR",
        ini=True,
    ),
    Key(
        "device",
        parse_device,
        "cpu",
        "torch device the models run on, such as cpu or cuda:0 (checked at start-up; its availability when a model first runs)",
        cli="--mlguard-device",
        metavar="DEVICE",
        ini=True,
    ),
    Key(
        "profile",
        parse_optional(parse_str),
        None,
        "a named bundle of settings: smoke, ci, nightly or one defined in [tool.mlguard.profiles.<name>]",
        cli="--mlguard-profile",
        metavar="NAME",
        ini=True,
    ),
    Key(
        "task",
        parse_choice("classification", "segmentation", "detection"),
        "classification",
        "what the model does, which the suite plans its checks for: classification, segmentation or detection (docs/segmentation.md)",
    ),
    Key(
        "cache",
        parse_bool,
        False,
        "reuse the results of checks whose model, data and settings are unchanged, from pytest's cache "
        "directory (.pytest_cache/d/mlguard); --mlguard-cache-clear empties it",
        cli="--mlguard-cache",
    ),
    Key(
        "shard",
        _parse_shard,
        None,
        "run the I-th (0-based) of N shards of the evaluation samples and write its statistics for --mlguard-merge: I/N, "
        "or auto (auto/N) to read the index from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID (docs/scale.md)",
        cli="--mlguard-shard",
        metavar="I/N",
    ),
)


class Settings:
    """Validated settings, frozen. Values are read with :meth:`get` or the core properties."""

    __slots__ = ("_sources", "_values")

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
        self._values = MappingProxyType(dict(values))
        self._sources = MappingProxyType(dict(sources))

    def get(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise KeyError(f"unknown mlguard setting {key!r}") from None

    def source(self, key: str) -> str:
        """Where the value of ``key`` came from (``default`` if nowhere)."""
        return self._sources.get(key, "default")

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def seed(self) -> int:
        return int(self._values["seed"])

    @property
    def samples(self) -> int | None:
        return self._values["samples"]

    @property
    def output(self) -> Path:
        return Path(self._values["output"])

    @property
    def device(self) -> str:
        return str(self._values["device"])

    def __repr__(self) -> str:
        return f"Settings({dict(self._values)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and dict(self._values) == dict(other._values)

    __hash__ = None  # type: ignore[assignment]


def _unknown(name: str, known: Iterable[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "; see `pytest --help` and docs/configuration.md"
    error = ConfigError(f"unknown mlguard setting {name!r} in {where}{hint}")
    error.unknown = name
    return error


def _split_table_entry(name: str, keys: Mapping[str, Key]) -> tuple[str, str | None]:
    """``corruption.floors.gaussian_noise-3`` -> (``corruption.floors``, ``gaussian_noise-3``)."""
    if name in keys:
        return name, None
    for key in sorted(keys, key=len, reverse=True):
        if keys[key].table and name.startswith(key + "."):
            return key, name[len(key) + 1 :]
    return name, None


def flatten(table: Mapping[str, Any], keys: Mapping[str, Key], where: str, prefix: str = "") -> dict[str, Any]:
    """Flatten a nested TOML table (``[tool.mlguard.corruption] floor = ...``) into dotted keys."""
    flat: dict[str, Any] = {}
    for name, value in table.items():
        dotted = f"{prefix}{name}"
        if dotted in keys:
            flat[dotted] = value
        elif isinstance(value, Mapping) and any(key.startswith(dotted + ".") for key in keys):
            flat.update(flatten(value, keys, where, prefix=dotted + "."))
        else:
            error = _unknown(dotted, keys, where)
            if isinstance(value, Mapping):  # a table, empty or not: a setting under its name is unknown (a conftest's family may declare it)
                error.unknown = f"{dotted}.{next(iter(value), '*')}"
            raise error
    return flat


def env_source(environ: Mapping[str, str], keys: Mapping[str, Key]) -> Source:
    """``MLGUARD_SEED=3``, ``MLGUARD_ACCURACY__FLOOR=0.9`` (dots written as double underscores)."""
    values: dict[str, Any] = {}
    where_by_key: dict[str, str] = {}
    known_env = {ENV_PREFIX + key.replace(".", "__").upper(): key for key in keys}
    for variable, value in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable == CACHE_KEY_VARIABLE:
            continue
        if variable not in known_env:
            raise _unknown(variable, known_env, "the environment")
        values[known_env[variable]] = value
        where_by_key[known_env[variable]] = f"environment variable {variable}"
    return Source(values, "the environment", where_by_key)


def _profile_source(sources: list[Source], known: Mapping[str, Key], builtin: Mapping[str, Mapping[str, Any]]) -> Source | None:
    """The selected profile's values as a source, or ``None`` if none is selected."""
    name, place = None, ""
    for source in sources:  # highest precedence first
        if "profile" in source.values:
            place = source.where_of("profile")
            name = known["profile"].parse(source.values["profile"], "profile", place)
            break
    if name is None:
        return None
    merged: dict[str, dict[str, Any]] = {key: dict(values) for key, values in builtin.items()}
    defined_in: dict[str, str] = dict.fromkeys(builtin, "the built-in profile")
    for source in reversed(sources):  # higher-precedence definitions win
        for profile, values in source.profiles.items():
            merged.setdefault(profile, {}).update(values)
            defined_in[profile] = f"{source.where} (profiles.{profile})"
    if name not in merged:
        raise ConfigError(
            f"unknown profile {name!r} in {place}: expected one of {', '.join(sorted(merged))}, "
            "or define it in [tool.mlguard.profiles.<name>]"
        )
    return Source(merged[name], f"profile {name!r} from {defined_in[name]}", typed=True)


def resolve(
    *,
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    files: Iterable[Source] = (),
    marker: Mapping[str, Any] | None = None,
    marker_where: str = "the mlguard marker",
    keys: Iterable[Key] = CORE_KEYS,
    profiles: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Resolve settings from every source, highest precedence first.

    A selected profile (``profile`` = a name), like a Hypothesis settings profile chosen for a run,
    overrides the project's files (``[tool.mlguard]``) and markers, and is overridden by the command
    line and the environment.

    Args:
        cli: values from the command line, by dotted key (strings, as typed).
        environ: the process environment (only ``MLGUARD_*`` variables are read); ``None`` reads
            ``os.environ``.
        files: sources from ini files and ``pyproject.toml``, already flattened, highest first.
        marker: keyword arguments of ``@pytest.mark.mlguard(...)``.
        marker_where: how to name the marker in errors.
        keys: every known key.
        profiles: built-in profiles by name (flattened values); sources' own profiles extend them.
    """
    known = {key.name: key for key in keys}
    cli_where = {}
    for name in cli or {}:
        base, _ = _split_table_entry(name, known)
        option = known[base].cli if base in known and known[base].cli else None
        cli_where[name] = f"command line ({option})" if option else f"command line (--mlguard-set {name}=...)"
    sources = [
        Source(dict(cli or {}), "the command line", cli_where),
        env_source(os.environ if environ is None else environ, known),
        *files,
        Source(dict(marker or {}), marker_where, typed=True),
    ]
    profile_source = _profile_source(sources, known, profiles or {})
    if profile_source is not None:  # chosen for this run: above the project's files, below the run's own options
        sources.insert(2, profile_source)
    return _merged(sources, known)


def _merged(sources: list[Source], known: Mapping[str, Key]) -> Settings:
    """The settings of ``sources`` (highest precedence first), each parsed by its key where it was
    given; defaults for the keys no source sets, table keys merged entry by entry."""
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    tables: dict[str, dict[str, Any]] = {}
    # lowest precedence first, so that higher ones overwrite
    for source in reversed(sources):
        for name, raw in source.values.items():
            base, entry = _split_table_entry(name, known)
            place = source.where_of(name)
            if base not in known:
                raise _unknown(name, known, place)
            key = known[base]
            if source.typed:
                raw = typed_list(key.parse, raw, name, place)
            if key.table:
                parsed = key.parse({entry: raw} if entry is not None else raw, base, place)
                tables.setdefault(base, {}).update(parsed)
                where[base] = place
            elif entry is not None:
                raise _unknown(name, known, place)
            else:
                values[base] = key.parse(raw, base, place)
                where[base] = place
    for name, key in known.items():
        if key.table:
            values[name] = MappingProxyType({**(key.default or {}), **tables.get(name, {})})
        elif name not in values:
            values[name] = key.default
    return Settings(values, where)
