"""Two models measured on the same samples: their per-sample outcomes, paired, and whether one regressed.

The model-version gate reruns a candidate's checks on the model in production, on the same samples
with the same random draws. A proportion metric (accuracy, accuracy under a corruption, robust
accuracy) of the two is then a pair of correlated proportions, and the change is judged with the
paired interval of Newcombe (1998, method 10; :func:`~pytest_mlguard.verdicts.intervals.paired_interval`):
only the samples on which the two models differ move it (McNemar's setting). Two independent
intervals, one a model, ignore that correlation: they are about as wide as the sum of both and
decide far less often.

A check keeps its per-sample outcomes for such a comparison with :func:`keep_outcomes` (in its
evaluation's memo, by check id, with the positions of the samples in the check's own order: a check
that stopped early or drew more samples saw some of them only); :func:`kept_outcomes` reads them
back, and :func:`paired_regression` decides a change against a tolerance.

Example:
    >>> rng = np.random.default_rng(0)
    >>> baseline = rng.random(360) < 0.9
    >>> candidate = baseline & (rng.random(360) > 0.1)  # loses a tenth of the samples it got right
    >>> out = paired_regression(baseline, candidate, tolerance=0.02)
    >>> out["decision"], round(out["change"], 3)
    ('regressed', -0.069)
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

#: per-sample outcomes of a check: the positions of its samples in the check's order, and the outcomes
Outcomes = tuple[np.ndarray, np.ndarray]

_MEMO_KEY = ("paired", "per-sample-outcomes")


def keep_outcomes(evaluation: Any, check_id: str, outcomes: Any, positions: Any = None) -> None:
    """Keep the per-sample outcomes (booleans: the sample counts) of ``check_id`` in ``evaluation``
    (anything with ``memo(key, compute)``), at ``positions`` in the check's order of samples
    (default: the first ``len(outcomes)``). A later run of the same check replaces them."""
    values = np.asarray(outcomes, dtype=bool)
    where = np.arange(len(values)) if positions is None else np.asarray(positions, dtype=np.int64)
    if where.shape != values.shape:
        raise ValueError(f"expected one position per outcome, got {where.shape} positions and {values.shape} outcomes")
    evaluation.memo(_MEMO_KEY, dict)[check_id] = (where, values)


def kept_outcomes(evaluation: Any, check_id: str) -> Outcomes | None:
    """What :func:`keep_outcomes` kept for ``check_id`` in ``evaluation``, or ``None``."""
    kept: dict[str, Outcomes] = evaluation.memo(_MEMO_KEY, dict)
    return kept.get(check_id)


def paired_samples(first: Outcomes, second: Outcomes) -> tuple[np.ndarray, np.ndarray]:
    """The outcomes of the samples at the positions both saw, in the order of those positions.

    Example:
        >>> a = (np.array([0, 1, 2]), np.array([True, False, True]))
        >>> b = (np.array([2, 0]), np.array([False, True]))
        >>> [x.tolist() for x in paired_samples(a, b)]
        [[True, True], [True, False]]
    """
    _, in_first, in_second = np.intersect1d(first[0], second[0], assume_unique=True, return_indices=True)
    return first[1][in_first], second[1][in_second]


def paired_regression(
    baseline: Any,
    candidate: Any,
    *,
    tolerance: float,
    kind: Literal["floor", "ceiling"] = "floor",
    confidence: float = 0.95,
    method: Literal["clopper-pearson", "wilson"] = "clopper-pearson",
) -> dict[str, Any]:
    """Did the candidate's proportion regress from the baseline's by more than ``tolerance``?

    ``baseline`` and ``candidate`` are per-sample booleans of the same samples. A floor metric
    regresses when it falls, a ceiling metric when it rises. Returns ``change`` (candidate minus
    baseline), ``interval`` (its paired interval at ``confidence``), ``n``, ``pairs`` (both, only the
    baseline, only the candidate, neither) and ``decision``: ``regressed`` (the whole interval lies
    beyond the tolerance), ``within`` (none of it does) or ``inconclusive``.
    """
    from .intervals import paired_counts, paired_interval_counts

    pairs = paired_counts(baseline, candidate)
    low, high = paired_interval_counts(*pairs, confidence=confidence, method=method)
    n = sum(pairs)
    change = (pairs[2] - pairs[1]) / n
    # the regression (how much worse) is -change for a floor metric, +change for a ceiling one
    worst, best = (-low, -high) if kind == "floor" else (high, low)
    decision = "regressed" if best > tolerance else "within" if worst <= tolerance else "inconclusive"
    return {"change": change, "interval": (low, high), "n": n, "pairs": list(pairs), "decision": decision}
