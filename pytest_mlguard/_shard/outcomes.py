"""What the merge reads of every shard's statistics of one check: its per-sample arrays put back in the
unsharded order, and the early stop of shards that stopped on their own share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .merge import ShardFile

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation


def merged_arrays(shards: list[ShardFile], entries: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``names`` of one entry per shard, concatenated in the order of their ``positions``."""
    parts = {name: [shards[i].array(entry["arrays"][name]) for i, entry in enumerate(entries)] for name in ("positions", *names)}
    positions = np.concatenate(parts["positions"])
    order = np.argsort(positions, kind="stable")
    return {name: np.concatenate(values)[order] for name, values in parts.items()}


def merged_early_stop(shards: list[ShardFile], entries: list[dict[str, Any]], stops: list[dict[str, Any]], evaluation: Evaluation) -> dict[str, Any] | None:
    """``details["early_stop"]`` of a merged check some shard stopped early, with its ``interval``: the
    confidence set of the product of the shards' mixture martingales at their stopping times
    (:func:`~pytest_mlguard._verdicts.sequential.product_confidence_sequence`); ``None`` if none stopped."""
    from .._verdicts.sequential import product_confidence_sequence

    if not any(stop.get("stopped") for stop in stops):
        return None
    counts = []
    for shard, entry in zip(shards, entries):
        outcomes = shard.array(entry["arrays"]["outcomes"])
        counts.append((int(outcomes.sum()), len(outcomes)))
    n = sum(size for _, size in counts)
    return {
        "mode": "sequential",
        "stopped": True,
        "shards_stopped": sum(bool(stop.get("stopped")) for stop in stops),
        "samples_used": n,
        "samples_skipped": evaluation.unsharded_n - n,
        "evaluations_saved": sum(int(stop.get("evaluations_saved") or 0) for stop in stops),
        "interval": product_confidence_sequence(counts, evaluation.rules.check_confidence),
    }
