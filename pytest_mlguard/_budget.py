"""Time budgets: ``--mlguard-budget 120s`` fits the built-in suite into the time it is given.

The budget counts from the start of the pytest run (imports and fixtures included) and keeps a
reserve for writing the reports. Under a budget:

* the suite's items run most informative first, in the order their families declare
  (``Family.rank``, ``Family.rank_of``): the searches, which can use any time, last, so that they take
  what the other checks leave (:func:`rank`);
* before each check, :class:`Budget` estimates the cost of every check still to run, as a fixed cost
  per check plus a cost per unit of work (samples, times the family's forward passes per sample),
  from the model's measured throughput (the clean predictions, timed) and, once checks of a family
  have run, a fit to what they took; and gives the check its share of the time left: a check of a
  ``sampled`` family whose share does not cover all its samples runs on fewer of them (the
  evaluation's data are in random order, so the first ``k`` are a random sample), a search searches
  for less time, or, when everything else fits, for the time left over;
* a check whose share would leave fewer than :data:`MIN_SAMPLES` samples, or that does not fit in the
  time left at all, is skipped with a reason that names the budget ("cut").

What a check costs is its family's declaration (:class:`~pytest_mlguard.checks._base.Family`): this
module names no family.

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

from .checks._base import Family, registered_families, registered_family
from .config.parse import invalid, parse_number, parse_optional
from .config._settings import Key

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .checks._base import CheckResult, CheckSpec
    from .config._settings import Settings


BUDGET_KEYS = (
    Key(
        "budget",
        parse_optional(lambda value, key, where: parse_duration(value, key, where)),
        None,
        "fit the built-in suite into this time (120, '120s', '2m'): checks are shortened or cut, and the report says which",
        cli="--mlguard-budget",
        metavar="DURATION",
    ),
    Key(
        "budget_max_cut",
        parse_number(0.0, 1.0),
        0.0,
        "the share of checks a budget may cut (0 to 1) before the run fails: by default a cut check counts as not passed",
    ),
    Key(
        "timeout",
        parse_optional(lambda value, key, where: parse_duration(value, key, where)),
        600.0,
        "wall-clock limit of each check (60, '90s', '10m'; none: no limit): a check without an answer by then "
        "fails with 'no answer within N s' and the run goes on",
    ),
)

#: a check cut to fewer samples than this is not worth running: it is cut instead
MIN_SAMPLES = 30
#: how long a search runs without a budget, where its family does not say (``Family.search_seconds``)
SEARCH_SECONDS = 120.0


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


def family_of(name: str) -> Family:
    """The run's family ``name``, whose declaration says what its checks cost (``Family.rank``,
    ``sampled``, ``prior_forwards``, ...); the defaults of a :class:`Family` for a name not registered."""
    return registered_family(name)


def rank(spec: CheckSpec) -> int:
    """Where a check runs under a budget: lower first (``Family.rank``, or ``Family.rank_of(spec)``)."""
    return family_of(spec.family).check_rank(spec)


@dataclass
class Limits:
    """What a check may use under the budget: ``samples`` (a ``sampled`` family's), ``seconds`` (a search's)."""

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
    search_seconds: dict[str, float] = field(default_factory=dict)  # family -> how long its searches run without a budget
    pipeline_input: str | None = None  # the pipeline's input kind, once known: which checks apply (Family.applies)
    pending: dict[str, CheckSpec] = field(default_factory=dict)  # node id -> spec, in run order
    planned: dict[str, CheckSpec] = field(default_factory=dict)  # node id -> spec, every check of the run
    throughput: float | None = None  # forward passes per second of the model, measured on the clean data
    timed: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # family -> (work, seconds) of its checks
    _fits: dict[str, tuple[float, float] | None] = field(default_factory=dict, repr=False)  # family -> cost(), until a check of it finishes
    per_check: dict[str, float] = field(default_factory=dict)  # family (or family:kind, Family.timed_as) -> seconds per check, timed
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
        searches = {f.name: f.search_seconds(settings) for f in registered_families() if f.search_seconds is not None}
        return cls(seconds, start, reserve=reserve, workers=max(1, workers), search_seconds=searches)

    @property
    def deadline(self) -> float:
        return self.start + self.seconds - self.reserve

    def left(self) -> float:
        return self.deadline - self.clock()

    def measure(self, forwards: int, seconds: float) -> None:
        """The model's throughput, from the clean predictions (``forwards`` samples in ``seconds``)."""
        if self.throughput is None and forwards > 0 and seconds > 0:
            self.throughput = forwards / seconds
            self._fits.clear()  # the fits fall back on the throughput's prior

    # -- estimates ------------------------------------------------------------------------------
    def _samples(self, spec: CheckSpec, n: int) -> int:
        samples = family_of(spec.family).samples
        return n if samples is None else samples(spec, n)

    def _unit(self, spec: CheckSpec) -> float:
        """Work per sample: the family's ``work`` (an attack's forward-equivalents: a gradient counts as two), else 1."""
        work = family_of(spec.family).work
        return 1.0 if work is None else work(spec)

    def _prior_slope(self, family: str) -> float | None:
        """Seconds per unit of work from the throughput alone, before a check of ``family`` is timed."""
        forwards = family_of(family).prior_forwards
        return None if forwards is None or self.throughput is None else forwards / self.throughput

    def cost(self, family: str) -> tuple[float, float] | None:
        """``(fixed seconds per check, seconds per unit of work)`` of ``family``, from its timed checks.

        The first check of a family also paid for one-time costs (imports, building an ART estimator),
        so the fit leaves it out: until a second check has run, the throughput's prior stands. The
        slope is a least-squares fit once two checks of clearly different sizes are in it; before
        that, the throughput's prior (a check whose time exceeds it has a fixed cost, not a higher
        cost per sample). The fixed cost is the (lower) median of what the slope leaves unexplained.
        """
        if family not in self._fits:
            self._fits[family] = self._fit(family)
        return self._fits[family]

    def _fit(self, family: str) -> tuple[float, float] | None:
        timed = self.timed.get(family)
        if not timed:
            return None
        prior = self._prior_slope(family)
        if len(timed) == 1:  # the first check of a family also paid for one-time costs: it tells little yet
            work, seconds = timed[0]
            return (0.0, prior) if prior is not None else (0.0, seconds / work) if work > 0 else None
        timed = timed[1:]
        works = [w for w, _ in timed]
        slope = None
        if len(timed) >= 2 and max(works) >= 1.5 * min(works):
            mean_w = sum(works) / len(works)
            mean_t = sum(t for _, t in timed) / len(timed)
            var = sum((w - mean_w) ** 2 for w in works)
            fitted = sum((w - mean_w) * (t - mean_t) for w, t in timed) / var
            if fitted > 0:
                slope = fitted if prior is None else max(fitted, prior / 10)
        if slope is None:
            ratio = min(t / w for w, t in timed if w > 0) if any(w > 0 for w in works) else 0.0
            slope = ratio if prior is None else min(ratio, prior)
        residuals = sorted(max(0.0, t - slope * w) for w, t in timed)
        return residuals[(len(residuals) - 1) // 2], slope

    def seconds_per_sample(self, spec: CheckSpec) -> float | None:
        """Seconds one sample of ``spec`` costs beyond the check's fixed cost: fitted on this family's
        timed checks, else a prior in forward passes."""
        fitted = self.cost(spec.family)
        slope = fitted[1] if fitted is not None else self._prior_slope(spec.family)
        return None if slope is None else slope * self._unit(spec)

    def fixed_seconds(self, spec: CheckSpec) -> float:
        fitted = self.cost(spec.family)
        return fitted[0] if fitted is not None else 0.0

    def estimate(self, spec: CheckSpec, n: int, *, stops_early: bool = True) -> float:
        """Seconds ``spec`` would take on all its samples (``n``: the evaluation's samples): of a family
        whose checks stopped early, the share of them its checks used, unless ``stops_early`` is false
        (a check that compares models reruns its checks on every sample of both, neither stopping
        early nor drawing more)."""
        declared = family_of(spec.family)
        if not self.applies(spec):
            return 0.0  # not applicable to the pipeline: skipped at once
        if self._search(spec):
            return min(self._search_cap(spec), declared.prior_seconds)
        if declared.shared and spec.family in self.per_check:
            return 0.0  # the family's measurement is made: the checks after the first read it
        compared = declared.reruns(spec) if declared.reruns is not None else None
        if compared is not None:  # the planned checks it reruns, on both models
            rerun = {s.id: s for s in self.planned.values() if family_of(s.family).rerun and (not compared or s.family in compared or s.id in compared)}
            return 2.0 * sum(self.estimate(s, n, stops_early=False) for s in rerun.values()) + (self._prior_slope(spec.family) or 0.0) * n
        per_sample = self.seconds_per_sample(spec)
        if per_sample is None:
            return self.per_check.get(self._timed_as(spec), declared.prior_seconds)
        share = self.used.get(spec.family, 1.0) if stops_early else 1.0
        return self.fixed_seconds(spec) + per_sample * self._samples(spec, n) * share

    def applies(self, spec: CheckSpec) -> bool:
        """Whether ``spec`` applies to the pipeline (``Family.applies``; any, until its input kind is known)."""
        applies = family_of(spec.family).applies
        return applies is None or self.pipeline_input is None or applies(spec, self.pipeline_input)

    def searches(self, spec: CheckSpec) -> bool:
        """Whether ``spec`` is a search (``Family.searches``) that applies to the pipeline: it can use any time given."""
        return self._search(spec) and self.applies(spec)

    def _search(self, spec: CheckSpec) -> bool:
        searches = family_of(spec.family).searches
        return searches is not None and searches(spec)

    def _search_cap(self, spec: CheckSpec) -> float:
        """How long a search of ``spec``'s family runs without a budget (``Family.search_seconds``)."""
        return self.search_seconds.get(spec.family, SEARCH_SECONDS)

    def _timed_as(self, spec: CheckSpec) -> str:
        """The name ``spec``'s seconds are learned under: its family, or ``family:kind`` (``Family.timed_as``)."""
        timed_as = family_of(spec.family).timed_as
        kind = timed_as(spec) if timed_as is not None else None
        return spec.family if kind is None else f"{spec.family}:{kind}"

    def _later(self, nodeid: str, n: int) -> tuple[float, float, int]:
        """Estimated seconds of the pending checks after ``nodeid`` (a shared family's once), the
        part of them that input searches take, and how many searches there are."""
        total, shared, searching, searches = 0.0, set(), 0.0, 0
        for node, spec in self.pending.items():
            if node == nodeid or (family_of(spec.family).shared and spec.family in shared):
                continue
            shared.add(spec.family)
            estimate = self.estimate(spec, n)
            total += estimate
            if self.searches(spec):
                searching, searches = searching + estimate, searches + 1
        return total / self.workers, searching / self.workers, searches

    # -- the plan ---------------------------------------------------------------------------------
    def limits(self, nodeid: str, spec: CheckSpec, n: int) -> Limits | None:
        """This check's limits, or ``None`` if it is cut (recorded with the reason)."""
        left = self.left()
        later, searching, searches = self._later(nodeid, n)
        mine = self.estimate(spec, n)
        total = mine + later
        allowance = left * mine / total if total > 0 else left
        reason = None
        if left <= 0:
            reason = f"the budget of {self.seconds:g} s was spent"
        elif family_of(spec.family).sampled:
            per_sample = self.seconds_per_sample(spec) or 0.0
            full = self._samples(spec, n)
            least = min(MIN_SAMPLES, full)
            share = self.used.get(spec.family, 1.0)  # early stopping: a check uses this share of its samples
            fixed = self.fixed_seconds(spec)
            samples = full if per_sample <= 0 else min(full, max(least, int(max(0.0, allowance - fixed) / (per_sample * share))))
            if fixed + per_sample * least > left:
                reason = f"{left:.1f} s of the budget of {self.seconds:g} s left: {least} samples would take about {fixed + per_sample * least:.1f} s"
            else:
                return Limits(samples=samples if samples < full else None)
        elif self.searches(spec):
            spare = (left - (later - searching)) / (1 + searches / self.workers)
            if spare >= mine:  # the other checks fit: the searches, which can use any time, share what they leave
                allowance = spare
            return Limits(seconds=max(1.0, min(allowance, self._search_cap(spec))))
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
        declared = family_of(spec.family)
        used = result.n if declared.sampled or declared.prior_forwards is not None else 0
        planned = limits.samples if limits is not None and limits.samples is not None else self._samples(spec, n)
        if used > 0 and declared.sampled:
            previous_share = self.used.get(spec.family)
            share = min(1.0, used / max(1, planned))
            self.used[spec.family] = share if previous_share is None else 0.5 * (previous_share + share)
        if declared.shared:
            self.per_check.setdefault(spec.family, seconds)  # the first pays for the family's measurement
        elif self._search(spec):
            pass  # a search takes the time it is given: its time says nothing of its cost
        elif used > 0 and seconds > 0:
            self.timed.setdefault(spec.family, []).append((self._unit(spec) * used, seconds))
            self._fits.pop(spec.family, None)
        else:
            self.per_check[self._timed_as(spec)] = seconds
        cap = self._search_cap(spec)
        if limits is not None and limits.samples is not None:
            self.shortened.append({"check": spec.id, "model": result.model, "n": limits.samples, "planned_n": self._samples(spec, n)})
        elif limits is not None and limits.seconds is not None and limits.seconds < cap and result.details.get("out_of_time", seconds >= 0.9 * limits.seconds):
            # the search ran out of its share of the budget (not of examples: that one did all it was asked)
            self.shortened.append({"check": spec.id, "model": result.model, "seconds": round(limits.seconds, 1), "planned_seconds": cap})

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "spent_s": round(self.clock() - self.start, 2),
            "throughput": None if self.throughput is None else round(self.throughput, 1),
            "cut": list(self.cut),
            "shortened": list(self.shortened),
        }


