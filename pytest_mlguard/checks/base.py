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

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..config.parse import Threshold, parse_bool
from ..config.settings import Key, Settings

if TYPE_CHECKING:
    from .evaluation import Evaluation

__all__ = ["CheckResult", "CheckSpec", "Family", "Measurement", "ThresholdKind"]

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
    """

    value: float
    n: int
    clean: float | None = None
    chance: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class CheckResult:
    """The JSON-safe outcome of one check on one model (see docs/report-schema.md)."""

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

    @classmethod
    def from_measurement(
        cls, spec: CheckSpec, model: str, measurement: Measurement, *, seed: int, duration_s: float
    ) -> CheckResult:
        threshold = spec.threshold.resolve(measurement.clean, measurement.chance)
        value = float(measurement.value)
        if math.isnan(value):
            passed = False
        elif spec.kind == "floor":
            passed = value >= threshold
        else:
            passed = value <= threshold
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
            passed=passed,
            seed=seed,
            duration_s=round(duration_s, 4),
            details=dict(measurement.details),
            message=measurement.message,
        )

    def verdict(self) -> str:
        """``accuracy 0.912 >= floor 0.900`` (or ``<``/``>`` when it fails)."""
        if self.kind == "floor":
            op = ">=" if self.passed else "<"
        else:
            op = "<=" if self.passed else ">"
        spec = f" ({self.threshold_spec})" if self.threshold_spec != f"{self.threshold:g}" else ""
        return f"{self.metric} {self.value:.4f} {op} {self.kind} {self.threshold:.4f}{spec}"

    def to_dict(self) -> dict[str, Any]:
        """The report's check object: ``floor`` or ``ceiling`` holds the threshold."""
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
            "seed": self.seed,
            "duration_s": self.duration_s,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        kind: ThresholdKind = "floor" if "floor" in data else "ceiling"
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
        )


RunFunction = Callable[[CheckSpec, "Evaluation"], Measurement]


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
    """

    name: str
    keys: tuple[Key, ...]
    plan: Callable[[Settings], list[CheckSpec]]
    run: str
    needs: tuple[str, ...] = ("model", "data")
    doc: str = ""
    make: Callable[[str | None, Settings], CheckSpec] | None = None

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
        module, _, function = self.run.partition(":")
        return getattr(importlib.import_module(module), function)
