"""What a check is: its spec (planned from settings), its measurement, its JSON-safe result.

A *family* (accuracy, corruption, attack, calibration, inputs, ...) lives in its own folder and
declares a :class:`Family`: its settings keys, a cheap ``plan`` from settings to
:class:`CheckSpec` s (run at collection, imports nothing heavy) and the dotted path of its ``run``
function (imported only when a check runs). ``run(spec, evaluation)`` returns a
:class:`Measurement`; the runner turns it into a :class:`CheckResult` with the verdict.

Example:
    >>> from pytest_mlguard.config.parse import Threshold
    >>> CheckSpec("corruption", "gaussian_noise-3", "accuracy", Threshold(0.7)).id
    'corruption[gaussian_noise-3]'
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..config.parse import Threshold, parse_bool
from ..config.settings import Key, Settings

if TYPE_CHECKING:
    from ..verdicts.sequential import EarlyStop

__all__ = ["CheckResult", "CheckSpec", "Family", "Measurement", "ThresholdKind", "VerdictRules", "early_stop_measurement"]

ThresholdKind = Literal["floor", "ceiling"]


@dataclass(frozen=True)
class CheckSpec:
    """One planned check: the family, its name within the family, the metric and its threshold.

    ``params`` are the check's settings (a tuple of pairs, so that the spec stays hashable);
    ``keywords`` are extra names that ``-k`` matches, such as the corruption's group (``noise``).
    """

    family: str
    name: str | None
    metric: str
    threshold: Threshold
    kind: ThresholdKind = "floor"
    params: tuple[tuple[str, Any], ...] = ()
    keywords: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.family}[{self.name}]" if self.name else self.family

    def param(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)


@dataclass(frozen=True)
class Measurement:
    """What a family's ``run`` measured.

    Attributes:
        value: the metric.
        n: the number of samples it was measured on.
        clean: the clean value of the same metric, for relative thresholds (``0.8*clean``).
        chance: the chance level of the metric, for ``0.5*above_chance`` thresholds.
        details: JSON-safe extra data for the reports (curves, per-sample outcomes, ...).
        message: a line to add to a failure message (the worst input, say).
        successes: for a proportion (accuracy-like metrics), the samples that count, so that the
            verdict gets a binomial interval (``verdict.interval``).
        paired: for a proportion against a relative floor (``0.7*clean``), the counts of the pairs
            (clean outcome, this outcome) of the same samples: both succeed, only the clean one,
            only this one, neither; the verdict then gets a paired interval (the two are correlated).
        interval: an interval the family computed itself (a bootstrap interval of ECE, the
            confidence sequence of a check that stopped early), with ``interval_method`` naming it.
        evaluations: the model evaluations (forward passes per sample, gradients counted) the check used.
        evaluations_saved: those early stopping saved.
        failure: a reason the check fails whatever its value (an attack evaluation found unsound:
            the value is then the sound measurement, an upper bound, not evidence of passing).
    """

    value: float
    n: int
    clean: float | None = None
    chance: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""
    successes: int | None = None
    paired: tuple[int, int, int, int] | None = None
    interval: tuple[float, float] | None = None
    interval_method: str | None = None
    evaluations: int | None = None
    evaluations_saved: int | None = None
    failure: str | None = None


@dataclass(frozen=True)
class VerdictRules:
    """How intervals become verdicts (the ``verdict.*`` settings); see :mod:`pytest_mlguard.verdicts`.

    ``checks`` is the number of checks the run's error rate is shared among: under
    ``error_control="bonferroni"`` every interval is drawn at :attr:`check_confidence`,
    ``1 - (1 - confidence) / checks``, so that all the checks of a run hold at once with probability
    ``confidence`` at least.
    """

    confidence: float = 0.95
    interval: str = "clopper-pearson"
    policy: str = "lenient"
    error_control: str = "bonferroni"
    checks: int = 1

    @classmethod
    def from_settings(cls, settings: Settings, planned: int) -> VerdictRules:
        """The rules of a run under ``settings``, where the suite plans ``planned`` checks for one model
        (:func:`~pytest_mlguard.checks.registry.planned_checks`; counted there, as this module is below
        the families)."""
        return cls(
            settings.get("verdict.confidence"),
            settings.get("verdict.interval"),
            settings.get("verdict.policy"),
            settings.get("verdict.error_control"),
            max(1, planned),
        )

    @property
    def check_confidence(self) -> float:
        """The confidence level of one check's interval."""
        if self.error_control == "bonferroni":
            return 1 - (1 - self.confidence) / self.checks
        return self.confidence

    def describe(self) -> dict[str, Any]:
        """The report's ``error_control`` object of a check (see docs/report-schema.md)."""
        return {
            "procedure": self.error_control,
            "checks": self.checks,
            "confidence": self.confidence,
            "check_confidence": round(self.check_confidence, 10),
        }


