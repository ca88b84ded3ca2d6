"""``gate[robustness]`` of any task: the candidate's planned checks of the other model-and-data families rerun
on the model in production (on the same samples, with the same random draws), compared metric by metric
(:func:`~._results.compare_results`), paired where the two measured the same samples: per-sample outcomes of a
proportion (:mod:`pytest_mlguard._verdicts.paired`), or a metric of a whole set of images such as an mIoU or
an mAP as a function of the images' indices (:mod:`pytest_mlguard._verdicts.resampled`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ...checks._base import CheckResult, CheckSpec, Measurement
from ...errors import CheckError, MlguardError, NotApplicable
from ._results import compare_results

if TYPE_CHECKING:
    from ...checks._evaluation import Evaluation
    from ...config._settings import Settings
    from ..._verdicts.paired import Outcomes
    from ..._verdicts.resampled import Resampled


class Paired(NamedTuple):
    """What pairs the reruns of the two models, by check id (candidate, baseline): per-sample outcomes, and
    metrics of a whole set of images as functions of the images' indices."""

    outcomes: dict[str, tuple[Outcomes, Outcomes]]
    resampled: dict[str, tuple[Resampled, Resampled]]


def _fixed_n(settings: Settings) -> Settings:
    """``settings`` for the gate's reruns: no early stopping and no drawing more samples, so that the
    candidate and the baseline are measured on the same samples (a paired comparison needs them all)."""
    from ...config._settings import Settings

    values = {**settings.as_dict(), "verdict.early_stop": "off", "verdict.more_samples": "off"}
    return Settings(values, {key: settings.source(key) for key in values})


def baseline_evaluation(evaluation: Evaluation, baseline: Any) -> Evaluation:
    """The evaluation of ``baseline`` on the candidate's data: the same samples and random draws (keyed by
    model id); its checks neither stop early nor draw more, so that both models measure every sample."""
    from ...checks._evaluation import Evaluation

    found = Evaluation(baseline, evaluation.full_data, _fixed_n(evaluation.settings), model_id=evaluation.model_id)
    found.limits = evaluation.limits
    found.artifacts = "artifacts/gate-baseline"  # not over the candidate's checks' own (same model id)
    return found


def robustness_comparison(spec: CheckSpec, evaluation: Evaluation, baseline: Evaluation) -> dict[str, Any]:
    """The checks ``gate[robustness]`` reruns (``gate.compare``), on the candidate and on ``baseline``, compared
    metric by metric (:func:`compare_results`), paired where the two measured the same samples; any task."""
    from ...checks._evaluation import stable_seed

    results = _robustness_results(evaluation, baseline, spec.param("compare", ()))
    rng = np.random.default_rng(stable_seed(evaluation.settings.seed, evaluation.model_id, "gate[robustness]", "paired-bootstrap"))  # one seed, whichever gate check compares first
    robustness = compare_results(
        results[0],
        results[1],
        tolerance=spec.param("tolerance"),
        tolerances=dict(spec.param("tolerances")),
        score_drop=spec.param("score_drop"),
        weights=evaluation.settings.get("score.weights"),
        outcomes=results[3].outcomes,
        confidence=evaluation.rules.check_confidence,
        method=evaluation.rules.interval,  # type: ignore[arg-type]
        resampled=results[3].resampled,
        resamples=evaluation.settings.get("verdict.bootstrap"),
        rng=rng,
    )
    robustness["skipped"] = results[2]
    return robustness


