"""Synthetic models whose true error rates are known by construction, for measuring verdicts.

``benchmarks/bench_verdicts.py`` and the unit tests feed these to the plugin's own verdict code
(:class:`~pytest_mlguard.checks._base.CheckResult`, :class:`~pytest_mlguard._verdicts.sequential.EarlyStop`,
:func:`~pytest_mlguard.calibration.inference.calibration_inference`) to measure false-fail rates, power,
coverage and flake rates. numpy only, seeded.

Example:
    >>> proba, labels = calibration_model(np.random.default_rng(0), 2000, accuracy=0.8, ece=0.1)
    >>> bool(abs((proba.argmax(1) == labels).mean() - 0.8) < 0.03), bool(abs(proba.max(1).mean() - 0.9) < 0.03)
    (True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def calibration_model(
    rng: np.random.Generator, n: int, *, accuracy: float, ece: float = 0.0, classes: int = 10, concentration: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` predictions ``(n, classes)`` and labels of a model whose top-label accuracy is ``accuracy``
    and whose top-label calibration error is exactly ``ece`` (overconfidence: at every confidence c,
    the top class is right with probability ``c - ece``).

    Confidences: the top probability is ``1/K + (1 - 1/K) * Beta`` with mean ``accuracy + ece``
    (``concentration`` = a + b of the beta); the other classes share the rest at random, and a wrong
    answer is one of them, drawn in proportion to its probability. With ``ece = 0`` the labels are
    drawn from the predicted distribution itself, so the model is calibrated in every sense
    (class-wise too).
    """
    chance = 1.0 / classes
    mean = accuracy + ece
    if not (chance <= accuracy and mean < 1.0):
        raise ValueError(f"expected 1/classes <= accuracy and accuracy + ece < 1, got accuracy={accuracy}, ece={ece}")
    share = (mean - chance) / (1 - chance)
    top = chance + (1 - chance) * rng.beta(share * concentration, (1 - share) * concentration, n)
    top = np.maximum(top, ece + 1e-12)
    rest = rng.dirichlet(np.ones(classes - 1), n) * (1 - top)[:, None]
    winner = rng.integers(0, classes, n)
    proba = np.empty((n, classes))
    proba[np.arange(n), winner] = top
    others = (winner[:, None] + 1 + np.arange(classes - 1)[None, :]) % classes
    proba[np.arange(n)[:, None], others] = rest
    if ece == 0.0:  # calibrated in every sense: the label is drawn from the prediction
        cumulative = np.cumsum(proba, axis=1)
        labels = np.minimum((rng.random(n)[:, None] >= cumulative).sum(axis=1), classes - 1)
        return proba, labels
    argmax = proba.argmax(axis=1)
    confidence = proba[np.arange(n), argmax]
    right = rng.random(n) < confidence - ece
    wrong_weights = proba.copy()
    wrong_weights[np.arange(n), argmax] = 0.0
    cumulative = np.cumsum(wrong_weights, axis=1) / np.maximum(wrong_weights.sum(axis=1, keepdims=True), 1e-300)
    wrong = np.minimum((rng.random(n)[:, None] >= cumulative).sum(axis=1), classes - 1)
    return proba, np.where(right, argmax, wrong)


def likelihood_ratio(proba: np.ndarray, labels: np.ndarray, *, ece: float, ceiling: float) -> float:
    """The log-likelihood ratio of :func:`calibration_model`'s model of top-label ``ece`` against the one
    whose ECE is ``ceiling`` with the same confidences. The two differ only in how often the top class is
    right at confidence c (``c - ece`` against ``c - ceiling``; the confidences, the other classes and the
    wrong labels are drawn alike), so by the Neyman-Pearson lemma the test that fails where this ratio is
    large is the most powerful of all tests that fail the second model at a given rate."""
    confidence, right = proba.max(axis=1), proba.argmax(axis=1) == labels
    alternative, null = (np.clip(confidence - gap, 1e-12, 1 - 1e-12) for gap in (ece, ceiling))
    return float(np.where(right, np.log(alternative / null), np.log((1 - alternative) / (1 - null))).sum())


