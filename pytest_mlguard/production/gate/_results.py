"""Every robustness metric of a candidate against the model in production, and whether it regressed:
the measurement behind ``gate[robustness]`` (:func:`compare_results`), a plain function over check
results and, where a check kept them, their per-sample outcomes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

    from ...checks._base import CheckResult
    from ..._verdicts.intervals import IntervalMethod
    from ..._verdicts.paired import Outcomes
    from ..._verdicts.resampled import Resampled


def _tolerance(result: CheckResult, tolerances: Mapping[str, float], default: float) -> float:
    for name in (result.id, result.metric, result.family):
        if name in tolerances:
            return float(tolerances[name])
    return default


def compare_results(
    candidate: Iterable[CheckResult],
    baseline: Iterable[CheckResult],
    *,
    tolerance: float = 0.02,
    tolerances: Mapping[str, float] | None = None,
    score_drop: float = 2.0,
    weights: Mapping[str, float] | None = None,
    outcomes: Mapping[str, tuple[Outcomes, Outcomes]] | None = None,
    confidence: float = 0.95,
    method: IntervalMethod = "clopper-pearson",
    resampled: Mapping[str, tuple[Resampled, Resampled]] | None = None,
    resamples: int = 1000,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Every metric measured on both models, its change and whether it regressed beyond its tolerance.

    A floor metric (accuracy, robust accuracy) regresses when it falls, a ceiling metric (ECE) when
    it rises. The robustness score of each (:func:`pytest_mlguard.reporting._score.robustness_score`)
    regresses when it falls by more than ``score_drop`` points.

    ``outcomes`` holds, by check id, the per-sample outcomes of a proportion metric in the candidate
    and in the baseline (:func:`~pytest_mlguard._verdicts.paired.kept_outcomes`). The change of such a
    metric gets the paired interval of the samples both saw
    (:func:`~pytest_mlguard._verdicts.paired.paired_regression`), each at ``1 - (1 - confidence) / M``
    (M such metrics) so that all hold at once, and a ``decision``: ``regressed`` (decided), ``within``
    or ``inconclusive``. A metric without them (ECE, a sweep's mean) and the score are decided by
    their point estimates, as before. ``resampled`` holds, by check id, a metric of a whole set of images
    (mIoU, mAP) of both as functions of the images' indices: without per-sample outcomes, its change gets the
    paired bootstrap interval of ``resamples`` resamples drawn from ``rng``, at the same share of ``confidence``
    (:mod:`pytest_mlguard._verdicts.resampled`). ``regressions`` lists the metrics whose estimate regressed,
    ``decided`` those whose regression is decided, ``inconclusive`` those whose interval straddles
    the tolerance.
    """
    tolerances, outcomes = dict(tolerances or {}), dict(outcomes or {})
    by_id, metrics, candidate = {result.id: result for result in baseline}, [], list(candidate)
    resampled = {key: pair for key, pair in (resampled or {}).items() if resamples and pair[0].n == pair[1].n >= 2}
    paired = [r.id for r in candidate if r.id in by_id and (r.id in outcomes or r.id in resampled) and not (math.isnan(r.value) or math.isnan(by_id[r.id].value))]
    share = 1 - (1 - confidence) / max(1, len(paired))
    for result in candidate:
        base = by_id.get(result.id)
        if base is None:
            continue
        allowed = _tolerance(result, tolerances, tolerance)
        if result.id in paired and result.id not in outcomes:
            metrics.append(_resampled_row(result, base, allowed, resampled[result.id], share, resamples, rng))
        else:
            pair = outcomes.get(result.id) if result.id in paired else None
            metrics.append(_metric_row(result, base, allowed, pair, share, method))
    score = _score_change(list(by_id.values()), candidate, weights, score_drop)
    also = ["score"] if score["regressed"] else []
    return {
        "metrics": metrics,
        "score": score,
        "regressions": [m["id"] for m in metrics if m["regressed"]] + also,
        "decided": [m["id"] for m in metrics if m["decision"] == "regressed"] + also,
        "inconclusive": [m["id"] for m in metrics if m["decision"] == "inconclusive"],
        "confidence": round(share, 10) if paired else None,
    }


