"""``--mlguard-merge DIR [DIR ...]``: the statistics files of every shard, read back and checked.

Each ``DIR`` is a shard's report directory (holding :data:`~.statistics.FILE`) or a directory whose
subdirectories are. The shards must be all N of one split, each once, run by the same plugin version
with the same settings (those of :data:`~.statistics.PER_SHARD` aside), seed and models; the merge
itself must be run with those settings too (the shards' command line with ``--mlguard-merge`` in
place of ``--mlguard-shard``). Anything else is a :class:`MergeError` naming the file and what differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .statistics import FILE, FORMAT


class MergeError(ConfigError):
    """Shards that cannot be merged (a usage error: the run exits with code 4)."""


@dataclass
class ShardFile:
    """One shard's statistics file: its header and its arrays."""

    path: Path
    header: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def name(self) -> str:
        shard = self.header["shard"]
        return f"shard {shard['index']}/{shard['count']} ({self.path})"

    def array(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def entry(self, model_id: str, check_id: str) -> dict[str, Any] | None:
        """The statistics entry of check ``check_id`` of model ``model_id`` (``None``: the shard kept none)."""
        return next((c for c in self.header["checks"] if c["model"] == model_id and c["id"] == check_id), None)

    def result(self, model_id: str, check_id: str) -> dict[str, Any] | None:
        """The result of check ``check_id`` of model ``model_id`` (``None``: the shard has none)."""
        return next((r for r in self.header["results"] if r["model"] == model_id and r["id"] == check_id), None)

    @classmethod
    def read(cls, path: Path) -> ShardFile:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            header = json.loads(str(arrays.pop("header")))
        except (OSError, ValueError, KeyError) as exc:
            raise MergeError(f"cannot read the shard statistics {path}: {type(exc).__name__}: {exc}") from None
        if header.get("format") != FORMAT:
            raise MergeError(f"{path} holds shard statistics of format {header.get('format')!r}, this plugin reads format {FORMAT}")
        return cls(path, header, arrays)


def shard_files(directories: Iterable[str | Path], base: Path) -> list[Path]:
    """The statistics files in ``directories`` (each a shard's report directory, or one holding them)."""
    found: list[Path] = []
    for given in directories:
        directory = base / Path(given)
        if (directory / FILE).is_file():
            found.append(directory / FILE)
            continue
        inside = sorted(directory.glob(f"*/{FILE}")) if directory.is_dir() else []
        if not inside:
            what = "does not exist" if not directory.exists() else f"holds no {FILE}, nor do its direct subdirectories{_deeper(directory)}"
            raise MergeError(f"--mlguard-merge {given}: {directory} {what}: expected the report directory of a --mlguard-shard run")
        found += inside
    return found


def _deeper(directory: Path, levels: int = 4, shown: int = 3) -> str:
    """A hint naming the directories below ``directory``'s children (down to ``levels`` below it, the
    first ``shown`` of them) that hold a shard's statistics: ``""`` where none does."""
    deeper = sorted({path.parent.parent for depth in range(2, levels + 1) for path in directory.glob("/".join(["*"] * depth) + f"/{FILE}")})
    if not deeper:
        return ""
    names = ", ".join(str(path.relative_to(directory)) for path in deeper[:shown]) + (f" and {len(deeper) - shown} more" if len(deeper) > shown else "")
    return f" (deeper ones hold shard statistics: under {names}; give those directories to --mlguard-merge)"


def _differences(first: dict[str, Any], other: dict[str, Any]) -> list[str]:
    keys = sorted(set(first) | set(other))
    return [f"{key}={_shown(other.get(key))} where {_shown(first.get(key))} was expected" for key in keys if first.get(key) != other.get(key)]


def _shown(text: str | None) -> str:
    """A compared setting (JSON text, :func:`.statistics.compared_settings`) as a configuration spells it: ``0.5*above_chance``, not ``"0.5*above_chance"``."""
    if text is None:
        return "(unset)"
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def _files(files: list[str] | None, whose: str) -> str:
    """The configuration files a run read, for an error (``None``: a shard file that does not record them)."""
    if files is None:
        return f"{whose}'s are not recorded"
    return f"{whose} read {', '.join(files) if files else 'no configuration file'}"


def _settings_error(shard: ShardFile, settings: dict[str, str], differ: list[str], config_files: list[str] | None) -> str:
    """Why ``shard`` was run with other settings than the merge: the profiles first where they differ, the
    differing keys, the files each read, and, where those are the same, that a command-line option, an
    environment variable or a profile made the difference."""
    theirs = shard.header["settings"]
    said = []
    if settings.get("profile") != theirs.get("profile"):
        said.append(f"profile {_profile(theirs.get('profile'))} where this merge has profile {_profile(settings.get('profile'))}")
    said.append("; ".join(differ[:5]) + (f"; and {len(differ) - 5} more" if len(differ) > 5 else ""))
    mine, its = config_files or [], shard.header.get("config_files")
    read = f"{_files(mine, 'this merge')}, {_files(its, 'the shard')}"
    if its is not None and sorted(mine) == sorted(its):
        read += " (the same: the settings differ by a command-line option, an environment variable or a profile)"
    return f"{shard.name} was run with other settings than this merge: {'; '.join(said)}; {read}; run the merge with the shards' settings and profile"


def _profile(text: str | None) -> str:
    """A compared ``profile`` setting as an error names it: ``'smoke'``, or ``(none)``."""
    name = None if text is None else _shown(text)
    return "(none)" if name in (None, "null", "") else repr(name)


def check_shards(files: list[ShardFile], settings: dict[str, str], config_files: list[str] | None = None) -> None:
    """Raise :class:`MergeError` unless ``files`` are the N shards of one run, each once, run like the
    merge (``settings``: the merge's :func:`~.statistics.compared_settings`; ``config_files``: the
    configuration files the merge read, named where the settings differ)."""
    first = files[0]
    count = first.header["shard"]["count"]
    seen: dict[int, ShardFile] = {}
    for shard in files:
        header = shard.header
        if header["plugin"] != first.header["plugin"]:
            raise MergeError(f"{shard.name} was run by pytest-mlguard {header['plugin']}, {first.name} by {first.header['plugin']}")
        if header["shard"]["count"] != count:
            raise MergeError(f"{shard.name} is one of {header['shard']['count']} shards, {first.name} one of {count}")
        index = header["shard"]["index"]
        if index in seen:
            raise MergeError(f"shard {index}/{count} is given twice: {seen[index].path} and {shard.path}")
        seen[index] = shard
        if header["seed"] != first.header["seed"]:
            raise MergeError(
                f"{shard.name} was run with seed {header['seed']}, {first.name} with seed {first.header['seed']}: every shard of a run "
                f"needs one seed; rerun shard {index}/{count} with --mlguard-seed {first.header['seed']} (or every shard with one seed)"
            )
        differ = _differences(settings, header["settings"])
        if differ:
            raise MergeError(_settings_error(shard, settings, differ, config_files))
        _check_models(shard, first)
    missing = sorted(set(range(count)) - set(seen))
    if missing:
        raise MergeError(f"shard{'s' if len(missing) > 1 else ''} {', '.join(f'{i}/{count}' for i in missing)} missing: given {', '.join(s.name for s in files)}")


def _check_models(shard: ShardFile, first: ShardFile) -> None:
    """Raise :class:`MergeError` unless ``shard`` measured the models ``first`` did, the same ones."""
    mine, theirs = shard.header["models"], first.header["models"]
    if set(mine) != set(theirs):
        raise MergeError(f"{shard.name} measured models {sorted(mine)}, {first.name} models {sorted(theirs)}")
    for model, entry in mine.items():
        difference = model_difference(entry, theirs[model])
        if difference is not None:
            raise MergeError(
                f"{shard.name} measured another model {model!r} than {first.name}: {difference}; the model's weights, code or data "
                "differ between the shards: rerun every shard on one model"
            )


def model_difference(entry: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """What differs between two statistics of a model (a shard's, an xdist worker's), as ``its fingerprint
    differs (... where ... was expected)``: its fingerprint, description or data; ``None`` if none does."""
    for what in ("fingerprint", "description", "data"):
        if entry.get(what) != expected.get(what):
            given, wanted = (json.dumps(value.get(what), default=str)[:200] for value in (entry, expected))
            return f"its {what} differs ({given} where {wanted} was expected)"
    return None


def load_shards(directories: Iterable[str | Path], base: Path, settings: dict[str, str], config_files: list[str] | None = None) -> list[ShardFile]:
    """The shard files under ``directories``, checked (:func:`check_shards`), in shard order."""
    files = [ShardFile.read(path) for path in shard_files(directories, base)]
    if not files:
        raise MergeError("--mlguard-merge found no shard statistics")
    check_shards(files, settings, config_files)
    return sorted(files, key=lambda shard: shard.header["shard"]["index"])