def run_failure(
    summary: Mapping[str, int], *, max_cut: float, where: str, budget: float | None, passed_tests: bool, elsewhere: int = 0
) -> str | None:
    """Why a run fails although none of its checks failed, or ``None``.

    A cut check counts as not passed: the run fails when the budget cut more than ``max_cut`` (the
    ``budget_max_cut`` setting, from ``where``) of the checks that ran or were cut, and when it measured
    nothing at all (``summary``: the report's; ``passed_tests``: whether a custom mlguard test passed),
    unless it is a shard that left checks to the shards that run them whole (``elsewhere``: how many;
    the merge measures them).

    Example:
        >>> run_failure({"total": 9, "cut": 1, "errors": 0}, max_cut=0.1, where="default", budget=60.0, passed_tests=False) is None
        True
        >>> run_failure({"total": 0, "cut": 0, "errors": 0}, max_cut=0.0, where="default", budget=None, passed_tests=False)
        'no check was measured: the run fails (every check was skipped, cut, not applicable or errored)'
    """
    considered = summary["total"] + summary["cut"] + summary["errors"]
    if summary["cut"] and summary["cut"] > max_cut * considered:
        return (
            f"{summary['cut']} of {considered} checks cut by the budget of {budget or 0:g} s, more than "
            f"budget_max_cut = {max_cut:g} allows (from {where}): the run fails; "
            "give it more time (--mlguard-budget), fewer checks, or allow cuts (--mlguard-set budget_max_cut=0.2)"
        )
    if not summary["total"] and not passed_tests and not elsewhere:
        return "no check was measured: the run fails (every check was skipped, cut, not applicable or errored)"
    return None

