"""Comparing a candidate model with the baseline in production, and the ``gate`` checks' measurements.

:func:`compare_models` (predictions, per-class accuracy, disagreements) and :func:`compare_results`
(every robustness metric and the score) are plain functions; the checks share one comparison per
evaluation and baseline.

Example:
    >>> from pytest_mlguard.contract import CallableModel, EvalData
    >>> baseline = CallableModel(lambda x: np.eye(2)[(x[:, 0] > 0.5).astype(int)], input_shape=(1,), n_classes=2)
    >>> candidate = CallableModel(lambda x: np.eye(2)[np.zeros(len(x), int)], input_shape=(1,), n_classes=2)
    >>> comparison = compare_models(candidate, baseline, EvalData(np.array([[0.0], [1.0]]), [0, 1]))
    >>> comparison["agreement"], comparison["max_class_drop"]
    (0.5, 1.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ...checks.base import CheckResult, CheckSpec, Measurement, early_stop_measurement
from ...errors import CheckError, MlguardError, NotApplicable

if TYPE_CHECKING:
    from ...checks.evaluation import Evaluation
    from ...contract.data import EvalData
    from ...contract.model import Model

__all__ = ["class_drop_interval", "compare_models", "compare_results", "run_check"]

def _per_class(predicted: np.ndarray, labels: np.ndarray, classes: int) -> list[float | None]:
    return [float((predicted[labels == k] == k).mean()) if (labels == k).any() else None for k in range(classes)]


def _pairs(baseline: np.ndarray, candidate: np.ndarray) -> tuple[int, int, int, int]:
    from ...verdicts.intervals import paired_counts

    return paired_counts(baseline, candidate) if len(baseline) else (0, 0, 0, 0)


def class_drop_interval(per_class: Mapping[str, Mapping[str, Any]], confidence: float = 0.95, method: str = "clopper-pearson") -> tuple[float, float] | None:
    """Interval of the largest per-class accuracy drop from the baseline to the candidate, at ``confidence``.

    The two models are measured on the same samples, so each class's change gets the paired interval
    of Newcombe (1998, method 10; :func:`~pytest_mlguard.verdicts.intervals.paired_interval`) from its
    ``pairs``, not two independent intervals (which ignore the correlation and are far too wide). Each
    class's interval is drawn at ``1 - (1 - confidence) / K`` so that all K hold at once, and then the
    largest drop lies between the largest low end and the largest high end. ``None`` without classes.

    Example:
        >>> classes = {"a": {"pairs": [900, 0, 0, 100]}, "b": {"pairs": [800, 50, 0, 150]}}  # b drops 0.05
        >>> low, high = class_drop_interval(classes)
        >>> 0 < low < 0.05 < high
        True
    """
    from ...verdicts.intervals import paired_interval_counts

    pairs = [entry["pairs"] for entry in per_class.values() if sum(entry["pairs"]) > 0]
    if not pairs:
        return None
    share = 1 - (1 - confidence) / len(pairs)
    changes = [paired_interval_counts(*counts, confidence=share, method=method) for counts in pairs]  # type: ignore[arg-type]
    # a drop is minus the change (candidate - baseline): its interval is (-high, -low)
    return max(-high for _, high in changes), max(-low for low, _ in changes)


def compare_models(
    candidate: Model,
    baseline: Model,
    data: EvalData,
    *,
    candidate_proba: np.ndarray | None = None,
    baseline_proba: np.ndarray | None = None,
) -> dict[str, Any]:
    """Predictions of ``candidate`` and ``baseline`` on ``data``, compared (JSON-safe).

    Returns ``agreement``, ``accuracy`` of both, ``per_class`` (each class's accuracy in both, the
    change and its ``pairs``), ``pairs`` (of every sample: both right, only the baseline, only the
    candidate, neither: what a paired interval of the change needs), ``max_class_drop`` (the largest drop, negative when every class improved),
    ``disagreements`` (every sample on which they differ: label and both predictions) and the counts
    ``fixed`` (the baseline was wrong, the candidate is right) and ``broken`` (the reverse).
    """
    if candidate.n_classes != baseline.n_classes:
        raise CheckError(
            f"the candidate {candidate.name!r} has {candidate.n_classes} classes and the baseline "
            f"{baseline.name!r} {baseline.n_classes}: they cannot be compared"
        )
    p_c = candidate.predict_proba(data.x) if candidate_proba is None else candidate_proba
    p_b = baseline.predict_proba(data.x) if baseline_proba is None else baseline_proba
    top_c, top_b, y = p_c.argmax(axis=1), p_b.argmax(axis=1), data.y
    per_class_c = _per_class(top_c, y, candidate.n_classes)
    per_class_b = _per_class(top_b, y, candidate.n_classes)
    per_class = {}
    drops = []
    for k, name in enumerate(candidate.class_names):
        if per_class_c[k] is None or per_class_b[k] is None:
            continue
        change = per_class_c[k] - per_class_b[k]  # type: ignore[operator]
        drops.append(-change)
        mask = y == k
        per_class[name] = {
            "baseline": per_class_b[k],
            "candidate": per_class_c[k],
            "change": round(change, 6),
            "pairs": list(_pairs(top_b[mask] == k, top_c[mask] == k)),
        }
    differ = np.flatnonzero(top_c != top_b)
    return {
        "agreement": float((top_c == top_b).mean()),
        "accuracy": {"baseline": float((top_b == y).mean()), "candidate": float((top_c == y).mean())},
        "per_class": per_class,
        "max_class_drop": float(max(drops)) if drops else 0.0,
        "disagreements": [
            {"index": int(i), "label": int(y[i]), "baseline": int(top_b[i]), "candidate": int(top_c[i])} for i in differ
        ],
        "pairs": list(_pairs(top_b == y, top_c == y)),
        "fixed": int(((top_b != y) & (top_c == y)).sum()),
        "broken": int(((top_b == y) & (top_c != y)).sum()),
    }


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
) -> dict[str, Any]:
    """Every metric measured on both models, its change and whether it regressed beyond its tolerance.

    A floor metric (accuracy, robust accuracy) regresses when it falls, a ceiling metric (ECE) when
    it rises. The robustness score of each (:func:`pytest_mlguard.reporting.score.robustness_score`)
    regresses when it falls by more than ``score_drop`` points.
    """
    from ...reporting.score import robustness_score

    tolerances = dict(tolerances or {})
    by_id = {result.id: result for result in baseline}
    metrics = []
    candidate = list(candidate)
    for result in candidate:
        base = by_id.get(result.id)
        if base is None:
            continue
        sign = 1.0 if result.kind == "floor" else -1.0
        if math.isnan(result.value) and not math.isnan(base.value):
            regression = math.inf
        elif math.isnan(result.value) or math.isnan(base.value):
            regression = 0.0 if math.isnan(result.value) else -math.inf
        else:
            regression = sign * (base.value - result.value)
        allowed = _tolerance(result, tolerances, tolerance)
        metrics.append(
            {
                "id": result.id,
                "metric": result.metric,
                "kind": result.kind,
                "baseline": None if math.isnan(base.value) else base.value,
                "candidate": None if math.isnan(result.value) else result.value,
                "change": None if not math.isfinite(regression) else round(-sign * regression, 6),
                "tolerance": allowed,
                "regressed": regression > allowed + 1e-12,
            }
        )
    scores = {
        name: robustness_score([r.to_dict() for r in results], weights)["score"]
        for name, results in (("baseline", list(by_id.values())), ("candidate", candidate))
    }
    score_change = round(scores["candidate"] - scores["baseline"], 1)
    score = {**scores, "change": score_change, "tolerance": score_drop, "regressed": -score_change > score_drop + 1e-9}
    regressions = [m["id"] for m in metrics if m["regressed"]] + (["score"] if score["regressed"] else [])
    return {"metrics": metrics, "score": score, "regressions": regressions}


#: the fixture that returns the model in production (docs/production.md)
BASELINE_FIXTURE = "mlguard_baseline_model"


def _baseline_model(evaluation: Evaluation) -> tuple[Any, Model]:
    """What ``mlguard_baseline_model`` returned, and it as a :class:`Model`, checked as the candidate
    is: a value that is no model, inputs of another shape or a malformed output is a ``ContractError``
    naming the fixture (the output checked once, on a few samples, by :func:`probe_model`)."""
    from ...contract.declaration import probe_model
    from ...contract.model import as_model
    from ...errors import ContractError, InvalidArgument

    extras = getattr(evaluation, "extras", {}) or {}
    baseline = extras.get("baseline_model")
    if baseline is None:
        raise CheckError(
            "the gate compares the candidate (mlguard_model) with the model in production: define a fixture "
            "mlguard_baseline_model in conftest.py that returns it (see docs/production.md)"
        )
    try:
        model = as_model(baseline, evaluation.full_data, fixture=BASELINE_FIXTURE)
    except InvalidArgument as exc:
        raise ContractError(str(exc), fixture=BASELINE_FIXTURE) from None
    if model.input_shape != evaluation.model.input_shape:
        raise ContractError(
            f"the baseline {model.name!r} takes inputs of shape {model.input_shape} and the candidate "
            f"{evaluation.model.name!r} (mlguard_model) {evaluation.model.input_shape}: they cannot be compared on the same data",
            fixture=BASELINE_FIXTURE,
        )
    settings = evaluation.settings
    evaluation.memo(("gate", "probe", id(baseline)), lambda: probe_model(model, evaluation.full_data, settings.device, fixture=BASELINE_FIXTURE))
    return baseline, model


def _robustness_results(
    evaluation: Evaluation, baseline: Evaluation, compare: tuple[str, ...] = ()
) -> tuple[list[CheckResult], list[CheckResult], list[str]]:
    """The candidate's planned checks of the other model-and-data families (those of ``compare``, if
    given: family names or check ids), run on both models."""
    from ...checks.registry import families

    candidate_results, baseline_results, skipped = [], [], []
    matched: set[str] = set()
    for family in families():
        if not family.rerun or not set(family.needs) <= {"model", "data"}:  # Family.rerun: a measure to compare
            continue
        for spec in family.planned(evaluation.settings):
            if compare and spec.family not in compare and spec.id not in compare:
                continue
            matched.update((spec.family, spec.id))
            try:
                ours = evaluation.memo(("gate-rerun", spec.id), lambda family=family, spec=spec: evaluation.run(family, spec))
                theirs = baseline.run(family, spec)
            except NotApplicable as exc:
                skipped.append(f"{spec.id}: {exc}")
                continue
            except MlguardError as exc:
                raise CheckError(f"{spec.id} could not run for the comparison: {exc}") from exc
            candidate_results.append(ours)
            baseline_results.append(theirs)
    skipped += [f"gate.compare names {name!r}, which is no planned check or family" for name in compare if name not in matched]
    return candidate_results, baseline_results, skipped


def _comparison(spec: CheckSpec, evaluation: Evaluation) -> dict[str, Any]:
    from ...checks.evaluation import Evaluation

    raw, baseline_model = _baseline_model(evaluation)
    rerun = "robustness" in spec.param("gated") or spec.name == "robustness"
    key = ("gate", id(raw), spec.params, rerun)

    def compute() -> dict[str, Any]:
        # the same samples, and the same random draws (keyed by model id), for both models
        baseline = Evaluation(baseline_model, evaluation.full_data, evaluation.settings, model_id=evaluation.model_id)
        stopper, data, baseline_proba = None, evaluation.data, None
        with baseline_model.running(evaluation.settings.device):
            if tuple(spec.param("gated")) == ("agreement",):  # agreement alone: it may stop once its verdict is decided
                stopper, data, baseline_proba = _agreement_looks(spec, evaluation, baseline_model)
            models = compare_models(
                evaluation.model,
                baseline_model,
                data,
                candidate_proba=evaluation.clean_proba[: data.n],
                baseline_proba=baseline.clean_proba if baseline_proba is None else baseline_proba,
            )
        if stopper is not None:
            return {"baseline": baseline_model.name, "models": models, "robustness": None, "stopper": stopper, "n": data.n}
        if not rerun:  # agreement and accuracy alone need no rerun of the other checks
            return {"baseline": baseline_model.name, "models": models, "robustness": None}
        results = _robustness_results(evaluation, baseline, spec.param("compare", ()))
        robustness = compare_results(
            results[0],
            results[1],
            tolerance=spec.param("tolerance"),
            tolerances=dict(spec.param("tolerances")),
            score_drop=spec.param("score_drop"),
            weights=evaluation.settings.get("score.weights"),
        )
        robustness["skipped"] = results[2]
        return {"baseline": baseline_model.name, "models": models, "robustness": robustness}

    return evaluation.memo(key, compute)


def _agreement_looks(spec: CheckSpec, evaluation: Evaluation, baseline: Model) -> tuple[Any, EvalData, np.ndarray]:
    """The baseline's predictions look by look until the agreement floor is decided: the stopper,
    the samples looked at and the baseline's probabilities on them."""
    from ...contract.data import EvalData
    from ..compare import PrefixPredictions

    data, candidate = evaluation.data, evaluation.clean_proba.argmax(axis=1)
    predicted = PrefixPredictions(baseline.predict_proba, data.x)

    def agrees(rows: slice) -> np.ndarray:
        return predicted.upto(rows.stop)[rows].argmax(axis=1) == candidate[rows]

    agreeing, stopper = evaluation.looks(spec, data.n, agrees)
    n = len(agreeing)
    return stopper, EvalData(data.x[:n], data.y[:n], name=data.name), predicted.upto(n)


