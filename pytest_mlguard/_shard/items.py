"""The items of a merge: one per check of the shards, which passes, fails or skips as the unsharded
run's item would, so that the terminal, the JUnit XML properties, the report, the badges, the
baseline comparison and the exit code come from pytest and the reporter as in any run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..checks._base import CheckResult
from .merge import ShardFile, load_shards
from .recompute import recompute, replay_evaluation


@dataclass
class Merged:
    """A merged check: its result, or why it has none (``skipped`` or ``failed``, of ``kind``)."""

    nodeid: str
    model: str
    check: str
    result: CheckResult | None = None
    skipped: str = ""
    failed: str = ""
    kind: str = ""


def _kinds(shard: ShardFile) -> dict[tuple[str, str], str]:
    return {(entry["model"], entry["id"]): entry["kind"] for entry in shard.header["checks"]}


def _unmeasured(shards: list[ShardFile], sample: set[tuple[str, str]]) -> dict[tuple[str, str], Merged]:
    """The checks that some shard skipped or ended without a measurement (a sample check that failed on
    one shard fails the merge's check, naming the shard; a whole check is its owner's)."""
    out: dict[tuple[str, str], Merged] = {}
    for shard in shards:
        for key_name, field in (("errors", "failed"), ("skipped", "skipped")):
            for entry in shard.header[key_name]:
                key = (entry["model"], entry["id"])
                if entry["kind"] == "other-shard" or key in out:
                    continue
                reason = f"on {shard.name}: {entry['reason']}" if key in sample or field == "failed" else entry["reason"]
                out[key] = Merged(entry["nodeid"], entry["model"], entry["id"], kind=entry["kind"])
                setattr(out[key], field, reason)
    return out


def _lost(shards: list[ShardFile], found: set[tuple[str, str]]) -> dict[tuple[str, str], Merged]:
    """The checks a shard left to the shard that runs them whole (``other-shard``) and that no shard
    measured, skipped or errored on: that shard ran without them (another ``-k``, ``-m`` or node ids).
    Each fails the merge's check, naming both shards."""
    out: dict[tuple[str, str], Merged] = {}
    for shard in shards:
        for entry in shard.header["skipped"]:
            key = (entry["model"], entry["id"])
            if entry["kind"] != "other-shard" or key in found or key in out:
                continue
            holder = re.search(r"runs whole on (shard \d+/\d+)", entry["reason"])
            message = (
                f"{entry['id']} on model {entry['model']!r}: no shard measured it: {shard.name} left it to "
                f"{holder.group(1) if holder else 'the shard that runs it whole'}, which did not run it "
                "(run every shard with the same selection: -k, -m, node ids)"
            )
            out[key] = Merged(entry["nodeid"], entry["model"], entry["id"], failed=message, kind="error")
    return out


def merged_checks(shards: list[ShardFile], settings: Any) -> list[Merged]:
    """Every check of the shards, merged (:mod:`.recompute`), in the order the first shard ran them."""
    sample: set[tuple[str, str]] = set()
    for shard in shards:
        sample |= set(_kinds(shard))
    unmeasured = _unmeasured(shards, sample)
    evaluations: dict[str, Any] = {}
    merged: dict[tuple[str, str], Merged] = {}
    for shard in shards:
        for data in shard.header["results"]:
            key = (data["model"], data["id"])
            if key in merged or key in unmeasured:
                continue
            if key in sample:
                if data["model"] not in evaluations:
                    evaluations[data["model"]] = replay_evaluation(shards, data["model"], settings)
                result = recompute(shards, data["model"], data["id"], settings, evaluations[data["model"]])
            else:
                result = CheckResult.from_dict(data)
            merged[key] = Merged(data.get("nodeid", data["id"]), data["model"], data["id"], result=result)
    return [*merged.values(), *unmeasured.values(), *_lost(shards, set(merged) | set(unmeasured)).values()]


class MergedCheck(pytest.Item):
    """A check of the merge: passes, fails or is skipped as its :class:`Merged` says."""

    def __init__(self, *, merged: Merged, runner: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.merged = merged
        self.runner = runner
        self.add_marker(pytest.mark.mlguard)

    def runtest(self) -> None:
        merged = self.merged
        if merged.skipped or merged.failed:
            kind = ("mlguard_skipped" if merged.skipped else "mlguard_error", merged.kind)
            self.user_properties += [("mlguard_check", merged.check), ("mlguard_model", merged.model), kind]
        if merged.skipped:
            pytest.skip(merged.skipped)
        if merged.failed:
            pytest.fail(merged.failed, pytrace=False)
        assert merged.result is not None
        self.runner.keep(merged.result, self)
        if not merged.result.passed:
            pytest.fail(self.runner.failure_message(merged.result, self.nodeid), pytrace=False)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.nodeid


def merge_items(session: pytest.Session, directories: list[str], settings: Any, runner: Any, record: Any) -> list[pytest.Item]:
    """The items of ``--mlguard-merge directories``; the shards' model descriptions go to ``record``."""
    from .._settings import config_files
    from .statistics import compared_settings

    shards = load_shards(directories, session.config.invocation_params.dir, compared_settings(settings), config_files(session.config))
    for shard in shards:
        record.models.update(shard.header["descriptions"])
    items: list[pytest.Item] = [
        MergedCheck.from_parent(session, name=merged.nodeid, nodeid=merged.nodeid, merged=merged, runner=runner)
        for merged in merged_checks(shards, settings)
    ]
    record.planned_items.update(item.nodeid for item in items)
    return items
