"""The ``calibration`` checks' measurements: metrics of the clean predictions, and garbage inputs.

The metric checks (``ece``, ``mce``, ``classwise-ece``, ``brier``, ``nll``) reuse
``evaluation.clean_proba``, so they cost no model pass; their details hold the reliability diagram
and the temperature-scaling advice, which their failure message repeats. The garbage checks
(:mod:`.garbage`) cost one model pass per source.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..checks._base import CheckSpec, Measurement
from ..checks._evaluation import stable_seed
from . import _garbage as garbage
from .inference import BINNED_METRICS, BinnedMetric, calibration_inference, debiased_error
from .metrics import (
    NLL_EPS,
    brier_score,
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
    reliability_bins,
)
from .temperature import temperature_advice

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation


# metric -> (function of proba, labels, bins, binning; its name in messages)
METRICS: dict[str, tuple[Callable[[np.ndarray, np.ndarray, int, Any], float], str]] = {
    "ece": (lambda p, y, b, m: expected_calibration_error(p, y, b, binning=m), "ECE"),
    "mce": (lambda p, y, b, m: maximum_calibration_error(p, y, b, binning=m), "MCE"),
    "classwise_ece": (lambda p, y, b, m: classwise_calibration_error(p, y, b, binning=m), "class-wise ECE"),
    "brier": (lambda p, y, b, m: brier_score(p, y), "Brier score"),
    "nll": (lambda p, y, b, m: negative_log_likelihood(p, y), "NLL"),
}


def advice_message(advice: dict[str, Any], metric: str = "ece") -> str:
    """``temperature 1.80 would give ECE 0.0200 (now 0.0900); ...`` for a failure message."""
    label = METRICS[metric][1]
    before, after, temperature = advice["before"], advice["after"], advice["temperature"]
    text = f"temperature {temperature:.2f} would give {label} {after[metric]:.4f} (now {before[metric]:.4f})"
    if metric != "ece":
        text += f", ECE {after['ece']:.4f} (now {before['ece']:.4f})"
    if advice["at_bound"]:
        return text + (
            f"; the fit stopped at the edge of its range (T={temperature:g}), so no single temperature "
            "calibrates this model: its confidence does not follow its accuracy"
        )
    return text + (
        f"; T {'>' if temperature > 1 else '<'} 1 {'softens' if temperature > 1 else 'sharpens'} the probabilities "
        "without changing a prediction. Advice, not a fix: fit the temperature you deploy on held-out data"
    )


def run_metric(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """A metric of the clean predictions. The binned ones (ECE, MCE, class-wise ECE) report their
    debiased estimate, with an interval from consistency resampling (:mod:`.inference`); the Brier
    score and the NLL, means of per-sample losses that their plug-in value estimates without bias:
    the Brier score a percentile bootstrap interval, the NLL, whose losses have a heavy right tail, the
    betting interval of a bounded mean (:func:`nll_interval`)."""
    metric, bins, binning = spec.metric, int(spec.param("bins", 15)), spec.param("binning", "equal-width")
    proba, labels = evaluation.clean_proba, evaluation.data.y
    advice = evaluation.memo(
        ("calibration-temperature", bins, binning), lambda: temperature_advice(proba, labels, bins, binning=binning)
    )
    details: dict[str, Any] = {
        "reliability": reliability_bins(proba, labels, bins, binning=binning),
        "mean_confidence": float(proba.max(axis=1).mean()),
        "accuracy": evaluation.clean_accuracy(),
        "temperature": advice,
    }
    compute = METRICS[metric][0]
    message = advice_message(advice, metric)
    if metric in BINNED_METRICS:
        value, interval, method = _binned_metric(spec, evaluation, details)
        message += f"\n{METRICS[metric][1]} {value:.4f} debiased (plug-in {details['plugin']:.4f}, biased up by the noise of {len(labels)} samples)"
    elif metric == "nll":
        value, method = compute(proba, labels, bins, binning), "betting"
        rng = np.random.default_rng(stable_seed(evaluation.settings.seed, evaluation.model_id, spec.id, "betting"))
        interval = nll_interval(proba, labels, evaluation.rules.check_confidence, rng=rng)
    else:
        value = compute(proba, labels, bins, binning)
        interval = evaluation.bootstrap(spec, lambda i: compute(proba[i], labels[i], bins, binning), len(labels))
        method = "bootstrap"
    return Measurement(
        value=value,
        n=evaluation.data.n,
        details=details,
        message=message,
        interval=interval,
        interval_method=method if interval else None,
        evaluations=0,  # the shared clean predictions
    )


def nll_interval(proba: np.ndarray, labels: np.ndarray, confidence: float, *, rng: np.random.Generator) -> tuple[float, float] | None:
    """The NLL's interval: the per-sample losses ``-log p(label)`` lie in ``[0, -log(NLL_EPS)]`` (34.5),
    so the hedged betting interval of their mean covers the true NLL at ``confidence`` or more whatever
    their distribution (:func:`~pytest_mlguard._verdicts.betting.betting_mean_interval`). The losses are
    sorted, then put in an order drawn from ``rng``: exchangeable, and the same whatever order the
    samples came in (a merge of shards gives the interval of the unsharded run). ``None`` where a
    probability is NaN."""
    from .._verdicts.betting import betting_mean_interval

    losses = -np.log(np.clip(proba[np.arange(len(labels)), labels].astype(np.float64), NLL_EPS, 1.0))  # float32's 1e-15 lies below it
    if not np.isfinite(losses).all():  # a NaN probability: the NaN value fails the check, without an interval
        return None
    ordered = np.sort(losses)[rng.permutation(len(losses))]
    return betting_mean_interval(ordered, confidence, bounds=(0.0, -math.log(NLL_EPS)))


def _binned_metric(spec: CheckSpec, evaluation: Evaluation, details: dict[str, Any]) -> tuple[float, tuple[float, float] | None, str]:
    """The debiased value of a binned metric and its consistency-resampling interval (none without
    ``verdict.bootstrap`` resamples); the plug-in value and the test go to ``details``."""
    metric = cast("BinnedMetric", spec.metric)  # run_metric sends the BINNED_METRICS here
    bins, binning = int(spec.param("bins", 15)), spec.param("binning", "equal-width")
    proba, labels = evaluation.clean_proba, evaluation.data.y
    resamples = evaluation.settings.get("verdict.bootstrap")
    details["plugin"] = METRICS[metric][0](proba, labels, bins, binning)
    if not resamples or len(labels) < 2:
        return debiased_error(proba, labels, metric, bins, binning=binning), None, "consistency-resampling"
    rng = np.random.default_rng(stable_seed(evaluation.settings.seed, evaluation.model_id, spec.id, "consistency"))
    found = calibration_inference(
        proba, labels, metric, bins, binning=binning, confidence=evaluation.rules.check_confidence, resamples=resamples, rng=rng
    )
    details["inference"] = found.details()
    return found.estimate, (found.low, found.high), "consistency-resampling"


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    if spec.param("source") is not None:
        return garbage.run_check(spec, evaluation)
    return run_metric(spec, evaluation)