def _number(value: float | None) -> str:
    return "NaN" if value is None else f"{value:.4f}"


def _rollback(spec: CheckSpec, comparison: dict[str, Any], candidate: str) -> dict[str, Any]:
    models, robustness = comparison["models"], comparison["robustness"]
    reasons = []
    gated = spec.param("gated")
    if "agreement" in gated and models["agreement"] < spec.param("agreement"):
        reasons.append(
            f"the candidate agrees with the baseline on {models['agreement']:.1%} of samples "
            f"(floor {spec.param('agreement'):.1%}; {models['broken']} newly wrong, {models['fixed']} newly right)"
        )
    if "accuracy" in gated and models["max_class_drop"] > spec.param("class_drop"):
        worst = min(models["per_class"].items(), key=lambda item: item[1]["change"])
        reasons.append(
            f"class {worst[0]!r} accuracy fell from {worst[1]['baseline']:.3f} to {worst[1]['candidate']:.3f} "
            f"(tolerated drop {spec.param('class_drop'):g})"
        )
    if robustness is not None:
        for metric in robustness["metrics"]:
            if metric["regressed"]:
                change = "NaN" if metric["change"] is None else f"{metric['change']:+.4f}"
                name = metric["id"] if metric["id"] == metric["metric"] else f"{metric['id']} {metric['metric']}"
                reasons.append(
                    f"{name} {_number(metric['baseline'])} -> {_number(metric['candidate'])} "
                    f"({change}, tolerance {metric['tolerance']:g})"
                )
        if robustness["score"]["regressed"]:
            score = robustness["score"]
            reasons.append(
                f"robustness score {score['baseline']:.1f} -> {score['candidate']:.1f} (tolerated drop {score['tolerance']:g})"
            )
    baseline = comparison["baseline"]
    if reasons:
        verdict = (
            f"ROLLBACK INDICATED: keep the baseline {baseline!r} in production; the candidate {candidate!r} "
            f"regresses: " + "; ".join(reasons)
        )
    else:
        verdict = f"no rollback indicated: the candidate {candidate!r} is within every tolerance of the baseline {baseline!r}"
    return {"indicated": bool(reasons), "reasons": reasons, "verdict": verdict}


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    comparison = _comparison(spec, evaluation)
    models, robustness = comparison["models"], comparison["robustness"]
    rollback = _rollback(spec, comparison, evaluation.model.name)
    details: dict[str, Any] = {"baseline": comparison["baseline"], "rollback": rollback}
    data = evaluation.data
    if spec.name == "agreement":
        path = evaluation.artifact_dir(spec) / "disagreements.json"
        path.write_text(json.dumps(models["disagreements"], indent=1) + "\n")
        details.update(
            agreement=models["agreement"],
            n_disagreements=len(models["disagreements"]),
            fixed=models["fixed"],
            broken=models["broken"],
            disagreements=models["disagreements"][:20],
            disagreements_file=str(path),
        )
        value = models["agreement"]
        summary = (
            f"they disagree on {len(models['disagreements'])} of {comparison.get('n', data.n)} samples ({models['broken']} the candidate "
            f"gets wrong that the baseline got right, {models['fixed']} the reverse), listed in {path}"
        )
    elif spec.name == "accuracy":
        from ...verdicts.intervals import paired_interval_counts

        rules = evaluation.rules
        change = paired_interval_counts(*models["pairs"], confidence=rules.check_confidence, method=rules.interval)  # type: ignore[arg-type]
        details.update(
            accuracy=models["accuracy"],
            accuracy_change={"estimate": models["accuracy"]["candidate"] - models["accuracy"]["baseline"], "interval": list(change)},
            per_class=models["per_class"],
            max_class_drop=models["max_class_drop"],
        )
        value = models["max_class_drop"]
        summary = (
            f"accuracy {models['accuracy']['baseline']:.4f} (baseline) -> {models['accuracy']['candidate']:.4f} (candidate), "
            f"change [{change[0]:+.4f}, {change[1]:+.4f}] (paired, same samples)"
        )
        interval = class_drop_interval(models["per_class"], rules.check_confidence, rules.interval)
        if interval is not None:
            return Measurement(value=float(value), n=data.n, details=details, message=f"{summary}\n{rollback['verdict']}", interval=interval, interval_method=f"paired-{rules.interval}")
    else:
        details.update(metrics=robustness["metrics"], score=robustness["score"], skipped=robustness["skipped"])
        details["regressions"] = robustness["regressions"]
        value = float(len(robustness["regressions"]))
        score = robustness["score"]
        summary = (
            f"{len(robustness['metrics'])} metrics and the robustness score compared, {len(robustness['regressions'])} "
            f"regressed beyond tolerance; score {score['baseline']:.1f} (baseline) -> {score['candidate']:.1f} (candidate)"
        )
    message = f"{summary}\n{rollback['verdict']}"
    stopper = comparison.get("stopper")
    if stopper is None:
        return Measurement(value=float(value), n=data.n, details=details, message=message)
    return early_stop_measurement(stopper, details, message)