def _robustness_results(evaluation: Evaluation, baseline: Evaluation, compare: tuple[str, ...] = ()) -> tuple[list[CheckResult], list[CheckResult], list[str], Paired]:
    """The candidate's planned checks of the other model-and-data families (those of ``compare``, if
    given: family names or check ids), run on both models, and what pairs them (candidate, baseline): the
    per-sample outcomes of those that kept them (:func:`~pytest_mlguard._verdicts.paired.keep_outcomes`),
    the metric over the images' indices of those that kept it (:func:`~pytest_mlguard._verdicts.resampled.keep_statistic`)."""
    from ...checks._registry import families
    from ..._verdicts.paired import kept_outcomes
    from ..._verdicts.resampled import kept_statistic

    from ...checks._evaluation import Evaluation

    candidate = evaluation.memo(("gate-candidate",), lambda: Evaluation(evaluation.model, evaluation.full_data, baseline.settings, model_id=evaluation.model_id))
    candidate.limits = evaluation.limits
    candidate.artifacts = "artifacts/gate-candidate"  # not over the check's own artefacts, which a shard's merge reads
    candidate_results, baseline_results, skipped = [], [], []
    outcomes: dict[str, tuple[Outcomes, Outcomes]] = {}
    resampled: dict[str, tuple[Resampled, Resampled]] = {}
    matched: set[str] = set()
    for family in families():
        if not family.rerun or not set(family.needs) <= {"model", "data"}:  # Family.rerun: a measure to compare
            continue
        for spec in family.planned(evaluation.settings):
            if compare and spec.family not in compare and spec.id not in compare:
                continue
            matched.update((spec.family, spec.id))
            try:
                ours, our_outcomes = evaluation.memo(
                    ("gate-rerun", spec.id), lambda family=family, spec=spec: (candidate.run(family, spec), kept_outcomes(candidate, spec.id))
                )
                theirs = baseline.run(family, spec)
            except NotApplicable as exc:
                skipped.append(f"{spec.id}: {exc}")
                continue
            except MlguardError as exc:
                raise CheckError(f"{spec.id} could not run for the comparison: {exc}") from exc
            candidate_results.append(ours)
            baseline_results.append(theirs)
            their_outcomes = kept_outcomes(baseline, spec.id)
            if our_outcomes is not None and their_outcomes is not None:
                outcomes[spec.id] = (our_outcomes, their_outcomes)
            ours_kept, theirs_kept = kept_statistic(candidate, spec.id), kept_statistic(baseline, spec.id)
            if ours_kept is not None and theirs_kept is not None:
                resampled[spec.id] = (ours_kept, theirs_kept)
    skipped += [f"gate.compare names {name!r}, which is no planned check or family" for name in compare if name not in matched]
    return candidate_results, baseline_results, skipped, Paired(outcomes, resampled)


def robustness_measurement(evaluation: Evaluation, robustness: dict[str, Any], details: dict[str, Any], rollback: dict[str, Any]) -> Measurement:
    """``gate[robustness]``: the metrics whose estimate regressed beyond tolerance, counted, with the
    interval from those whose paired interval decides a regression to those whose interval reaches
    beyond the tolerance (:func:`compare_results`): the check fails when one regression is decided."""
    keys = ("metrics", "score", "skipped", "regressions", "decided", "inconclusive", "confidence")
    details.update({key: robustness[key] for key in keys})
    value = len(robustness["regressions"])
    decided, possible = len(robustness["decided"]), len(robustness["decided"]) + len(robustness["inconclusive"])
    score = robustness["score"]
    undecided = f": {', '.join(robustness['inconclusive'])}" if robustness["inconclusive"] else ""
    summary = (
        f"{len(robustness['metrics'])} metrics and the robustness score compared, {value} regressed beyond tolerance "
        f"({decided} decided by a paired interval of the same samples or a point estimate, {len(robustness['inconclusive'])} "
        f"inconclusive{undecided}); score {score['baseline']:.1f} (baseline) -> {score['candidate']:.1f} (candidate)"
    )
    if robustness["confidence"] is None:  # no metric with per-sample outcomes: point estimates, as before
        return Measurement(value=float(value), n=evaluation.data.n, details=details, message=f"{summary}\n{rollback['verdict']}")
    from ._sizes import robustness_required_n

    interval = (float(min(decided, value)), float(max(possible, value)))
    method = f"paired-{evaluation.rules.interval}"
    needed = robustness_required_n(robustness, evaluation.rules.interval) if interval[0] <= 0 < interval[1] else None  # type: ignore[arg-type]
    message = f"{summary}\n{rollback['verdict']}"
    return Measurement(float(value), evaluation.data.n, details=details, message=message, interval=interval, interval_method=method, required_n=needed)
