"""A check's verdict: the :class:`VerdictRules` of a run and the JSON-safe :class:`CheckResult` a
:class:`~pytest_mlguard.checks._spec.Measurement` becomes under them (see docs/report-schema.md)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._spec import CheckSpec, Measurement, ThresholdKind

if TYPE_CHECKING:
    from ..config._settings import Settings

@dataclass(frozen=True)
class VerdictRules:
    """How intervals become verdicts (the ``verdict.*`` settings); see :mod:`pytest_mlguard._verdicts`.

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
        (:func:`~pytest_mlguard.checks._registry.planned_checks`; counted there, as this module is below
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

    ``label`` is ``passed``, ``failed`` or ``inconclusive`` (the interval straddles the threshold), or
    ``pending`` for a shard's share of a check that the merge decides; ``passed`` is the test outcome, which
    for an inconclusive check follows ``policy`` (a pending one passes).
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
        partial: bool = False,
    ) -> CheckResult:
        """The result of ``measurement`` with its verdict; ``partial``: a shard's share of a check that the
        merge recomputes from every shard's statistics: no interval and no required n (not even the
        measurement's own interval), and the label ``pending``, passed: the merge decides."""
        from .._verdicts.policy import decide

        rules = rules or VerdictRules()
        if partial and measurement.n == 0 and spec.threshold.relative and measurement.clean is None:
            threshold = math.nan  # a shard that holds none of the check's samples: no clean value, the merge resolves it
        else:
            threshold = spec.threshold.resolve(measurement.clean, measurement.chance)
        value = float(measurement.value)
        interval, method = _interval(measurement, rules, threshold, spec) if not partial else (None, None)
        verdict = decide(value, interval, threshold=threshold, kind=spec.kind, policy=rules.policy)  # type: ignore[arg-type]
        details = dict(measurement.details)
        if measurement.failure:  # fails whatever the value says
            verdict = dataclasses.replace(verdict, label="failed", passed=False)
            details["failure"] = measurement.failure
        needed = _needed(measurement, spec, rules, value, threshold, interval, method) if verdict.label == "inconclusive" and not partial else None
        label: str = "pending" if partial else verdict.label  # a shard's share: neither passed nor failed, the merge decides
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
            passed=verdict.passed or partial,
            seed=seed,
            duration_s=round(duration_s, 4),
            details=details,
            message=measurement.message,
            label=label,
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
            self.kind: None if math.isnan(self.threshold) else self.threshold,
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
        from .._verdicts.intervals import paired_interval_counts

        low, high = paired_interval_counts(
            *measurement.paired, weight=spec.threshold.value, confidence=rules.check_confidence, method=rules.interval  # type: ignore[arg-type]
        )
        # the paired interval of value - factor * clean (on the same samples), moved by the threshold:
        # it clears the threshold exactly when the paired difference clears 0
        return (max(0.0, threshold + low), min(1.0, threshold + high)), f"paired-{rules.interval}"
    from .._verdicts.intervals import binomial_interval

    interval = binomial_interval(measurement.successes, measurement.n, rules.check_confidence, rules.interval)  # type: ignore[arg-type]
    return interval, rules.interval



def _needed(measurement: Measurement, spec: CheckSpec, rules: VerdictRules, value: float, threshold: float, interval: Any, method: Any) -> int | None:
    """The n an inconclusive check names as the one that would decide it (``None``: none computed)."""
    from .._verdicts.policy import required_n, scaled_required_n

    if interval is None:
        return None
    if measurement.interval is not None and str(method).startswith("paired-"):
        return measurement.required_n  # the family's own, for its paired statistic
    if str(method).startswith("paired-") and measurement.paired is not None:  # a relative floor
        from .._verdicts.paired import relative_required_n

        return relative_required_n(measurement.paired, factor=spec.threshold.value, confidence=rules.check_confidence, method=rules.interval)  # type: ignore[arg-type]
    if measurement.interval_confidence is not None:  # a binomial interval at the family's level: n at that level, or none
        level = measurement.interval_confidence
        return required_n(value, threshold, level, rules.interval, kind=spec.kind) if measurement.successes is not None else None  # type: ignore[arg-type]
    if method in ("wilson", "clopper-pearson", "confidence-sequence") and measurement.successes is not None:
        fixed_n = method if method in ("wilson", "clopper-pearson") else rules.interval
        return required_n(value, threshold, rules.check_confidence, fixed_n, kind=spec.kind)  # type: ignore[arg-type]
    return scaled_required_n(value, interval, threshold, measurement.n, rules.check_confidence)