def ece_power_bound(
    rng: np.random.Generator, runs: int, n: int, *, accuracy: float, ece: float, ceiling: float, confidence: float = 0.95
) -> dict[str, float]:
    """The most an ECE ceiling test can fail a model of top-label ``ece`` (above ``ceiling``) at ``n``
    samples if it keeps a wrong FAIL at a model exactly at the ceiling to ``(1 - confidence) / 2``.

    An oracle that knows a statistic's distribution at the ceiling: ``runs`` draws of a model at
    ``accuracy`` with ``ece`` and of one with the same confidences whose ECE is ``ceiling``
    (:func:`calibration_model` at ``accuracy + ece - ceiling``) give that distribution's upper
    quantile, and the share of the first model's statistics above it is the power of the test that
    fails exactly there. Per statistic: ``debiased`` (Kumar et al. 2019) and ``plugin`` ECE (no test of
    these statistics does better on these models), and the ``likelihood_ratio`` (:func:`likelihood_ratio`:
    by the Neyman-Pearson lemma no test of any statistic does better, up to the draws' noise). A real
    test must estimate the quantile from one sample.
    """
    from ..calibration.inference import debiased_error
    from ..calibration.metrics import expected_calibration_error

    def statistics(accuracy_: float, ece_: float) -> np.ndarray:
        drawn = (calibration_model(rng, n, accuracy=accuracy_, ece=ece_) for _ in range(runs))
        return np.array(
            [(debiased_error(p, y), expected_calibration_error(p, y), likelihood_ratio(p, y, ece=ece, ceiling=ceiling)) for p, y in drawn]
        )

    at_ceiling = statistics(accuracy + ece - ceiling, ceiling)
    above = statistics(accuracy, ece)
    power = (above > np.quantile(at_ceiling, 1 - (1 - confidence) / 2, axis=0)[None, :]).mean(axis=0)
    return {"debiased": float(power[0]), "plugin": float(power[1]), "likelihood_ratio": float(power[2])}


def proportion_outcomes(rng: np.random.Generator, runs: int, n: int, rate: float | np.ndarray) -> np.ndarray:
    """``(runs, n)`` per-sample outcomes (True: the sample counts) of checks whose true proportion is
    ``rate`` (a number, or one per run)."""
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), (runs,))
    return rng.random((runs, n)) < rate[:, None]


def ece_check(
    proba: np.ndarray, labels: np.ndarray, ceiling: float, rules: Any, *, resamples: int = 1000, rng: np.random.Generator, metric: str = "ece"
) -> Any:
    """The :class:`~pytest_mlguard.checks._base.CheckResult` of a calibration ceiling check on these
    predictions, as ``calibration[ece]`` computes it: the debiased estimate and the consistency-resampling
    interval at the check's confidence under ``rules``, then the verdict."""
    from ..calibration.inference import calibration_inference
    from ..checks._base import CheckResult, CheckSpec, Measurement
    from ..config.parse import Threshold

    found = calibration_inference(proba, labels, metric, confidence=rules.check_confidence, resamples=resamples, rng=rng)  # type: ignore[arg-type]
    spec = CheckSpec("calibration", metric, metric, Threshold(ceiling), kind="ceiling")
    measurement = Measurement(found.estimate, len(labels), interval=(found.low, found.high), interval_method="consistency-resampling")
    return CheckResult.from_measurement(spec, "simulated", measurement, seed=0, duration_s=0.0, rules=rules)


