"""Synthetic models with a heavy-tailed NLL, and the coverage of the intervals of per-sample means
(the NLL, the Brier score, the garbage mean confidence) through the calibration checks' own code:
``benchmarks/bench_verdicts.py`` table 11 and the unit tests. numpy only, seeded.

Example:
    >>> proba, labels = heavy_tailed_model(np.random.default_rng(0), 1000, accuracy=0.8, share=0.01)
    >>> bool(np.isclose(proba[np.arange(1000), labels], np.exp(-HEAVY_LOSS)).sum() > 0)
    True
"""

from __future__ import annotations

import numpy as np

from .simulation import calibrated_truth, calibration_metric_check, calibration_model


#: the log-loss of :func:`heavy_tailed_model`'s rare confidently wrong answers (a probability of 1.4e-11)
HEAVY_LOSS = 25.0


def heavy_tailed_model(rng: np.random.Generator, n: int, *, accuracy: float, share: float, loss: float = HEAVY_LOSS) -> tuple[np.ndarray, np.ndarray]:
    """:func:`calibration_model`'s calibrated predictions, except on a ``share`` of the samples (drawn at
    random), where the model is sure of a wrong class and gives the label ``exp(-loss)``: those samples'
    log-loss is exactly ``loss``. The true NLL is ``(1 - share) * calibrated_truth("nll", accuracy) + share * loss``;
    at a share of 0.005, a run of 360 samples sees none of those losses in 16% of runs."""
    proba, labels = calibration_model(rng, n, accuracy=accuracy)
    rare = np.flatnonzero(rng.random(n) < share)
    classes = proba.shape[1]
    proba[rare] = 0.0
    proba[rare, labels[rare]] = np.exp(-loss)
    proba[rare, (labels[rare] + 1) % classes] = 1 - np.exp(-loss)
    return proba, labels


def per_sample_values(proba: np.ndarray, labels: np.ndarray, metric: str) -> tuple[np.ndarray, tuple[float, float]]:
    """The per-sample values whose mean ``metric`` is (``nll``, ``brier``, or ``garbage``: the top-class
    probability), and the bounds no value can leave."""
    from ..calibration.metrics import NLL_EPS

    if metric == "nll":
        return -np.log(np.clip(proba[np.arange(len(labels)), labels], NLL_EPS, 1.0)), (0.0, -float(np.log(NLL_EPS)))
    if metric == "brier":
        return ((proba - np.eye(proba.shape[1])[labels]) ** 2).sum(axis=1), (0.0, 2.0)
    return proba.max(axis=1), (0.0, 1.0)


def _other_interval(values: np.ndarray, bounds: tuple[float, float], method: str, confidence: float, rng: np.random.Generator) -> tuple[float, float, float]:
    """The mean of ``values`` and the interval the check does not draw: the betting one beside a
    bootstrap, the percentile bootstrap (1000 resamples, as the NLL check drew it before) beside betting."""
    from .betting import betting_mean_interval
    from .intervals import bootstrap_interval

    if method != "betting":
        return (float(values.mean()), *betting_mean_interval(values, confidence, bounds=bounds))
    low, high = bootstrap_interval(lambda i: values[i].mean(axis=1), len(values), confidence, rng=rng, batched=True)
    return float(values.mean()), low, high


def mean_interval_rates(
    rng: np.random.Generator, runs: int, n: int, metric: str = "nll", *, accuracy: float, share: float = 0.0, confidence: float = 0.95, compare: bool = True
) -> dict[str, dict[str, float]]:
    """``runs`` draws of :func:`heavy_tailed_model` (``share`` 0: the calibrated model), the check of
    ``metric`` (``nll``, ``brier`` or ``garbage``) as :func:`calibration_metric_check` draws it and, with
    ``compare``, the other interval (betting beside a bootstrap; the NLL's percentile bootstrap of before
    beside its betting interval). Per interval method: ``coverage`` of the true value, ``below`` (the
    interval wholly below it: the side of a wrong PASS), ``above`` (a wrong FAIL at a ceiling equal to it),
    the mean ``width`` and ``upper`` (the high end less the estimate: how far below a ceiling a model must
    lie to pass). ``check`` names the check's method."""
    from ..checks._base import VerdictRules

    rare = {"nll": HEAVY_LOSS, "brier": (1 - np.exp(-HEAVY_LOSS)) ** 2 + np.exp(-2 * HEAVY_LOSS), "garbage": 1 - np.exp(-HEAVY_LOSS)}[metric]
    truth = (1 - share) * calibrated_truth(metric, accuracy) + share * rare
    rules = VerdictRules(checks=1, confidence=confidence)
    found: dict[str, list[tuple[float, float, float]]] = {}
    for _ in range(runs):
        proba, labels = heavy_tailed_model(rng, n, accuracy=accuracy, share=share)
        result = calibration_metric_check(proba, labels, metric, truth, rules, resamples=1000, rng=rng)
        found.setdefault(result.interval_method, []).append((result.value, *result.interval))
        if compare:
            other = _other_interval(*per_sample_values(proba, labels, metric), result.interval_method, confidence, rng)
            found.setdefault("bootstrap" if result.interval_method == "betting" else "betting", []).append(other)
    rates: dict[str, dict[str, float]] = {"truth": {metric: truth}, "check": {result.interval_method: 1.0}}
    for name, rows in found.items():
        value, low, high = np.array(rows).T
        below, above = float((high < truth).mean()), float((low > truth).mean())
        rates[name] = {"coverage": 1 - below - above, "below": below, "above": above, "width": float((high - low).mean()), "upper": float((high - value).mean())}
    return rates