def _score_change(baseline: list[CheckResult], candidate: list[CheckResult], weights: Mapping[str, float] | None, score_drop: float) -> dict[str, Any]:
    """The robustness score of both, its change, and whether it fell by more than ``score_drop`` points."""
    from ...reporting._score import robustness_score

    scores = {name: robustness_score([r.to_dict() for r in results], weights)["score"] for name, results in (("baseline", baseline), ("candidate", candidate))}
    change = round(scores["candidate"] - scores["baseline"], 1)
    return {**scores, "change": change, "tolerance": score_drop, "regressed": -change > score_drop + 1e-9}


def _metric_row(
    result: CheckResult, base: CheckResult, allowed: float, outcomes: tuple[Outcomes, Outcomes] | None, confidence: float, method: IntervalMethod
) -> dict[str, Any]:
    """One metric's row: both values, the change, whether its estimate regressed beyond ``allowed``,
    and the paired interval and decision (:func:`_paired_row`)."""
    sign = 1.0 if result.kind == "floor" else -1.0
    if math.isnan(result.value) and not math.isnan(base.value):
        regression = math.inf
    elif math.isnan(result.value) or math.isnan(base.value):
        regression = 0.0 if math.isnan(result.value) else -math.inf
    else:
        regression = sign * (base.value - result.value)
    regressed = regression > allowed + 1e-12
    return {
        "id": result.id,
        "metric": result.metric,
        "kind": result.kind,
        "baseline": None if math.isnan(base.value) else base.value,
        "candidate": None if math.isnan(result.value) else result.value,
        "change": None if not math.isfinite(regression) else round(-sign * regression, 6),
        "tolerance": allowed,
        "regressed": regressed,
        **_paired_row(outcomes, result.kind, allowed, confidence, method, regressed),
    }


def _resampled_row(
    result: CheckResult, base: CheckResult, allowed: float, statistics: tuple[Resampled, Resampled], confidence: float, resamples: int, rng: np.random.Generator | None
) -> dict[str, Any]:
    """A metric row (:func:`_metric_row`) whose change gets the paired bootstrap interval of the images both saw."""
    import numpy as np

    from ..._verdicts.resampled import paired_bootstrap_regression

    row = _metric_row(result, base, allowed, None, confidence, "clopper-pearson")
    kind: Literal["floor", "ceiling"] = "floor" if result.kind == "floor" else "ceiling"
    rng = np.random.default_rng(0) if rng is None else rng
    out = paired_bootstrap_regression(statistics[1], statistics[0], tolerance=allowed, kind=kind, confidence=confidence, resamples=resamples, rng=rng)
    return {**row, "interval": [round(v, 6) for v in out["interval"]], "paired_n": out["n"], "interval_method": "paired-bootstrap-images", "decision": out["decision"]}


def _paired_row(
    outcomes: tuple[Outcomes, Outcomes] | None, kind: str, tolerance: float, confidence: float, method: IntervalMethod, regressed: bool
) -> dict[str, Any]:
    """A metric row's ``interval`` (of the change, paired; ``None`` without per-sample outcomes), its
    ``n`` of paired samples, their ``pairs`` (both right, only the baseline, only the candidate,
    neither) and its ``decision``."""
    from ..._verdicts.paired import paired_regression, paired_samples

    if outcomes is None:
        return {"interval": None, "paired_n": None, "decision": "regressed" if regressed else "within"}
    baseline, candidate = paired_samples(outcomes[1], outcomes[0])
    if not len(baseline):
        return {"interval": None, "paired_n": 0, "decision": "regressed" if regressed else "within"}
    out = paired_regression(baseline, candidate, tolerance=tolerance, kind=kind, confidence=confidence, method=method)  # type: ignore[arg-type]
    return {"interval": [round(v, 6) for v in out["interval"]], "paired_n": out["n"], "pairs": out["pairs"], "decision": out["decision"]}

