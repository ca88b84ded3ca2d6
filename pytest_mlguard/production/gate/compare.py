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
from typing import TYPE_CHECKING, Any

import numpy as np

from ...checks._base import CheckSpec, Measurement, early_stop_measurement
from ...errors import CheckError
from ._class_drop import class_drop_interval as class_drop_interval
from ._results import compare_results
from ._robustness import baseline_evaluation, robustness_comparison, robustness_measurement

if TYPE_CHECKING:
    from ...checks._evaluation import Evaluation
    from ...contract._data import EvalData
    from ...contract._model import Model

__all__ = ["class_drop_interval", "compare_models", "compare_results", "run_check"]

def _per_class(predicted: np.ndarray, labels: np.ndarray, classes: int) -> list[float | None]:
    return [float((predicted[labels == k] == k).mean()) if (labels == k).any() else None for k in range(classes)]


def _pairs(baseline: np.ndarray, candidate: np.ndarray) -> tuple[int, int, int, int]:
    from ..._verdicts.intervals import paired_counts

    return paired_counts(baseline, candidate) if len(baseline) else (0, 0, 0, 0)


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


#: the fixture that returns the model in production (docs/production.md)
_BASELINE_FIXTURE = "mlguard_baseline_model"


def _baseline_model(evaluation: Evaluation) -> tuple[Any, Model]:
    """What ``mlguard_baseline_model`` returned, and it as a :class:`Model`, checked as the candidate
    is: a value that is no model, inputs of another shape or a malformed output is a ``ContractError``
    naming the fixture (the output checked once, on a few samples, by :func:`probe_model`)."""
    from ...contract._declaration import probe_model
    from ...contract._model import as_model
    from ...errors import ContractError, InvalidArgument

    extras = getattr(evaluation, "extras", {}) or {}
    baseline = extras.get("baseline_model")
    if baseline is None:
        raise CheckError(
            "the gate compares the candidate (mlguard_model) with the model in production: define a fixture "
            "mlguard_baseline_model in conftest.py that returns it (see docs/production.md)"
        )
    try:
        model = as_model(baseline, evaluation.full_data, fixture=_BASELINE_FIXTURE)
    except InvalidArgument as exc:
        raise ContractError(str(exc), fixture=_BASELINE_FIXTURE) from None
    if model.input_shape != evaluation.model.input_shape:
        raise ContractError(
            f"the baseline {model.name!r} takes inputs of shape {model.input_shape} and the candidate "
            f"{evaluation.model.name!r} (mlguard_model) {evaluation.model.input_shape}: they cannot be compared on the same data",
            fixture=_BASELINE_FIXTURE,
        )
    settings = evaluation.settings
    evaluation.memo(("gate", "probe", id(baseline)), lambda: probe_model(model, evaluation.full_data, settings.device, fixture=_BASELINE_FIXTURE))
    return baseline, model


def _comparison(spec: CheckSpec, evaluation: Evaluation) -> dict[str, Any]:
    raw, baseline_model = _baseline_model(evaluation)
    rerun = "robustness" in spec.param("gated") or spec.name == "robustness"
    key = ("gate", id(raw), spec.params, rerun)

    def compute() -> dict[str, Any]:
        # the same samples, and the same random draws (keyed by model id), for both models; the reruns
        # neither stop early nor draw more, so that both measure every one of those samples
        baseline = baseline_evaluation(evaluation, baseline_model)
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
        return {"baseline": baseline_model.name, "models": models, "robustness": robustness_comparison(spec, evaluation, baseline)}

    return evaluation.memo(key, compute)


