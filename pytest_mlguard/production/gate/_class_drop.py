"""The interval of the largest per-class accuracy drop of a candidate from its baseline, paired
(re-exported by :mod:`pytest_mlguard.production.gate.compare`; the rollback's reasons read it too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def class_drop_interval(per_class: Mapping[str, Mapping[str, Any]], confidence: float = 0.95, method: str = "clopper-pearson") -> tuple[float, float] | None:
    """Interval of the largest per-class accuracy drop from the baseline to the candidate, at ``confidence``.

    The two models are measured on the same samples, so each class's change gets the paired interval
    of Newcombe (1998, method 10; :func:`~pytest_mlguard._verdicts.intervals.paired_interval`) from its
    ``pairs``, not two independent intervals (which ignore the correlation and are far too wide). Each
    class's interval is drawn at ``1 - (1 - confidence) / K`` so that all K hold at once, and then the
    largest drop lies between the largest low end and the largest high end. ``None`` without classes.

    Example:
        >>> classes = {"a": {"pairs": [900, 0, 0, 100]}, "b": {"pairs": [800, 50, 0, 150]}}  # b drops 0.05
        >>> low, high = class_drop_interval(classes)
        >>> 0 < low < 0.05 < high
        True
    """
    from ..._verdicts.intervals import paired_interval_counts

    pairs = [entry["pairs"] for entry in per_class.values() if sum(entry["pairs"]) > 0]
    if not pairs:
        return None
    share = 1 - (1 - confidence) / len(pairs)
    changes = [paired_interval_counts(*counts, confidence=share, method=method) for counts in pairs]  # type: ignore[arg-type]
    # a drop is minus the change (candidate - baseline): its interval is (-high, -low)
    return max(-high for _, high in changes), max(-low for low, _ in changes)
