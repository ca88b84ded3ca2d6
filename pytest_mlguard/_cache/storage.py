"""Cache entries on disk, read as untrusted input.

``results/<key>.json`` holds what a check measured (its :class:`~pytest_mlguard.checks._base.Measurement`:
the verdict's inputs, never the verdict), how long it took and the files it saved;
``artifacts/<key>/`` a copy of those files. A CI cache is often restored from another branch or job,
so every byte read back is checked before it is used: the entry against a schema (types, ranges, a
proportion equal to its successes over ``n``, no control characters in what the terminal prints),
artefact names that stay inside the check's artefact directory (no ``..``, no absolute path, no
symbolic link followed, in the cache or in the report directory) and artefact bytes against the
checksums the entry lists. With ``MLGUARD_CACHE_KEY`` set, every entry also carries an HMAC of its
content and key, and an entry without a valid one is not used. An entry that fails any of these is a
miss (:class:`Rejected` says why, in one line); the check is measured again and the entry replaced.

Example:
    >>> cache = ResultCache(tmp_path)  # doctest: +SKIP
    >>> cache.lookup(key, evaluation, spec) is None  # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import os
import re
import shutil
import stat
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from ..reporting._atomic import write_files
from ..reporting._strict_json import finite_copy
from .keys import FORMAT
from .signing import ENV_KEY, secret_from, tag, verified

if TYPE_CHECKING:
    from ..checks._base import CheckResult, CheckSpec, Measurement
    from ..checks._evaluation import Evaluation

#: artefacts of one check larger than this stay where they are instead of being copied into the cache
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
#: an entry file larger than this is not read
MAX_ENTRY_BYTES = 64 * 1024 * 1024
_MEASUREMENT = (
    "value", "n", "clean", "chance", "details", "message", "successes", "interval", "interval_method", "evaluations", "evaluations_saved", "failure",
)
_ENTRY = {"format", "key", "check", "model", "stored_at", "tag", "measurement", "duration_s", "artifacts"}
_NOT_APPLICABLE = {"format", "key", "check", "model", "stored_at", "tag", "not_applicable"}
#: control characters that would move the cursor, clear or recolour a terminal (newline and tab are text)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FROM_ENVIRONMENT = object()


class Rejected(Exception):
    """A stored entry that is not used: a miss. The message says why, in one line."""


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the schema ------------------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(value: Any, name: str, *, limit: int = 100_000) -> None:
    if not isinstance(value, str):
        raise Rejected(f"{name} is {type(value).__name__}, expected text")
    if len(value) > limit or _CONTROL.search(value):
        raise Rejected(f"{name} holds control characters or more than {limit} characters")


def _check_strings(value: Any, name: str) -> None:
    """No control characters in any key or text of ``value`` (they reach the terminal and the reports)."""
    if isinstance(value, str):
        if _CONTROL.search(value):
            raise Rejected(f"{name} holds control characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, name)
            _check_strings(item, name)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, name)


def _check_measurement(measurement: Any) -> None:
    if not isinstance(measurement, dict) or set(measurement) != set(_MEASUREMENT):
        raise Rejected(f"its measurement is not one (fields {_shown(sorted(measurement) if isinstance(measurement, dict) else measurement)})")
    m = measurement
    if not (m["value"] is None or _number(m["value"])):
        raise Rejected(f"its value {_shown(m['value'])} is not a number")
    if not _count(m["n"]):
        raise Rejected(f"its n {_shown(m['n'])} is not a count")
    for name in ("clean", "chance"):
        if not (m[name] is None or _number(m[name])):
            raise Rejected(f"its {name} value {_shown(m[name])} is not a number")
    for name in ("evaluations", "evaluations_saved"):
        if not (m[name] is None or _count(m[name])):
            raise Rejected(f"its {name} {_shown(m[name])} is not a count")
    if not isinstance(m["details"], dict):
        raise Rejected(f"its details are {type(m['details']).__name__}, expected an object")
    _check_strings(m["details"], "its details")
    _text(m["message"], "its message")
    if m["interval_method"] is not None:
        _text(m["interval_method"], "its interval method", limit=40)
    if m["failure"] is not None:
        _text(m["failure"], "its failure reason", limit=2000)
    interval = m["interval"]
    if interval is not None and not (isinstance(interval, list) and len(interval) == 2 and all(map(_number, interval)) and interval[0] <= interval[1]):
        raise Rejected(f"its interval {_shown(interval)} is not [low, high]")
    successes = m["successes"]
    if successes is not None:
        if not _count(successes) or successes > m["n"]:
            raise Rejected(f"its successes {_shown(successes)} are not a count of at most n={m['n']}")
        value = m["value"]
        if m["n"] and value is not None and math.isfinite(value) and abs(value - successes / m["n"]) > 1e-9:
            raise Rejected(f"its value {value!r} is not its successes over n ({successes}/{m['n']})")


def _check_name(name: Any) -> str:
    """An artefact name that stays inside the artefact directory: relative, no ``..``, no ``\\``."""
    if not isinstance(name, str) or not name or len(name) > 1000 or _CONTROL.search(name):
        raise Rejected(f"artefact name {_shown(name)} is not a file name")
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or "\\" in name or any(p in ("", ".", "..") for p in name.split("/")):
        raise Rejected(f"artefact name {_shown(name)} leaves the check's artefact directory")
    return name


def _check_entry(entry: dict[str, Any], key: str) -> None:
    """Raise :class:`Rejected` unless ``entry`` is one the cache writes, for ``key``."""
    if entry.get("format") != FORMAT:
        raise Rejected(f"it has layout {_shown(entry.get('format'))}, not {FORMAT}")
    if entry.get("key") != key:
        raise Rejected("it was stored under another key")
    if not isinstance(entry.get("stored_at"), str) or len(entry["stored_at"]) > 40 or _CONTROL.search(entry["stored_at"]):
        raise Rejected(f"its time {_shown(entry.get('stored_at'))} is not one")
    for name in ("check", "model"):  # for a reader of the file; nothing is taken from them
        _text(entry.get(name), f"its {name} name", limit=1000)
    if "not_applicable" in entry:
        if set(entry) - _NOT_APPLICABLE:
            raise Rejected(f"it has unknown fields {_shown(sorted(set(entry) - _NOT_APPLICABLE))}")
        _text(entry["not_applicable"], "its reason", limit=2000)
        return
    if set(entry) - _ENTRY or not {"measurement", "duration_s", "artifacts"} <= set(entry):
        raise Rejected(f"it has fields {_shown(sorted(entry))}, expected {sorted(_ENTRY - {'tag'})}")
    _check_measurement(entry["measurement"])
    if not _number(entry["duration_s"]) or not 0 <= entry["duration_s"] < 1e9:
        raise Rejected(f"its duration {_shown(entry['duration_s'])} is not a number of seconds")
    artifacts = entry["artifacts"]
    if not isinstance(artifacts, dict) or set(artifacts) != {"directory", "files", "copied"}:
        raise Rejected(f"its artefacts {_shown(artifacts)} are not a listing")
    _text(artifacts["directory"], "its artefact directory", limit=4096)
    if not isinstance(artifacts["copied"], bool) or not isinstance(artifacts["files"], dict):
        raise Rejected(f"its artefacts {_shown(artifacts)} are not a listing")
    for name, checksum in artifacts["files"].items():
        _check_name(name)
        if artifacts["copied"] and not (isinstance(checksum, str) and _HEX64.fullmatch(checksum)):
            raise Rejected(f"artefact {name!r} has no checksum")


# -- files, without following links ----------------------------------------------------------------


def _no_links(root: Path, path: Path) -> None:
    """Raise :class:`Rejected` if ``path`` or a directory between ``root`` and it is a symbolic link."""
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        if stat.S_ISLNK(mode):
            raise Rejected(f"{current} is a symlink, not followed")


def _read(root: Path, path: Path, limit: int) -> bytes | None:
    """The bytes of the regular file ``path`` under ``root``, following no link; ``None`` if absent."""
    _no_links(root, path)
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise Rejected(f"{path.name} cannot be read ({exc.strerror})") from None
    with os.fdopen(handle, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Rejected(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise Rejected(f"{path.name} is larger than {limit} bytes")
        return stream.read(limit + 1)


def _replace_paths(value: Any, old: str, new: str) -> Any:
    """``value`` (JSON-like) with every string's ``old`` directory replaced by ``new``."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, Mapping):
        return {k: _replace_paths(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_paths(v, old, new) for v in value]
    return value


def _named_paths(details: Mapping[str, Any]) -> list[str]:
    """The files a check's details name for report.html to show (as :mod:`pytest_mlguard.reporting._examples` reads them)."""
    names = []
    for entry in details.get("examples") or []:
        names.append(entry if isinstance(entry, str) else entry.get("file") or entry.get("path") if isinstance(entry, Mapping) else None)
    artifacts = details.get("artifacts")
    names += [artifacts] if isinstance(artifacts, str) else list(artifacts) if isinstance(artifacts, list) else []
    names.append(details.get("artifact"))
    return [name for name in names if isinstance(name, str)]


def _artifact_path(evaluation: Evaluation, spec: CheckSpec) -> Path:
    """Where :meth:`Evaluation.artifact_dir` puts the check's artefacts, without creating it."""
    from ..reporting._examples import artifact_dir_name

    return Path(evaluation.settings.output) / evaluation.artifacts / artifact_dir_name(evaluation.model_id, spec.id)


def measurement_dict(measurement: Measurement) -> dict[str, Any]:
    """A measurement as the JSON an entry stores."""
    m = measurement
    return {
        "value": float(m.value),
        "n": int(m.n),
        "clean": None if m.clean is None else float(m.clean),
        "chance": None if m.chance is None else float(m.chance),
        "details": dict(m.details),
        "message": m.message,
        "successes": None if m.successes is None else int(m.successes),
        "interval": None if m.interval is None else [float(m.interval[0]), float(m.interval[1])],
        "interval_method": m.interval_method,
        "evaluations": None if m.evaluations is None else int(m.evaluations),
        "evaluations_saved": None if m.evaluations_saved is None else int(m.evaluations_saved),
        "failure": m.failure,
    }


class ResultCache:
    """Measurements by key in a directory (normally ``config.cache.mkdir("mlguard")``).

    Args:
        directory: where the entries live.
        secret: the key of the entries' HMAC tags; by default ``MLGUARD_CACHE_KEY`` from the
            environment, ``None`` (unset) for unsigned entries.

    Raises:
        ConfigError: ``MLGUARD_CACHE_KEY`` is set to fewer than 16 characters.
    """

    def __init__(self, directory: Path, *, secret: bytes | object | None = _FROM_ENVIRONMENT) -> None:
        self.directory = Path(directory)
        self.secret: bytes | None = secret_from(os.environ) if secret is _FROM_ENVIRONMENT else secret  # type: ignore[assignment]

    def _entry(self, key: str) -> Path:
        return self.directory / "results" / f"{key}.json"

    def read(self, key: str) -> dict[str, Any] | None:
        """The stored entry of ``key``, checked; ``None`` if there is none.

        Raises:
            Rejected: the entry cannot be used (unreadable, not JSON, not of the schema, not signed).
        """
        data = _read(self.directory, self._entry(key), MAX_ENTRY_BYTES)
        if data is None:
            return None
        try:
            entry = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise Rejected(f"it is not JSON (truncated or changed: {str(exc)[:60]})") from None
        if not isinstance(entry, dict):
            raise Rejected(f"it is a JSON {type(entry).__name__}, not an object")
        if self.secret is not None and not verified(self.secret, entry):
            raise Rejected(f"it has no valid {ENV_KEY} tag (signed with another key, or not signed)")
        _check_entry(entry, key)
        return entry

    def put(self, key: str, entry: Mapping[str, Any], evaluation: Evaluation, spec: CheckSpec) -> None:
        """Write ``entry`` for ``key`` (with its layout, key, check and model, and with a secret its tag)."""
        full = {**entry, "format": FORMAT, "key": key, "check": spec.id, "model": evaluation.model_id, "stored_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        stored: dict[str, Any] = finite_copy(full)[0]  # strict JSON (NaN as null), before the tag: what is read back is what was signed
        if self.secret is not None:
            stored["tag"] = tag(self.secret, stored)
        path = self._entry(key)
        _no_links(self.directory, path)
        write_files({path: json.dumps(stored, allow_nan=False).encode()})

    def store(self, key: str, measurement: Measurement, duration_s: float, evaluation: Evaluation, spec: CheckSpec, *, started: float) -> None:
        """Store ``measurement``, and a copy of the artefacts the check wrote since ``started`` (a
        ``time.time()``), unless they exceed :data:`MAX_ARTIFACT_BYTES`."""
        source = _artifact_path(evaluation, spec)
        paths = sorted(p for p in source.rglob("*") if p.is_file() and not p.is_symlink() and p.stat().st_mtime >= started - 1.0) if source.is_dir() else []
        copied = sum(p.stat().st_size for p in paths) <= MAX_ARTIFACT_BYTES
        contents = {p.relative_to(source).as_posix(): p.read_bytes() for p in paths} if copied else {}
        target = self.directory / "artifacts" / key
        _no_links(self.directory, target)
        shutil.rmtree(target, ignore_errors=True)  # no file of an earlier entry stays beside the new one
        if contents:
            write_files({target / name: data for name, data in contents.items()})
        if copied:
            files: dict[str, str | None] = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
        else:  # left where they are: listed without checksums
            files = {p.relative_to(source).as_posix(): None for p in paths}
        artifacts = {"directory": str(source), "files": files, "copied": copied and bool(contents)}
        self.put(key, {"measurement": measurement_dict(measurement), "duration_s": round(float(duration_s), 4), "artifacts": artifacts}, evaluation, spec)

    def read_result(self, key: str, evaluation: Evaluation, spec: CheckSpec) -> CheckResult | None:
        """The result of the measurement stored under ``key``, its verdict decided again under this
        run's floors and verdict settings, its artefacts restored into this run's report directory
        (paths in its details and message point there), marked ``details["cached"]``; ``None`` if
        nothing is stored.

        Raises:
            Rejected: the entry, or an artefact it lists, cannot be used.
            NotApplicable: the check did not apply when it was measured.
        """
        from ..checks._base import Measurement

        start = time.perf_counter()
        entry = self.read(key)
        if entry is None:
            return None
        if "not_applicable" in entry:  # the check does not apply to this model or pipeline
            from ..errors import NotApplicable

            raise NotApplicable(entry["not_applicable"])
        stored, artifacts = entry["measurement"], entry["artifacts"]
        new = _artifact_path(evaluation, spec)
        old = artifacts["directory"]
        if Path(old).name != new.name:
            raise Rejected(f"its artefact directory {_shown(old)} is not this check's")
        restored = self._restore(key, artifacts, evaluation.settings.output, new)
        details, message = stored["details"], stored["message"]
        if restored == "restored" and old != str(new):
            details, message = _replace_paths(details, old, str(new)), message.replace(old, str(new))
        for name in _named_paths(details):  # report.html shows them: as reporting.examples reads them, relative to the output
            path = Path(os.path.abspath(Path(evaluation.settings.output) / name))
            if ".." in Path(name).parts or not path.is_relative_to(os.path.abspath(new)):
                raise Rejected(f"its details name the file {_shown(name)}, outside this check's artefact directory")
        interval = stored["interval"]
        measurement = Measurement(**{**stored, "value": math.nan if stored["value"] is None else stored["value"], "details": details,
                                     "message": message, "interval": None if interval is None else tuple(interval)})
        result = evaluation.result(spec, measurement, entry["duration_s"])
        cached = {"key": key, "stored_at": entry["stored_at"], "duration_s": entry["duration_s"], "artifacts": restored}
        return dataclasses.replace(result, details={**result.details, "cached": cached}, duration_s=round(time.perf_counter() - start, 4))

    def _restore(self, key: str, artifacts: Mapping[str, Any], output: Path, new: Path) -> str:
        """Copy the entry's artefacts into ``new``, checked against their checksums; say what was done."""
        files = artifacts["files"]
        if not files:
            return "none"
        if not artifacts["copied"]:
            return "kept at the original path (too large to cache)"
        stored, contents, left = self.directory / "artifacts" / key, {}, MAX_ARTIFACT_BYTES
        for name, checksum in sorted(files.items()):
            _no_links(Path(output), new / name)
            data = _read(self.directory, stored / name, left)
            if data is None:
                raise Rejected(f"artefact {name!r} is missing from the cache")
            if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), checksum):
                raise Rejected(f"artefact {name!r} does not match its checksum (truncated or changed)")
            contents[new / name] = data
            left -= len(data)
        try:
            write_files(contents)
        except OSError as exc:
            raise Rejected(f"its artefacts could not be restored into {new} ({exc.strerror or exc})") from None
        return "restored"

    def lookup(self, key: str, evaluation: Evaluation, spec: CheckSpec) -> CheckResult | None:
        """:meth:`read_result`, ``None`` for an entry that cannot be used."""
        try:
            return self.read_result(key, evaluation, spec)
        except Rejected:
            return None

    def clear(self) -> int:
        """Remove every cached result, artefact and drawn plot; return how many results there were."""
        results = self.directory / "results"
        count = len(list(results.glob("*.json"))) if results.is_dir() else 0
        for path in (results, self.directory / "artifacts", self.directory / "plots"):
            shutil.rmtree(path, ignore_errors=True)
        return count