class ProportionChecks:
    """Floor checks of proportions through the plugin's own path: an
    :class:`~pytest_mlguard.checks._evaluation.Evaluation` looks at the outcomes look by look
    (``verdict.early_stop``), the stopper builds the measurement, and
    :meth:`~pytest_mlguard.checks._base.CheckResult.from_measurement` gives the verdict under ``rules``.

    Args:
        n: samples per check.
        rules: the :class:`~pytest_mlguard.checks._base.VerdictRules` (the number of checks sharing the
            run's confidence included).
        early_stop: ``verdict.early_stop``.
    """

    def __init__(self, n: int, rules: Any, *, early_stop: str = "sequential") -> None:
        from ..checks._evaluation import Evaluation
        from ..checks._registry import all_keys
        from ..config._settings import resolve
        from ..contract import CallableModel, EvalData

        settings = resolve(cli={"verdict.early_stop": early_stop, "verdict.confidence": str(rules.confidence)}, environ={}, keys=all_keys())
        model = CallableModel(lambda x: np.full((len(x), 2), 0.5), input_shape=(1,), n_classes=2, name="simulated")
        self.evaluation = Evaluation(model, EvalData(np.zeros((n, 1)), np.zeros(n, dtype=int)), settings)
        self.evaluation.rules = rules  # the run's rules, in place of those the settings' plan would give
        self.n, self.rules = n, rules
        self._specs: dict[float, Any] = {}

    def check(self, outcomes: np.ndarray, floor: float) -> Any:
        """The result of a floor check at ``floor`` whose samples, in evaluation order, gave ``outcomes``."""
        from ..checks._base import CheckResult, CheckSpec, early_stop_measurement
        from ..config.parse import Threshold

        spec = self._specs.setdefault(floor, CheckSpec("simulated", f"floor-{floor:g}", "accuracy", Threshold(floor)))
        _, stopper = self.evaluation.looks(spec, len(outcomes), lambda rows: outcomes[rows])
        return CheckResult.from_measurement(spec, "simulated", early_stop_measurement(stopper, {}, ""), seed=0, duration_s=0.0, rules=self.rules)


def suite_rates(
    rng: np.random.Generator, runs: int, floors: np.ndarray, rules: Any, *, n: int = 360, above: float = 0.0, early_stop: str = "sequential"
) -> dict[str, float]:
    """Runs of a suite of floor checks on a model whose true proportions are ``floors + above``:
    the share of runs with at least one ``failed`` label (a wrong one when ``above >= 0``) and the
    share whose every test outcome passed."""
    checks = ProportionChecks(n, rules, early_stop=early_stop)
    any_failed = all_passed = 0
    for _ in range(runs):
        results = [checks.check(proportion_outcomes(rng, 1, n, min(1.0, floor + above))[0], float(floor)) for floor in floors]
        any_failed += any(result.label == "failed" for result in results)
        all_passed += all(result.passed for result in results)
    return {"any_failed": any_failed / runs, "all_passed": all_passed / runs}


def _differ(passed: int, seeds: int) -> float:
    """The unbiased estimate of the probability that two of ``seeds`` runs, ``passed`` of which passed, differ."""
    return 2 * passed * (seeds - passed) / (seeds * (seeds - 1))


def flake_rate(
    rng: np.random.Generator,
    datasets: int,
    seeds: int,
    floor: float,
    rate: float,
    rules: Any,
    *,
    n: int = 360,
    pool: int | None = None,
    early_stop: str = "sequential",
) -> float:
    """The probability that two runs with different seeds on the same model and data give different
    test outcomes (PASS/FAIL), averaged over ``datasets`` data sets of ``pool`` samples (default
    ``n``) whose outcomes are drawn at ``rate``; each seed evaluates a random ``n`` of them in a
    random order, as ``samples`` and the evaluation's permutation do."""
    checks = ProportionChecks(n, rules, early_stop=early_stop)
    pool = pool or n
    flakes = 0.0
    for _ in range(datasets):
        data = proportion_outcomes(rng, 1, pool, rate)[0]
        passed = sum(checks.check(data[rng.permutation(pool)[:n]], floor).passed for _ in range(seeds))
        flakes += _differ(passed, seeds)
    return flakes / datasets


class AccuracyChecks:
    """The ``accuracy`` check, end to end through :class:`~pytest_mlguard.checks._evaluation.Evaluation`,
    of a model that is right exactly on the samples where ``right`` holds: ``samples`` of them
    (a seeded subset, as the setting picks it) and, when its interval straddles the floor, more of the
    rest as ``verdict.more_samples`` draws them.

    Args:
        right: per sample of the data set, whether the model's answer is right.
        rules: the :class:`~pytest_mlguard.checks._base.VerdictRules` of the run (its share of the error rate).
        samples: the ``samples`` setting.
        more_samples: ``verdict.more_samples``.
    """

    def __init__(self, right: np.ndarray, rules: Any, *, samples: int, more_samples: str = "sequential") -> None:
        from ..contract import CallableModel, EvalData

        labels = np.zeros(len(right), dtype=int)

        def predict(x: np.ndarray) -> np.ndarray:
            rows = x[:, 0].astype(int)
            return np.eye(2)[np.where(right[rows], 0, 1)]

        self.model = CallableModel(predict, input_shape=(1,), n_classes=2, name="simulated")
        self.data = EvalData(np.arange(len(right), dtype=np.float64)[:, None], labels)
        self.rules, self.samples, self.more_samples = rules, samples, more_samples

    #: the family, check and floor setting of the check
    family: str = "accuracy"
    name: str | None = None
    floor_key: str = "accuracy.floor"

    def check(self, floor: float, seed: int) -> Any:
        """The result of the check at ``floor`` in a run with ``seed``."""
        from ..checks._evaluation import Evaluation
        from ..checks._registry import all_keys, family
        from ..config._settings import resolve

        cli = {"seed": str(seed), "samples": str(self.samples), self.floor_key: str(floor), "verdict.more_samples": self.more_samples}
        settings = resolve(cli=cli, environ={}, keys=all_keys())
        evaluation = Evaluation(self.model, self.data, settings)
        evaluation.rules = self.rules  # the run's rules, in place of those the settings' plan would give
        return evaluation.run(family(self.family), family(self.family).spec(self.name, settings))