@dataclass(frozen=True)
class CheckResult:
    """The JSON-safe outcome of one check on one model (see docs/report-schema.md).

    ``label`` is ``passed``, ``failed`` or ``inconclusive`` (the interval straddles the threshold);
    ``passed`` is the test outcome, which for an inconclusive check follows ``policy``.
    """

    id: str
    model: str
    family: str
    metric: str
    value: float
    threshold: float
    threshold_spec: str
    kind: ThresholdKind
    n: int
    passed: bool
    seed: int
    duration_s: float
    details: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""
    label: str = ""
    interval: tuple[float, float] | None = None
    interval_method: str | None = None
    confidence: float | None = None
    policy: str = "lenient"
    required_n: int | None = None
    evaluations: int | None = None
    evaluations_saved: int | None = None
    error_control: Mapping[str, Any] | None = None

    @classmethod
    def from_measurement(
        cls,
        spec: CheckSpec,
        model: str,
        measurement: Measurement,
        *,
        seed: int,
        duration_s: float,
        rules: VerdictRules | None = None,
    ) -> CheckResult:
        from ..verdicts.policy import decide, required_n, scaled_required_n

        rules = rules or VerdictRules()
        threshold = spec.threshold.resolve(measurement.clean, measurement.chance)
        value = float(measurement.value)
        interval, method = _interval(measurement, rules, threshold, spec)
        verdict = decide(value, interval, threshold=threshold, kind=spec.kind, policy=rules.policy)  # type: ignore[arg-type]
        details = dict(measurement.details)
        if measurement.failure:  # fails whatever the value says
            verdict = dataclasses.replace(verdict, label="failed", passed=False)
            details["failure"] = measurement.failure
        needed = None
        if verdict.label == "inconclusive" and interval is not None:
            if method in ("wilson", "clopper-pearson", "confidence-sequence") and measurement.successes is not None:
                fixed_n = method if method in ("wilson", "clopper-pearson") else rules.interval
                needed = required_n(value, threshold, rules.check_confidence, fixed_n, kind=spec.kind)  # type: ignore[arg-type]
            else:
                needed = scaled_required_n(value, interval, threshold, measurement.n, rules.check_confidence)
        return cls(
            id=spec.id,
            model=model,
            family=spec.family,
            metric=spec.metric,
            value=value,
            threshold=threshold,
            threshold_spec=spec.threshold.describe(),
            kind=spec.kind,
            n=int(measurement.n),
            passed=verdict.passed,
            seed=seed,
            duration_s=round(duration_s, 4),
            details=details,
            message=measurement.message,
            label=verdict.label,
            interval=interval,
            interval_method=method,
            confidence=rules.check_confidence if interval is not None else None,
            policy=rules.policy,
            required_n=needed,
            evaluations=measurement.evaluations,
            evaluations_saved=measurement.evaluations_saved,
            error_control=rules.describe(),
        )

    def verdict(self) -> str:
        """``accuracy 0.912 >= floor 0.900`` (or ``<``/``>`` when it fails), and for an inconclusive
        check the policy and the sample size that would decide it."""
        if self.kind == "floor":
            op = ">=" if self.value >= self.threshold else "<"
        else:
            op = "<=" if self.value <= self.threshold else ">"
        spec = f" ({self.threshold_spec})" if self.threshold_spec != f"{self.threshold:g}" else ""
        failure = self.details.get("failure")
        if failure and not self.passed:
            return f"{self.metric} {self.value:.4f}, {self.kind} {self.threshold:.4f}{spec}: fails, {failure}"
        text = f"{self.metric} {self.value:.4f} {op} {self.kind} {self.threshold:.4f}{spec}"
        if self.label == "inconclusive":
            outcome = "passes" if self.passed else "fails"
            text += f": inconclusive ({outcome} under policy {self.policy!r})"
            if self.required_n:
                text += f"; about n={self.required_n} samples would decide it"
        return text

    def evidence(self) -> str:
        """``n=120 samples with seed=0; 95% wilson interval [0.8512, 0.9468]; stopped early ...``"""
        text = f"n={self.n} samples with seed={self.seed}"
        if self.interval is not None:
            text += f"; {_percent(self.confidence)} {self.interval_method} interval [{self.interval[0]:.4f}, {self.interval[1]:.4f}]"
        if self.evaluations_saved:
            text += f"; stopped early, {self.evaluations_saved} model evaluations saved"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The report's check object: ``floor`` or ``ceiling`` holds the threshold."""
        interval = None
        if self.interval is not None:
            interval = {"low": self.interval[0], "high": self.interval[1], "method": self.interval_method, "confidence": self.confidence}
        return {
            "id": self.id,
            "model": self.model,
            "family": self.family,
            "metric": self.metric,
            "value": None if math.isnan(self.value) else self.value,
            self.kind: self.threshold,
            "threshold": self.threshold_spec,
            "n": self.n,
            "passed": self.passed,
            "verdict": self.label or ("passed" if self.passed else "failed"),
            "interval": interval,
            "policy": self.policy,
            "required_n": self.required_n,
            "evaluations": self.evaluations,
            "evaluations_saved": self.evaluations_saved,
            "error_control": None if self.error_control is None else dict(self.error_control),
            "seed": self.seed,
            "duration_s": self.duration_s,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        kind: ThresholdKind = "floor" if "floor" in data else "ceiling"
        interval = data.get("interval")
        return cls(
            id=data["id"],
            model=data["model"],
            family=data["family"],
            metric=data["metric"],
            value=math.nan if data["value"] is None else data["value"],
            threshold=data[kind],
            threshold_spec=data["threshold"],
            kind=kind,
            n=data["n"],
            passed=data["passed"],
            seed=data["seed"],
            duration_s=data["duration_s"],
            details=data.get("details", {}),
            label=data.get("verdict", ""),
            interval=(interval["low"], interval["high"]) if interval else None,
            interval_method=interval["method"] if interval else None,
            confidence=interval["confidence"] if interval else None,
            policy=data.get("policy", "estimate"),
            required_n=data.get("required_n"),
            evaluations=data.get("evaluations"),
            evaluations_saved=data.get("evaluations_saved"),
            error_control=data.get("error_control"),
        )


def _percent(confidence: float | None) -> str:
    """``95%``, or ``99.85%`` for a check's share of the run's error rate."""
    if confidence is None:
        return ""
    text = f"{100 * confidence:.2f}".rstrip("0").rstrip(".")
    return text + "%"


def _interval(measurement: Measurement, rules: VerdictRules, threshold: float, spec: CheckSpec) -> tuple[tuple[float, float] | None, str | None]:
    """The interval of a measurement at the check's confidence: its own, a paired one against a
    relative floor, or a binomial one for a proportion.

    A proportion against a floor of 1 (or a ceiling of 0) gets no binomial interval: every sample
    must count, which is a fact about the samples measured, not an estimate that more samples would
    decide (no interval around a proportion can lie wholly at 1).
    """
    if measurement.interval is not None:
        low, high = measurement.interval
        return (float(low), float(high)), measurement.interval_method or "bootstrap"
    if measurement.successes is None or measurement.n < 1 or math.isnan(measurement.value):
        return None, None
    if (spec.kind == "floor" and threshold >= 1.0) or (spec.kind == "ceiling" and threshold <= 0.0):
        return None, None
    if measurement.paired is not None and spec.threshold.reference == "clean":
        from ..verdicts.intervals import paired_interval_counts

        low, high = paired_interval_counts(
            *measurement.paired, weight=spec.threshold.value, confidence=rules.check_confidence, method=rules.interval  # type: ignore[arg-type]
        )
        # the paired interval of value - factor * clean (on the same samples), moved by the threshold:
        # it clears the threshold exactly when the paired difference clears 0
        return (max(0.0, threshold + low), min(1.0, threshold + high)), f"paired-{rules.interval}"
    from ..verdicts.intervals import binomial_interval

    interval = binomial_interval(measurement.successes, measurement.n, rules.check_confidence, rules.interval)  # type: ignore[arg-type]
    return interval, rules.interval


RunFunction = Callable[[CheckSpec, Any], Measurement]  # (spec, checks.evaluation.Evaluation): that module imports this one


@dataclass(frozen=True)
class Family:
    """A family of checks, declared in the family's folder without importing anything heavy.

    Attributes:
        name: the family's name, the first part of its node ids (``corruption``).
        keys: its settings keys (``<name>.enabled`` is added for every family).
        plan: settings -> the checks to run; cheap, called at collection.
        run: ``"module:function"`` of the measurement, imported when a check runs.
        needs: what the checks need from the project: ``model``, ``data``, ``pipeline``.
        doc: one line for ``--help`` and the docs.
        make: ``(name, settings) -> CheckSpec`` for a check that is not in the plan (custom tests
            ask for any corruption or attack); ``None``: only planned checks can be made.
        cacheable: whether ``--mlguard-cache`` may reuse a result measured earlier on the same
            weights, data and settings.
        machine: whether results depend on the machine (latency, thread counts, CPU arithmetic):
            the cache key then holds the machine's identity and torch's thread count.

    What budgets, reports and the plugin read from it (defaults suit a small, cheap family; docs/extending.md):

    Attributes:
        rank: where its checks run under ``--mlguard-budget`` (lower first); ``rank_of(spec)``: a check's own.
        sampled: whether a budget may run its checks on fewer samples (``evaluation.sample_limit``).
        prior_forwards: a check's cost per sample in forward passes until one is timed (``None``: ``prior_seconds``).
        work: forward passes per sample where they differ by check (attacks); ``samples``: ``(spec, n) -> samples``.
        prior_seconds: seconds of a check until one is timed, without ``prior_forwards``.
        shared: whether its checks share one measurement (the first pays for all).
        rerun: whether a gate that compares robustness reruns its checks on both models.
        together: whether its checks compare with each other (a black-box attack with a gradient one at the
            same epsilon): under pytest-xdist one worker runs all of them, in their order (:mod:`pytest_mlguard.scheduling`).
        hooks: dotted name of a module of pytest hooks (report and terminal sections), registered with it.
        plots: ``(model, checks) -> [{"png", "alt", "caption"}]`` (or ``"module:function"``): report.html's
            figures of its checks of one model, drawn after the built-in ones.
    """

    name: str
    keys: tuple[Key, ...]
    plan: Callable[[Settings], list[CheckSpec]]
    run: str | RunFunction
    needs: tuple[str, ...] = ("model", "data")
    doc: str = ""
    make: Callable[[str | None, Settings], CheckSpec] | None = None
    cacheable: bool = True
    machine: bool = False
    rank: int = 6
    rank_of: Callable[[CheckSpec], int | None] | None = None
    sampled: bool = False
    prior_forwards: float | None = None
    work: Callable[[CheckSpec], float] | None = None
    samples: Callable[[CheckSpec, int], int] | None = None
    prior_seconds: float = 1.0
    shared: bool = False
    rerun: bool = False
    together: bool = False
    hooks: str | None = None
    plots: str | Callable[[str, list[Mapping[str, Any]]], list[dict[str, str]]] | None = None

    @property
    def all_keys(self) -> tuple[Key, ...]:
        enabled = Key(f"{self.name}.enabled", parse_bool, True, f"run the {self.name} checks")
        return (enabled, *self.keys)

    def planned(self, settings: Settings) -> list[CheckSpec]:
        return self.plan(settings) if settings.get(f"{self.name}.enabled") else []

    def spec(self, name: str | None, settings: Settings) -> CheckSpec:
        """The check ``name`` of this family under ``settings`` (``KeyError`` if there is none)."""
        if self.make is not None:
            return self.make(name, settings)
        for spec in self.plan(settings):
            if spec.name == name:
                return spec
        known = [spec.id for spec in self.plan(settings)]
        raise KeyError(f"no check {self.name}[{name}]; expected one of {known}")

    def runner(self) -> RunFunction:
        if callable(self.run):
            return self.run
        module, _, function = self.run.partition(":")
        return getattr(importlib.import_module(module), function)

    def plotter(self) -> Callable[[str, list[Mapping[str, Any]]], list[dict[str, str]]] | None:
        """The family's :attr:`plots` function, imported if named, or ``None``."""
        if self.plots is None or callable(self.plots):
            return self.plots
        module, _, function = self.plots.partition(":")
        return getattr(importlib.import_module(module), function)

    def check_rank(self, spec: CheckSpec) -> int:
        """Where ``spec`` runs under a budget: lower first."""
        own = self.rank_of(spec) if self.rank_of is not None else None
        return self.rank if own is None else own


def early_stop_measurement(stop: EarlyStop, details: dict[str, Any], message: str, *, per_sample: int = 1) -> Measurement:
    """The :class:`Measurement` of a proportion check after the looks of ``stop``: the value and interval
    of :meth:`~pytest_mlguard.verdicts.sequential.EarlyStop.value_and_interval`, the stop in
    ``details["early_stop"]`` and in the message, and the model evaluations used and saved
    (``per_sample`` a sample). Here rather than on ``EarlyStop``: ``verdicts/`` imports nothing above it."""
    details = {**details, "early_stop": stop.details(per_sample * stop.n)}
    if stop.stopped:
        message += f"\nstopped early after {stop.n} of {stop.total} samples: the verdict was decided ({stop.mode})"
    value, interval, method = stop.value_and_interval()
    return Measurement(
        value=float(value),
        n=stop.n,
        details=details,
        message=message,
        successes=None if stop.stopped and stop.mode == "exact" else stop.successes,
        interval=interval,
        interval_method=method,
        evaluations=per_sample * stop.n,
        evaluations_saved=per_sample * (stop.total - stop.n),
    )


#: the run's families by name, in the registry's order: :func:`~pytest_mlguard.checks.registry.families`
#: keeps it, for the modules below the registry (the budget, report.html) that read what a family declares
_registered: dict[str, Family] = {}


def register_families(found: Iterable[Family]) -> None:
    """Make ``found`` the run's families (the registry's to call)."""
    _registered.clear()
    _registered.update((family.name, family) for family in found)


def registered_families() -> tuple[Family, ...]:
    """The run's families, in the registry's order."""
    return tuple(_registered.values())


def registered_family(name: str) -> Family:
    """The run's family ``name``; for a name not registered, a :class:`Family` with the defaults."""
    found = _registered.get(name)
    return found if found is not None else Family(name, (), lambda settings: [], "")
