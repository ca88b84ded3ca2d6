"""Time budgets: ``--mlguard-budget 120s`` fits the built-in suite into the time it is given.

The budget counts from the start of the pytest run (imports and fixtures included) and keeps a
reserve for writing the reports. Under a budget:

* the suite's items run most informative first: clean accuracy and calibration (free, given the clean
  predictions), garbage inputs, corruptions, fixed-epsilon attacks, input fuzzing, determinism, drift
  and the gate, then sweeps, minimal attacks and resource measurements (:func:`rank`);
* before each check, :class:`Budget` estimates the cost of every check still to run from the model's
  measured throughput (the clean predictions, timed) and what the checks before it actually took per
  sample, and gives the check its share of the time left: a corruption or attack check whose share
  does not cover all its samples runs on fewer of them (the evaluation's data are in random order, so
  the first ``k`` are a random sample; determinism checks likewise), an inputs check searches for less time;
* a check whose share would leave fewer than :data:`MIN_SAMPLES` samples, or that does not fit in the
  time left at all, is skipped with a reason that names the budget ("cut").

Nothing is dropped silently: every shortened and cut check is listed in the terminal summary and in the
report's ``budget`` section (docs/verdicts.md).

Example:
    >>> parse_duration("2m", "budget", "command line")
    120.0
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config.parse import invalid, parse_optional
from .config.settings import Key

if TYPE_CHECKING:
    from collections.abc import Callable

    from .checks.base import CheckResult, CheckSpec
    from .config.settings import Settings

__all__ = [
    "ATTACK_UNIT",
    "BUDGET_KEYS",
    "Budget",
    "FAMILY_RANK",
    "INPUTS_PRIOR_SECONDS",
    "Limits",
    "MIN_SAMPLES",
    "PRIOR_FORWARDS",
    "PRIOR_SECONDS",
    "SAMPLED",
    "parse_duration",
    "rank",
]

BUDGET_KEYS = (
    Key(
        "budget",
        parse_optional(lambda value, key, where: parse_duration(value, key, where)),
        None,
        "fit the built-in suite into this time (120, '120s', '2m'): checks are shortened or cut, and the report says which",
        cli="--mlguard-budget",
    ),
)

#: a check cut to fewer samples than this is not worth running: it is cut instead
MIN_SAMPLES = 30
#: order of the families under a budget (lower first); families not named run last
FAMILY_RANK = {"accuracy": 0, "calibration": 1, "corruption": 3, "attack": 4, "inputs": 5, "determinism": 5, "drift": 5, "gate": 5, "resources": 7}
#: families whose checks run on a number of samples a budget can shorten
SAMPLED = ("corruption", "attack", "determinism")
#: prior cost per sample in forward passes, until a check of the family has been timed
PRIOR_FORWARDS = {"accuracy": 0.0, "calibration": 0.0, "determinism": 50.0, "drift": 10.0, "gate": 2.0, "corruption": 8.0}
#: prior seconds of a check measured in seconds rather than samples (resources), until one is timed
PRIOR_SECONDS = 1.0
#: prior seconds of an inputs check, until one is timed
INPUTS_PRIOR_SECONDS = 3.0


def parse_duration(value: Any, key: str, where: str) -> float:
    """Seconds from ``120``, ``"120s"``, ``"2m"``, ``"1h"`` or ``"1m30s"``."""
    expected = "a duration such as 120, '120s', '2m' or '1m30s'"
    if isinstance(value, bool):
        raise invalid(value, key, where, expected)
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*(\d+(\.\d+)?\s*[hms]?\s*)+", value):
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms]?)", value)
        seconds = sum(float(number) * {"h": 3600, "m": 60, "s": 1, "": 1}[unit] for number, unit in parts)
        if len(parts) > 1 and any(unit == "" for _, unit in parts):
            raise invalid(value, key, where, expected)
    else:
        raise invalid(value, key, where, expected)
    if not math.isfinite(seconds) or seconds <= 0:
        raise invalid(value, key, where, expected)
    return seconds


def rank(spec: CheckSpec) -> int:
    """Where a check runs under a budget: lower first."""
    base = FAMILY_RANK.get(spec.family, 6)
    if spec.family == "attack" and spec.param("eps") is None:
        return 6  # sweeps and minimal attacks: several attacks' worth each
    if spec.family == "calibration" and spec.param("source") is not None:
        return 2  # garbage inputs: one model pass per source
    return base


@dataclass
class Limits:
    """What a check may use under the budget: ``samples`` (corruption, attack), ``seconds`` (inputs)."""

    samples: int | None = None
    seconds: float | None = None


@dataclass
class Budget:
    """The plan of one process (an xdist worker plans its share: the checks divided by the workers).

    Args:
        seconds: the budget.
        start: when the run started (``time.perf_counter()``; the plugin's import).
        reserve: seconds kept for the reports at the end.
    """

    seconds: float
    start: float
    reserve: float = 0.0
    workers: int = 1
    inputs_seconds: float = 120.0  # inputs.time_budget: how long an inputs check searches without a budget
    pending: dict[str, CheckSpec] = field(default_factory=dict)  # node id -> spec, in run order
    throughput: float | None = None  # forward passes per second of the model, measured on the clean data
    per_sample: dict[str, float] = field(default_factory=dict)  # family -> seconds per sample, timed
    per_check: dict[str, float] = field(default_factory=dict)  # family -> seconds per check, timed
    used: dict[str, float] = field(default_factory=dict)  # family -> share of its samples a check used (early stopping)
    cut: list[dict[str, Any]] = field(default_factory=list)
    shortened: list[dict[str, Any]] = field(default_factory=list)
    clock: Callable[[], float] = time.perf_counter

    @classmethod
    def from_settings(cls, settings: Settings, start: float, workers: int = 1) -> Budget | None:
        seconds = settings.get("budget")
        if seconds is None:
            return None
        reserve = min(10.0, max(1.0, 0.08 * seconds))
        return cls(seconds, start, reserve=reserve, workers=max(1, workers), inputs_seconds=settings.get("inputs.time_budget"))

    @property
    def deadline(self) -> float:
        return self.start + self.seconds - self.reserve

    def left(self) -> float:
        return self.deadline - self.clock()

    def measure(self, forwards: int, seconds: float) -> None:
        """The model's throughput, from the clean predictions (``forwards`` samples in ``seconds``)."""
        if self.throughput is None and forwards > 0 and seconds > 0:
            self.throughput = forwards / seconds

    # -- estimates ------------------------------------------------------------------------------
    def _samples(self, spec: CheckSpec, n: int) -> int:
        if spec.family == "attack" and spec.param("samples"):
            return min(n, int(spec.param("samples")))
        if spec.family == "calibration" and spec.param("source") is not None:
            return int(spec.param("samples") or n)
        return n

    def seconds_per_sample(self, spec: CheckSpec) -> float | None:
        """Seconds one sample of ``spec`` costs: timed on this family, else a prior in forward passes."""
        if spec.family in self.per_sample:
            factor = 1.0
            if spec.family == "attack":
                factor = _attack_forwards(spec) / ATTACK_UNIT
            return self.per_sample[spec.family] * factor
        forwards = _attack_forwards(spec) if spec.family == "attack" else PRIOR_FORWARDS.get(spec.family)
        if forwards is None or self.throughput is None:
            return None
        return forwards / self.throughput

    def estimate(self, spec: CheckSpec, n: int) -> float:
        """Seconds ``spec`` would take on all its samples (``n``: the evaluation's samples)."""
        if spec.family == "inputs":  # a search ends when its examples run out, mostly long before inputs.time_budget
            return min(self.inputs_seconds, self.per_check.get("inputs", INPUTS_PRIOR_SECONDS))
        per_sample = self.seconds_per_sample(spec)
        if per_sample is None:
            return self.per_check.get(spec.family, PRIOR_SECONDS)
        return per_sample * self._samples(spec, n) * self.used.get(spec.family, 1.0)

    # -- the plan ---------------------------------------------------------------------------------
    def limits(self, nodeid: str, spec: CheckSpec, n: int) -> Limits | None:
        """This check's limits, or ``None`` if it is cut (recorded with the reason)."""
        left = self.left()
        later = sum(self.estimate(s, n) for node, s in self.pending.items() if node != nodeid) / self.workers
        mine = self.estimate(spec, n)
        total = mine + later
        allowance = left * mine / total if total > 0 else left
        reason = None
        if left <= 0:
            reason = f"the budget of {self.seconds:g} s was spent"
        elif spec.family in SAMPLED:
            per_sample = self.seconds_per_sample(spec) or 0.0
            full = self._samples(spec, n)
            least = min(MIN_SAMPLES, full)
            share = self.used.get(spec.family, 1.0)  # early stopping: a check uses this share of its samples
            samples = full if per_sample <= 0 else min(full, max(least, int(allowance / (per_sample * share))))
            if per_sample * least > left:
                reason = f"{left:.1f} s of the budget of {self.seconds:g} s left: {least} samples would take about {per_sample * least:.1f} s"
            else:
                return Limits(samples=samples if samples < full else None)
        elif spec.family == "inputs":
            return Limits(seconds=max(1.0, min(allowance, self.inputs_seconds)))
        elif mine > left:
            reason = f"{left:.1f} s of the budget of {self.seconds:g} s left; it takes about {mine:.1f} s"
        else:
            return Limits()
        self.cut.append({"check": spec.id, "node": nodeid, "reason": reason})
        self.pending.pop(nodeid, None)
        return None

    def done(self, nodeid: str, spec: CheckSpec, result: CheckResult | None, seconds: float, limits: Limits | None, n: int) -> None:
        """Learn from a finished check what its family costs; record it if it was shortened."""
        self.pending.pop(nodeid, None)
        if result is None:
            return
        used = result.n if spec.family in SAMPLED or spec.family in PRIOR_FORWARDS else 0
        planned = limits.samples if limits is not None and limits.samples is not None else self._samples(spec, n)
        if used > 0 and spec.family in SAMPLED:
            previous_share = self.used.get(spec.family)
            share = min(1.0, used / max(1, planned))
            self.used[spec.family] = share if previous_share is None else 0.5 * (previous_share + share)
        if used > 0 and seconds > 0:
            per_sample = seconds / used
            if spec.family == "attack":
                per_sample *= ATTACK_UNIT / _attack_forwards(spec)
            previous = self.per_sample.get(spec.family)
            self.per_sample[spec.family] = per_sample if previous is None else 0.5 * (previous + per_sample)
        else:
            self.per_check[spec.family] = seconds
        if limits is not None and limits.samples is not None:
            self.shortened.append({"check": spec.id, "model": result.model, "n": limits.samples, "planned_n": self._samples(spec, n)})
        elif limits is not None and limits.seconds is not None and limits.seconds < self.inputs_seconds and seconds >= 0.9 * limits.seconds:
            # the search ran into its share of the budget (one that ends sooner ran out of examples first)
            self.shortened.append({"check": spec.id, "model": result.model, "seconds": round(limits.seconds, 1), "planned_seconds": self.inputs_seconds})

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "spent_s": round(self.clock() - self.start, 2),
            "throughput": None if self.throughput is None else round(self.throughput, 1),
            "cut": list(self.cut),
            "shortened": list(self.shortened),
        }


#: the unit ``Budget.per_sample["attack"]`` is kept in: the forward-equivalents of one sample of a 10-step PGD
ATTACK_UNIT = 3.0 * 10 + 2


def _attack_forwards(spec: CheckSpec) -> float:
    """Forward-equivalents per sample of an attack check (a gradient counts as two forwards)."""
    params = dict(spec.param("params") or ())
    name = spec.param("attack")
    if name == "fgsm":
        per_eps = 4.0
    elif name in ("square", "hopskipjump"):
        per_eps = float(params.get("queries") or 1000) / 4  # success ends most searches well before the budget
    elif name in ("deepfool", "cw"):
        per_eps = 3.0 * float(params.get("max_iter") or params.get("steps") or 50)
    else:
        per_eps = 3.0 * float(params.get("steps") or 10) + 2
    sweep = spec.param("sweep") if spec.param("eps") is None and name not in ("deepfool", "cw") else None
    return per_eps * (len(sweep) if sweep else 1)