class CorruptionChecks(AccuracyChecks):
    """The ``corruption[gaussian_noise-3]`` check, end to end through
    :class:`~pytest_mlguard.checks._evaluation.Evaluation` and the corruption family (corrupting,
    early stopping, drawing more samples), of a model of 8x8 gray images that is right on a corrupted
    image where a hash of its pixels falls below ``rate``: its accuracy under the corruption is
    ``rate``, and a seed's corruptions decide which samples it gets right.

    Args:
        rng: draws the data set's images (``pool`` of them).
        rate: the model's accuracy under the corruption.
    """

    family, name, floor_key = "corruption", "gaussian_noise-3", "corruption.floor"

    def __init__(self, rng: np.random.Generator, rate: float, rules: Any, *, samples: int, pool: int, more_samples: str = "sequential") -> None:
        import zlib

        from ..contract import CallableModel, EvalData

        def predict(x: np.ndarray) -> np.ndarray:
            hashed = np.array([zlib.crc32(np.ascontiguousarray(image).tobytes()) for image in x]) / 2**32
            return np.eye(2)[np.where(hashed < rate, 0, 1)]

        self.model = CallableModel(predict, input_shape=(1, 8, 8), n_classes=2, name="simulated", value_range=(0.0, 1.0))
        self.data = EvalData(rng.random((pool, 1, 8, 8), dtype=np.float32), np.zeros(pool, dtype=int))
        self.rules, self.samples, self.more_samples = rules, samples, more_samples


def accuracy_flake_rate(
    rng: np.random.Generator,
    rate: float,
    rules: Any,
    *,
    floor: float = 0.8,
    datasets: int = 100,
    seeds: int = 10,
    n: int = 360,
    pool: int = 3600,
    more_samples: str = "sequential",
    corruption: bool = False,
) -> dict[str, float]:
    """:func:`flake_rate` of the ``accuracy`` check (:class:`AccuracyChecks`): ``samples = n`` of a data
    set of ``pool`` samples whose outcomes are drawn at ``rate``, ``seeds`` runs each; with
    ``corruption``, of a corruption check (:class:`CorruptionChecks`). Also the share of runs that
    failed, that were inconclusive, and the mean samples a run used."""
    flakes = failed = inconclusive = used = 0.0
    for _ in range(datasets):
        if corruption:
            checks: AccuracyChecks = CorruptionChecks(rng, rate, rules, samples=n, pool=pool, more_samples=more_samples)
        else:
            checks = AccuracyChecks(proportion_outcomes(rng, 1, pool, rate)[0], rules, samples=n, more_samples=more_samples)
        results = [checks.check(floor, int(seed)) for seed in rng.integers(0, 2**31, seeds)]
        passed = sum(result.passed for result in results)
        flakes += _differ(passed, seeds)
        failed += sum(result.label == "failed" for result in results)
        inconclusive += sum(result.label == "inconclusive" for result in results)
        used += sum(result.n for result in results)
    runs = datasets * seeds
    return {"flake": flakes / datasets, "failed": failed / runs, "inconclusive": inconclusive / runs, "samples": used / runs}


#: the calibration checks whose error rates :func:`calibration_metric_rates` measures
CALIBRATION_METRICS = ("ece", "mce", "classwise_ece", "brier", "nll", "garbage")


