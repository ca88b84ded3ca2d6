"""Running a check through the cache, and the terminal's lines on it.

Example:
    >>> result = run_cached(cache, evaluation, family, spec)  # doctest: +SKIP
    >>> result.details.get("cached")  # doctest: +SKIP
    {'key': '5b0c...', 'stored_at': '...', 'duration_s': 0.33, 'artifacts': 'none'}
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .fingerprint import Uncacheable
from .keys import key_of
from .storage import Rejected, ResultCache

if TYPE_CHECKING:
    from ..checks._base import CheckResult, CheckSpec, Family
    from ..checks._evaluation import Evaluation


_NOT_USED = "stored entry not used: "
_NOT_CACHED = "not cached: "


def cached_result(cache: ResultCache | None, evaluation: Evaluation, family: Family, spec: CheckSpec) -> CheckResult | None:
    """The cached result of ``spec`` measured on all its samples, if there is one (no model
    evaluation); ``None`` otherwise (:func:`run_cached` then says why, where there is a reason)."""
    if cache is None:
        return None
    try:
        return cache.read_result(key_of(evaluation, spec, family, limited=False), evaluation, spec)
    except (Uncacheable, Rejected):
        return None


def _noted(result: CheckResult, reason: str | None) -> CheckResult:
    """``result`` with ``details["cache_miss"]``: why the cache did not give it (one line)."""
    if reason is None:
        return result
    return dataclasses.replace(result, details={**result.details, "cache_miss": " ".join(reason.split())})


def run_cached(cache: ResultCache | None, evaluation: Evaluation, family: Family, spec: CheckSpec) -> CheckResult:
    """``evaluation.run(family, spec)``, or its cached result when nothing that determines it changed.

    A hit evaluates the model not once: the key hashes weights and data, never predictions. Its
    verdict is decided again from the stored measurement. A check that cannot be cached, or whose
    stored entry cannot be used, is measured, and ``details["cache_miss"]`` says why.
    """
    if cache is None:
        return evaluation.run(family, spec)
    try:
        key = key_of(evaluation, spec, family)
        keys = [key]
        if getattr(evaluation, "limits", None) is not None:  # a result measured without the budget's limits does more than asked
            keys.insert(0, key_of(evaluation, spec, family, limited=False))
    except Uncacheable as exc:
        return _noted(evaluation.run(family, spec), _NOT_CACHED + str(exc))
    from ..errors import NotApplicable

    miss = None
    for candidate in dict.fromkeys(keys):
        try:
            hit = cache.read_result(candidate, evaluation, spec)
        except Rejected as exc:
            miss = miss or _NOT_USED + str(exc)
            continue
        if hit is not None:
            return hit
    started = time.time()
    try:
        measurement, duration = evaluation.measure(family, spec)
    except NotApplicable as exc:  # remembered too: deciding it may import what the check needs
        with contextlib.suppress(OSError, Rejected):
            cache.put(key, {"not_applicable": str(exc)}, evaluation, spec)
        raise
    result = evaluation.result(spec, measurement, duration)
    try:
        cache.store(key, measurement, duration, evaluation, spec, started=started)
    except (OSError, Rejected) as exc:
        warnings.warn(f"pytest-mlguard could not cache the result of {spec.id} in {cache.directory}: {exc}", RuntimeWarning, stacklevel=2)
    return _noted(result, miss)


def _checks(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def cache_summary(results: Sequence[Mapping[str, Any]], directory: Path, start: Path) -> str:
    """The terminal's lines on the cache: how many results it gave, and where it is; then one line
    per reason a check was not cached or a stored entry was not used."""
    details = [r["details"] if isinstance(r.get("details"), Mapping) else {} for r in results]
    cached = [d["cached"] for d in details if isinstance(d.get("cached"), Mapping)]
    saved = sum(float(c.get("duration_s") or 0.0) for c in cached)
    where = os.path.relpath(directory, start)
    uncached = sum(str(d.get("cache_miss", "")).startswith(_NOT_CACHED) for d in details)
    if not cached:
        stored = f"measured and stored in {where}" if not uncached else f"measured; {len(results) - uncached} stored in {where}"
        lines = [f"mlguard cache: 0 of {len(results)} results reused ({stored}); --mlguard-cache-clear empties it"]
    else:
        lines = [
            f"mlguard cache: {len(cached)} of {len(results)} results reused from {where} "
            f"(unchanged weights, data and settings; {saved:.1f}s of checks not rerun); --mlguard-cache-clear empties it"
        ]
    reasons: dict[str, list[str]] = {}
    for result, detail in zip(results, details):
        if isinstance(detail.get("cache_miss"), str):
            reasons.setdefault(detail["cache_miss"], []).append(f"{result.get('id')} of {result.get('model')!r}")
    for reason, names in reasons.items():
        if reason.startswith(_NOT_USED):
            entries = "1 stored entry" if len(names) == 1 else f"{len(names)} stored entries"
            lines.append(f"mlguard cache: {entries} not used (measured again): {_checks(names)}: {reason[len(_NOT_USED):]}")
        else:
            checks = "1 check" if len(names) == 1 else f"{len(names)} checks"
            lines.append(f"mlguard cache: {checks} not cached ({_checks(names)}): {reason.removeprefix(_NOT_CACHED)}")
    return "\n".join(lines)
