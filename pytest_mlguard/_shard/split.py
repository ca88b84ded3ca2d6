"""Which shard this run is, and which samples and checks belong to it.

``--mlguard-shard I/N`` runs the I-th (0-based) of N disjoint shards of the evaluation samples;
``auto`` reads the index and the count from the engine that started the run:

- Kubernetes Indexed Jobs: ``JOB_COMPLETION_INDEX``, with the count from ``auto/N`` or from
  ``JOB_COMPLETIONS`` (set it in the manifest to the Job's ``completions``);
- Slurm job arrays: ``SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN`` of ``SLURM_ARRAY_TASK_COUNT``;
- a CI matrix passes ``I/N`` on the command line.

A sample goes to the shard :func:`shard_of` its index in ``mlguard_data`` and the run's seed hash
to, so every machine computes the same split whatever ran before. A check whose value is not a
function of per-sample outcomes runs whole on one shard, :func:`owner` of its id.

Example:
    >>> shard = parse_shard("1/3", "shard", "the command line")
    >>> shard, shard.describe()
    (Shard(index=1, count=3), '1/3')
    >>> shard_of(np.arange(6), seed=0, count=3).tolist()
    [0, 1, 1, 2, 2, 0]
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config.parse import invalid

EXPECTED = "I/N with 0 <= I < N (such as 0/4), auto or auto/N (the index from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID)"
#: the variable that gives a Kubernetes Indexed Job's completions to ``--mlguard-shard auto``
COUNT_VARIABLE = "JOB_COMPLETIONS"


@dataclass(frozen=True)
class Shard:
    """The ``index``-th (0-based) of ``count`` shards."""

    index: int
    count: int
    #: the engine's variables ``auto`` read it from (``""``: given as ``I/N``); not part of the shard's identity
    origin: str = field(default="", compare=False, repr=False)

    def describe(self) -> str:
        return f"{self.index}/{self.count}"

    def header(self) -> str:
        """``shard 1/4 (from SLURM_ARRAY_TASK_ID=11, SLURM_ARRAY_TASK_MIN=10, SLURM_ARRAY_TASK_COUNT=4)``: the
        shard, and for ``auto`` where it came from, so that a log says which shard a task resolved to."""
        return f"shard {self.describe()}" + (f" (from {self.origin})" if self.origin else "")


def _origin(environ: Mapping[str, str], given: int | None) -> str:
    """The variables :func:`from_environment` read (it found them), and ``auto/N`` where the count was given."""
    kubernetes = _integer(environ, "JOB_COMPLETION_INDEX") is not None
    names = ["JOB_COMPLETION_INDEX"] if kubernetes else ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN"]
    names += [] if given is not None else [COUNT_VARIABLE if kubernetes else "SLURM_ARRAY_TASK_COUNT"]
    read = [f"{name}={environ[name].strip()}" for name in names if name in environ]
    return ", ".join(read + ([f"auto/{given}"] if given is not None else []))


def _integer(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name, "").strip()
    return int(value) if re.fullmatch(r"\d+", value) else None


def from_environment(count: int | None, environ: Mapping[str, str]) -> tuple[int, int] | str:
    """``(index, count)`` from a Kubernetes Indexed Job's or a Slurm array's variables, or why not (a string).

    Example:
        >>> from_environment(None, {"SLURM_ARRAY_TASK_ID": "12", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "4"})
        (2, 4)
        >>> from_environment(None, {"JOB_COMPLETION_INDEX": "3"})
        'JOB_COMPLETION_INDEX=3 gives the index but not the count: set JOB_COMPLETIONS or write auto/N'
    """
    index = _integer(environ, "JOB_COMPLETION_INDEX")
    if index is not None:
        count = count if count is not None else _integer(environ, COUNT_VARIABLE)
        if count is None:
            return f"JOB_COMPLETION_INDEX={index} gives the index but not the count: set {COUNT_VARIABLE} or write auto/N"
        return index, count
    task = _integer(environ, "SLURM_ARRAY_TASK_ID")
    if task is not None:
        first = _integer(environ, "SLURM_ARRAY_TASK_MIN") or 0
        count = count if count is not None else _integer(environ, "SLURM_ARRAY_TASK_COUNT")
        if count is None:
            return f"SLURM_ARRAY_TASK_ID={task} gives the index but not the count: SLURM_ARRAY_TASK_COUNT is not set; write auto/N"
        return task - first, count
    return "neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm array) is set; pass I/N"


def parse_shard(value: Any, key: str, where: str, environ: Mapping[str, str] | None = None) -> Shard | None:
    """The ``shard`` setting: ``I/N``, ``auto`` or ``auto/N`` (``None`` or ``""``: no sharding)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match = re.fullmatch(r"\s*(\d+|auto)\s*(?:/\s*(\d+)\s*)?", str(value))
    if match is None or (match.group(1) != "auto" and match.group(2) is None):
        raise invalid(value, key, where, EXPECTED)
    count = int(match.group(2)) if match.group(2) is not None else None
    if match.group(1) == "auto":
        found = from_environment(count, os.environ if environ is None else environ)
        if isinstance(found, str):
            raise invalid(value, key, where, f"{EXPECTED}; {found}")
        origin = _origin(os.environ if environ is None else environ, count)
        index, count = found
        if 0 <= index < count:
            return Shard(index, count, origin)
    else:
        index = int(match.group(1))
    if count is None or count < 1 or not 0 <= index < count:
        raise invalid(value, key, where, f"{EXPECTED}; got index {index} of {count} shards")
    return Shard(index, count)


def shard_of(index: np.ndarray, seed: int, count: int) -> np.ndarray:
    """The shard of each sample index, a stable hash (splitmix64) of the index and the seed."""
    with np.errstate(over="ignore"):
        x = np.asarray(index, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x % np.uint64(count)).astype(np.int64)


def owner(check_id: str, model_id: str, seed: int, count: int) -> int:
    """The shard that runs a check whole (one not computed from per-sample outcomes)."""
    return zlib.crc32(f"{model_id}\x1f{check_id}".encode(), seed) % count


class OtherShard(Exception):
    """The check runs whole on another shard (:func:`owner`)."""
