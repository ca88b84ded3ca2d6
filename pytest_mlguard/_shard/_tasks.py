"""Which models shard: a classifier's, whose checks are functions of per-sample outcomes.

A shard writes each sample's outcome, the merge adds them up (:mod:`~pytest_mlguard._shard.statistics`).
A segmentation model's mIoU and a detector's mAP are metrics of the whole set (the confusion of every
pixel, the ranking of every box), which no shard's part gives; so a run whose ``task`` is not
classification stops with a usage error when it starts as a shard or a merge, before any check runs.

Example:
    >>> from pytest_mlguard.checks._registry import all_keys
    >>> from pytest_mlguard.config._settings import resolve
    >>> settings = resolve(cli={"task": "detection", "shard": "0/2"}, environ={}, keys=all_keys())
    >>> try:
    ...     check_task(settings, merging=[])
    ... except ConfigError as exc:
    ...     print(str(exc).split(";")[0])
    --mlguard-shard 0/2 (shard, from command line (--mlguard-shard)) supports classification models only (their checks add up each sample's outcome)
    >>> check_task(resolve(cli={"shard": "0/2"}, environ={}, keys=all_keys()), merging=[])  # a classifier shards
"""

from __future__ import annotations

from collections.abc import Sequence

from ..config._settings import Settings
from ..errors import ConfigError

#: the task whose checks a shard measures on its samples and the merge recomputes
SHARDED_TASK = "classification"


def check_task(settings: Settings, merging: Sequence[str]) -> None:
    """Raise ``ConfigError`` if this run is a shard (``shard``) or a merge (``merging``: its shard
    directories) of a model whose ``task`` is not classification; else nothing."""
    task, shard = settings.get("task"), settings.get("shard")
    if task == SHARDED_TASK or (shard is None and not merging):
        return
    run = "--mlguard-merge" if merging else f"--mlguard-shard {shard.describe()} (shard, from {settings.source('shard')})"
    raise ConfigError(
        f"{run} supports {SHARDED_TASK} models only (their checks add up each sample's outcome); this run's model is "
        f"a {task} model (task = {task}, from {settings.source('task')}), whose metrics are measured on the whole set: "
        "run it unsharded (without --mlguard-shard and --mlguard-merge), or spread it over CI matrix jobs by check, "
        "each job an unsharded run of its own checks with its own report and exit code (-k accuracy, -k corruption, -k attack, ...)"
    )
