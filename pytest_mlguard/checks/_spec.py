"""What a check is before and after it is measured: its :class:`CheckSpec` (planned from settings) and
the :class:`Measurement` its family's ``run`` returns. Imports nothing above the configuration.

Example:
    >>> from pytest_mlguard.config.parse import Threshold
    >>> CheckSpec("corruption", "gaussian_noise-3", "accuracy", Threshold(0.7)).id
    'corruption[gaussian_noise-3]'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..config.parse import Threshold

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
        required_n: for an ``interval`` of a paired comparison (``interval_method`` ``paired-*``),
            the sample size that would decide it, computed by the family for its own statistic
            (``None``: not known, and the reports then name none).
        interval_confidence: for an ``interval`` of a proportion (``successes`` given) that the family drew
            at another level than the check's, that level (the weakest slice's, Bonferroni over the
            slices): the sample size that would decide it is computed at that level (``None``: at the
            check's; see :meth:`~pytest_mlguard.checks._result.CheckResult.from_measurement`).
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
    required_n: int | None = None
    interval_confidence: float | None = None