def _agreement_looks(spec: CheckSpec, evaluation: Evaluation, baseline: Model) -> tuple[Any, EvalData, np.ndarray]:
    """The baseline's predictions look by look until the agreement floor is decided: the stopper,
    the samples looked at and the baseline's probabilities on them."""
    from ...contract._data import EvalData
    from .._compare import PrefixPredictions

    data, candidate = evaluation.data, evaluation.clean_proba.argmax(axis=1)
    predicted = PrefixPredictions(baseline.predict_proba, data.x)

    def agrees(rows: slice) -> np.ndarray:
        return predicted.upto(rows.stop)[rows].argmax(axis=1) == candidate[rows]

    agreeing, stopper = evaluation.looks(spec, data.n, agrees)
    n = len(agreeing)
    return stopper, EvalData(data.x[:n], data.y[:n], name=data.name), predicted.upto(n)


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The gate check ``spec``: a classifier's here, a segmenter's or a detector's by pixel- and box-level agreement (:mod:`._tasks`)."""
    if getattr(evaluation.model, "task", "classification") != "classification":
        from ._tasks import run_check as run_task_check

        return run_task_check(spec, evaluation)
    return _classifier_check(spec, evaluation)


def _classifier_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    comparison = _comparison(spec, evaluation)
    models, robustness = comparison["models"], comparison["robustness"]
    from ._rollback import rollback as _rollback

    rollback = _rollback(spec, comparison, evaluation.model.name, evaluation.rules)
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
        from ..._verdicts.intervals import paired_interval_counts

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
            needed = None
            if interval[0] <= spec.threshold.resolve() < interval[1]:  # undecided: the n that would decide it
                from ._sizes import class_drop_required_n

                needed = class_drop_required_n(models["per_class"], spec.threshold.resolve(), rules.check_confidence, rules.interval)  # type: ignore[arg-type]
            message = f"{summary}\n{rollback['verdict']}"
            return Measurement(float(value), data.n, details=details, message=message, interval=interval, interval_method=f"paired-{rules.interval}", required_n=needed)
    else:
        return robustness_measurement(evaluation, robustness, details, rollback)
    stopper = comparison.get("stopper")
    if stopper is not None:
        estimate, interval, _ = stopper.value_and_interval()
        if interval is not None:  # a sequential stop: the rollback follows the confidence sequence the check reports
            details["rollback"] = _rollback(spec, comparison, evaluation.model.name, evaluation.rules, (estimate, *interval, stopper.n))
        return early_stop_measurement(stopper, details, f"{summary}\n{details['rollback']['verdict']}")
    if spec.name == "agreement":
        return _agreement_measurement(spec, evaluation, comparison, details, summary)
    return Measurement(value=float(value), n=data.n, details=details, message=f"{summary}\n{rollback['verdict']}")


def _agreement_measurement(spec: CheckSpec, evaluation: Evaluation, comparison: dict[str, Any], details: dict[str, Any], summary: str) -> Measurement:
    """``gate[agreement]`` on every sample of the data: the agreement, a proportion of the samples with
    its binomial interval; where that straddles the floor, more of the data as ``verdict.more_samples``
    says (the two models predict the samples drawn; the disagreements listed stay those of the data),
    and the rollback then follows the interval of all the samples drawn, the one the check decides on."""
    import dataclasses

    from ..._verdicts.sequential import drawn_more
    from ._rollback import rollback as _rollback

    models = comparison["models"]
    full, baseline = evaluation.full_data, _baseline_model(evaluation)[1]
    agree = np.ones(evaluation.data.n, dtype=bool)
    agree[[d["index"] for d in models["disagreements"]]] = False

    def more(index: np.ndarray) -> np.ndarray:
        with baseline.running(evaluation.settings.device):
            theirs = baseline.predict_proba(full.x[index]).argmax(axis=1)
        return evaluation.model.predict_proba(full.x[index]).argmax(axis=1) == theirs

    agree, drawn, test = evaluation.draw_more(spec, agree, more, threshold=spec.threshold.resolve())
    details = {**details, "more_samples": drawn}  # agreement, disagreements: those of the data's samples
    extra = drawn_more(agree, drawn, test, evaluation.data.n)
    if extra:
        decided_on = (float(agree.mean()), *extra["interval"], len(agree))
        details["rollback"] = _rollback(spec, comparison, evaluation.model.name, evaluation.rules, decided_on)
    message = f"{summary}\n{details['rollback']['verdict']}"
    measurement = Measurement(value=float(agree.mean()), n=len(agree), details=details, message=message, successes=int(agree.sum()))
    if extra:
        extra["message"] = f"{message}\n{extra['message']}"
    return dataclasses.replace(measurement, **extra)