def calibrated_truth(metric: str, accuracy: float, *, draws: int = 200_000, seed: int = 0) -> float:
    """The true value of ``metric`` for the perfectly calibrated :func:`calibration_model` at
    ``accuracy``: 0 for the binned errors; for the Brier score and the NLL the mean of each sample's
    expected loss when its label follows its own prediction (``1 - sum p^2``, ``-sum p log p``) over
    ``draws`` predictions; for ``garbage`` the mean top-class probability."""
    from ..calibration.metrics import NLL_EPS

    if metric in ("ece", "mce", "classwise_ece"):
        return 0.0
    proba, _ = calibration_model(np.random.default_rng(seed), draws, accuracy=accuracy)
    if metric == "brier":
        return float((1 - (proba**2).sum(axis=1)).mean())
    if metric == "nll":
        return float(-(proba * np.log(np.clip(proba, NLL_EPS, 1.0))).sum(axis=1).mean())
    return float(proba.max(axis=1).mean())


def calibration_metric_check(
    proba: np.ndarray, labels: np.ndarray, metric: str, ceiling: float, rules: Any, *, resamples: int, rng: np.random.Generator
) -> Any:
    """The :class:`~pytest_mlguard.checks._base.CheckResult` of the calibration check of ``metric`` as
    the family computes it: the binned errors through :func:`ece_check` (debiased, consistency
    resampling); the Brier score its plug-in value with the percentile bootstrap interval
    ``Evaluation.bootstrap`` draws; the NLL its plug-in value with the betting interval of its bounded
    losses (``calibration._run.nll_interval``); ``garbage`` the mean top-class probability of ``proba``
    (as if they were garbage inputs) with the bootstrap-t interval ``Evaluation.mean_interval`` draws."""
    if metric in ("ece", "mce", "classwise_ece"):
        return ece_check(proba, labels, ceiling, rules, resamples=resamples, rng=rng, metric=metric)
    from ..calibration._run import METRICS
    from ..checks._base import CheckResult, CheckSpec, Measurement
    from ..config.parse import Threshold
    from .intervals import bootstrap_interval, studentized_mean_interval

    if metric == "garbage":  # as Evaluation.mean_interval draws it
        top = proba.max(axis=1)
        value, method = float(top.mean()), "bootstrap-t"
        interval = studentized_mean_interval(top, rules.check_confidence, resamples=resamples, rng=rng)
    elif metric == "nll":  # as the family draws it: the betting interval of the bounded losses
        from ..calibration._run import nll_interval

        value, method = METRICS[metric][0](proba, labels, 15, "equal-width"), "betting"
        interval = nll_interval(proba, labels, rules.check_confidence, rng=rng) or (float("nan"), float("nan"))
    else:  # as Evaluation.bootstrap draws it
        compute = METRICS[metric][0]
        value, method = compute(proba, labels, 15, "equal-width"), "bootstrap"
        interval = bootstrap_interval(lambda i: compute(proba[i], labels[i], 15, "equal-width"), len(labels), rules.check_confidence, resamples=resamples, rng=rng)
    spec = CheckSpec("calibration", metric, metric, Threshold(ceiling), kind="ceiling")
    measurement = Measurement(value, len(labels), interval=interval, interval_method=method)
    return CheckResult.from_measurement(spec, "simulated", measurement, seed=0, duration_s=0.0, rules=rules)


def calibration_metric_rates(rng: np.random.Generator, runs: int, n: int, metric: str, *, accuracy: float, resamples: int = 1000) -> dict[str, float]:
    """``runs`` draws of ``n`` samples of a perfectly calibrated model at ``accuracy``: how often the
    check of ``metric`` fails a ceiling equal to the metric's true value (a wrong FAIL label; at most
    2.5% for a 95% interval) and how often its interval covers that value (at least 95%)."""
    from ..checks._base import VerdictRules

    truth = calibrated_truth(metric, accuracy)
    failed = covered = 0
    for _ in range(runs):
        proba, labels = calibration_model(rng, n, accuracy=accuracy)
        result = calibration_metric_check(proba, labels, metric, truth, VerdictRules(checks=1), resamples=resamples, rng=rng)
        failed += result.label == "failed"
        covered += result.interval[0] <= truth <= result.interval[1]
    return {"truth": truth, "wrong_fail": failed / runs, "coverage": covered / runs}

