"""An evaluation: one model on one data set under one set of settings, with what checks share.

Checks of every family read the same seeded subset of the data, in a seeded random order (so that a
check that stops early has seen a random sample), and the same clean predictions, computed once per
evaluation. Randomness is derived from the run's seed and the check's id, so a
check gives the same value whether it runs alone (``-k``), in a full run or on an xdist worker.

Example:
    >>> from pytest_mlguard.contract import CallableModel, EvalData
    >>> from pytest_mlguard.config import resolve
    >>> model = CallableModel(lambda x: np.eye(2)[(x[:, 0] > 0.5).astype(int)], input_shape=(1,), n_classes=2)
    >>> data = EvalData(np.array([[0.0], [1.0]]), [0, 1])
    >>> Evaluation(model, data, resolve()).clean_accuracy()
    1.0
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import time
import zlib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config._settings import Settings
from ..contract._data import EvalData
from ..contract._model import Model
from ..contract._pipeline import Pipeline
from ..errors import InvalidArgument, NonFiniteOutput
from ._base import CheckResult, CheckSpec, Family, Measurement, VerdictRules

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def non_finite_measurement(error: NonFiniteOutput) -> Measurement:
    """The failed measurement of a check whose model returned NaN or inf: no value, the error as its
    message, the rows in ``details["non_finite"]``.

    A threshold relative to the clean value (``0.7*clean``) or to chance has no reference when the
    outputs are not numbers: it is shown as its factor (the reference taken as 1, and chance as 0).
    """
    return Measurement(
        value=math.nan, n=error.total, clean=1.0, chance=0.0, details={"non_finite": error.details()}, message=str(error)
    )


def stable_seed(seed: int, *parts: str) -> int:
    """A 32-bit seed derived from the run's seed and names (stable across processes, unlike ``hash``)."""
    return zlib.crc32("\x1f".join(parts).encode(), seed) & 0xFFFFFFFF


class Evaluation:
    """One model, one data set, one set of settings.

    Args:
        model: the model adapter.
        data: all evaluation data; checks use :attr:`data`, the seeded subset of ``settings.samples``
            in a seeded random order.
        settings: the resolved settings.
        pipeline: the production pipeline, if the project declared one.
        model_id: the model's name in node ids and reports (default: ``model.name``).
        shard: the shard of ``--mlguard-shard`` this evaluation measures (a
            :class:`~pytest_mlguard._shard.split.Shard`; ``None``: all the samples): :attr:`data` keeps
            the samples of the unsharded run's that hash to it, in the same order, and :attr:`positions`
            says where each stands in the unsharded order.

    :attr:`extras` holds the values of the further fixtures a family needs (``Family.needs`` beyond
    model, data and pipeline, such as the gate's ``baseline_model``), by need; see :meth:`with_extras`.
    """

    def __init__(
        self,
        model: Model,
        data: EvalData,
        settings: Settings,
        *,
        pipeline: Pipeline | None = None,
        model_id: str | None = None,
        shard: Any = None,
    ) -> None:
        self.model = model
        self.full_data = data
        self.settings = settings
        self.pipeline = pipeline
        self.model_id = model_id or model.name
        index = data.subset_index(settings.samples, stable_seed(settings.seed, "samples"))
        order = np.random.default_rng(stable_seed(settings.seed, "order")).permutation(len(index))
        index = index[order]
        #: the position of each sample of :attr:`data` in the unsharded run's :attr:`data` (per-sample
        #: randomness is seeded by it, so that a sample is treated alike on any shard)
        self.positions = np.arange(len(index))
        self.shard = shard
        if shard is not None:
            from .._shard.split import shard_of

            self.positions = np.flatnonzero(shard_of(index, settings.seed, shard.count) == shard.index)
            if not len(self.positions):
                raise InvalidArgument(
                    f"shard {shard.index}/{shard.count} holds none of the run's {len(index)} evaluation samples of model {self.model_id!r}: "
                    f"run fewer shards than samples, or more samples (--mlguard-samples, now {settings.samples})"
                )
        #: the number of samples of the unsharded run's :attr:`data`
        self.unsharded_n = len(index)
        #: the index in ``full_data`` of each sample of the unsharded run's :attr:`data` (a shard attacks chunks of it)
        self.unsharded_index = index
        #: the index in ``full_data`` (the project's ``mlguard_data``) of each sample of :attr:`data`
        self.data_index = index[self.positions]
        self.data = data.take(self.data_index)
        self._memo: dict[Any, Any] = {}
        self.extras: dict[str, Any] = {}

    def with_extras(self, extras: dict[str, Any]) -> Evaluation:
        """This evaluation with :attr:`extras` set; it shares the data, clean predictions and memo."""
        if not extras:
            return self
        view = copy.copy(self)
        view.extras = dict(extras)
        return view

    def with_limits(self, limits: Any) -> Evaluation:
        """This evaluation for one check under ``--mlguard-budget``, with its :attr:`limits` (a
        :class:`~pytest_mlguard._budget.Limits`; ``None``: none); it shares the data, clean predictions
        and memo, and the evaluation itself stays without limits for the checks that follow."""
        if limits is None and self.limits is None:
            return self
        view = copy.copy(self)
        view.limits = limits
        return view

    # -- shared, computed once ------------------------------------------------------------------
    @property
    def clean_proba(self) -> np.ndarray:
        """Probabilities of the model on the clean data subset, computed once and shared with the
        views of this evaluation (:meth:`with_extras`, :meth:`with_limits`).

        Raises:
            NonFiniteOutput: some are NaN or inf; it names those samples of ``mlguard_data`` (and is
                raised again, not recomputed, for every check that asks).
        """
        outcome = self.memo(("evaluation", "clean_proba"), self._clean_outcome)
        if isinstance(outcome, NonFiniteOutput):
            raise outcome
        return outcome

    def _clean_outcome(self) -> np.ndarray | NonFiniteOutput:
        try:
            with self.model.running(self.settings.device):
                return self.model.predict_proba(self.data.x)
        except NonFiniteOutput as exc:
            return exc.located(sorted(self.data_index[exc.rows].tolist()))

    #: what the running check may use under ``--mlguard-budget`` (a :class:`~pytest_mlguard._budget.Limits`),
    #: if anything: set on a view of the evaluation for that check (:meth:`with_limits`)
    limits: Any = None

    def sample_limit(self, n: int) -> int:
        """How many of ``n`` samples the running check may use (all of them without a budget)."""
        cap = getattr(self.limits, "samples", None)
        return n if cap is None else max(1, min(n, int(cap)))

    def subset_index(self, n: int | None, seed: int) -> np.ndarray:
        """The indices in :attr:`data` of a seeded subset of ``n`` samples of the unsharded run's data
        (all of them if ``n`` is ``None`` or too large), in data order: on a shard, those of the
        unsharded run's subset that are on it, so that a sample is in a check's subset on any shard."""
        if n is None or n >= self.unsharded_n:
            return np.arange(self.data.n)
        return np.flatnonzero(np.isin(self.positions, self.unsharded_subset(n, seed)))

    def unsharded_subset(self, n: int | None, seed: int) -> np.ndarray:
        """The positions in the unsharded run's :attr:`data` of its seeded subset of ``n`` samples (all of
        them if ``n`` is ``None`` or too large), in data order: the same on every shard."""
        if n is None or n >= self.unsharded_n:
            return np.arange(self.unsharded_n)
        return np.sort(np.random.default_rng(seed).choice(self.unsharded_n, size=n, replace=False))  # EvalData.subset_index's

    def clean_correct(self) -> np.ndarray:
        return self.clean_proba.argmax(axis=1) == self.data.y

    def clean_accuracy(self) -> float:
        return float(self.clean_correct().mean())

    def memo(self, key: Any, compute: Any) -> Any:
        """Cache ``compute()`` under ``key`` for the life of this evaluation."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # -- per check ------------------------------------------------------------------------------
    def rng(self, spec: CheckSpec) -> np.random.Generator:
        """The check's random generator, derived from the run's seed and the check id."""
        return np.random.default_rng(stable_seed(self.settings.seed, self.model_id, spec.id))

    #: the folder of the report directory where the checks save their artefacts; the gate's reruns of
    #: another check on both models keep theirs apart (``artifacts/gate-candidate``, ``artifacts/gate-baseline``)
    artifacts = "artifacts"

    def artifact_dir(self, spec: CheckSpec) -> Path:
        """Where a check saves its artefacts (failing inputs, per-sample outcomes), created on demand."""
        from ..reporting._examples import artifact_dir_name

        path = self.settings.output / self.artifacts / artifact_dir_name(self.model_id, spec.id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def rules(self) -> VerdictRules:
        """How this evaluation's measurements become verdicts, with each check's share of the error rate."""
        from ._registry import planned_checks

        return VerdictRules.from_settings(self.settings, planned_checks(self.settings))

    def run(self, family: Family, spec: CheckSpec) -> CheckResult:
        """Measure ``spec`` and return its result with the verdict."""
        return self.result(spec, *self.measure(family, spec))

    def measure(self, family: Family, spec: CheckSpec) -> tuple[Measurement, float]:
        """What ``spec`` measures, and how many seconds measuring it took (no verdict)."""
        run = family.runner()
        start = time.perf_counter()
        progress = self.progress.running(self.model_id, spec.id) if self.progress is not None else contextlib.nullcontext()
        with self.model.running(self.settings.device), progress:
            try:
                measurement = run(spec, self)
            except NonFiniteOutput as exc:  # a prediction that is not a number: the check fails, saying where
                measurement = non_finite_measurement(exc)
        return measurement, time.perf_counter() - start

    def result(self, spec: CheckSpec, measurement: Measurement, duration_s: float) -> CheckResult:
        """The result of ``measurement``, its verdict decided under this evaluation's verdict settings. A shard
        that holds none of the check's samples (or chunks) measured nothing: its details say so
        (``shard_measured_nothing``: the shard), and the merge decides from the other shards."""
        if self.shard is not None and measurement.n == 0:
            measurement = dataclasses.replace(measurement, details={**measurement.details, "shard_measured_nothing": self.shard.describe()})
        return CheckResult.from_measurement(
            spec,
            self.model_id,
            measurement,
            seed=self.settings.seed,
            duration_s=duration_s,
            rules=self.rules,
            partial=self.shard is not None,  # a shard's share: the merge computes the interval
        )

    def bootstrap(
        self, spec: CheckSpec, statistic: Callable[[np.ndarray], Any], n: int, *, batched: bool = False, whole_set: bool = False
    ) -> tuple[float, float] | None:
        """The ``verdict.bootstrap`` interval of ``statistic(indices)`` over ``n`` samples at the check's
        confidence (:attr:`rules`), seeded by the check; ``None`` when bootstrapping is off. ``batched``:
        ``statistic`` takes all the resamples' indices at once, ``(resamples, n)``. The interval is the
        percentile one, or with ``whole_set`` (a metric of the whole set in [0, 1], not a mean of per-sample
        values: mAP, mIoU, biased at small n) the studentized (bootstrap-t) one of the same resamples, which
        corrects for their bias (:func:`~pytest_mlguard._verdicts.intervals.debiased_bootstrap_interval`)."""
        from .._verdicts.intervals import bootstrap_interval, debiased_bootstrap_interval

        resamples = self.settings.get("verdict.bootstrap")
        if not resamples or n < 2:
            return None
        rng = np.random.default_rng(stable_seed(self.settings.seed, self.model_id, spec.id, "bootstrap"))
        if whole_set:
            return debiased_bootstrap_interval(statistic, n, self.rules.check_confidence, resamples=resamples, rng=rng, batched=batched, bounds=(0.0, 1.0))
        return bootstrap_interval(statistic, n, self.rules.check_confidence, resamples=resamples, rng=rng, batched=batched)

    def mean_interval(self, spec: CheckSpec, values: np.ndarray) -> tuple[float, float] | None:
        """The ``verdict.bootstrap`` bootstrap-t interval of the mean of ``values`` at the check's
        confidence, seeded by the check (:func:`~pytest_mlguard._verdicts.intervals.studentized_mean_interval`);
        ``None`` when bootstrapping is off."""
        from .._verdicts.intervals import studentized_mean_interval

        resamples = self.settings.get("verdict.bootstrap")
        if not resamples or len(values) < 2:
            return None
        rng = np.random.default_rng(stable_seed(self.settings.seed, self.model_id, spec.id, "bootstrap"))
        return studentized_mean_interval(values, self.rules.check_confidence, resamples=resamples, rng=rng)

    def early_stop(self, spec: CheckSpec, total: int, clean: float | None = None) -> Any:
        """An :class:`~pytest_mlguard._verdicts.sequential.EarlyStop` for a proportion check of ``total``
        samples under ``verdict.early_stop`` (a relative threshold resolves against ``clean``); ``off``
        where every value clears the threshold (a floor of 0: the check only measures)."""
        from .._verdicts.sequential import EarlyStop

        mode = self.settings.get("verdict.early_stop")
        threshold = spec.threshold.resolve(clean=clean)
        if (spec.kind == "floor" and threshold <= 0) or (spec.kind == "ceiling" and threshold >= 1):
            mode = "off"  # a threshold every value clears: the check is a measurement, made on every sample
        return EarlyStop(mode, threshold, total, kind=spec.kind, confidence=self.rules.check_confidence)

    def looks(
        self, spec: CheckSpec, total: int, outcome: Callable[[slice], np.ndarray], *, clean: float | None = None, min_look: int = 1
    ) -> tuple[np.ndarray, Any]:
        """The per-sample outcomes ``outcome(rows)`` (booleans: the sample counts as a success) of the
        first ``total`` samples, look by look (at least ``min_look`` samples each), until the check's
        :meth:`early_stop` decides its verdict; returns the outcomes seen and the stopper. Without
        early stopping (``off``, or a threshold every value clears), one look at all ``total``.
        """
        from .._verdicts.sequential import look_size

        stopper = self.early_stop(spec, total, clean=clean)
        size = max(look_size(total), min_look) if spec.kind in ("floor", "ceiling") and stopper.mode != "off" else max(1, total)
        parts: list[np.ndarray] = []
        successes = done = 0
        for start in range(0, total, size):
            part = np.asarray(outcome(slice(start, min(start + size, total))), dtype=bool)
            parts.append(part)
            successes, done = successes + int(part.sum()), done + len(part)
            if stopper.update(successes, done):
                break
        stopper.update(successes, done)
        return (np.concatenate(parts) if parts else np.zeros(0, dtype=bool)), stopper

    def more_index(self) -> np.ndarray:
        """The samples of ``full_data`` outside :attr:`data`, in a seeded random order: those a check that
        :attr:`data` cannot decide may draw next (:meth:`draw_more`), capped by the budget's samples."""
        if self.shard is not None:  # a shard draws nothing more: the merge could not recompute the draws of one run
            return np.zeros(0, dtype=np.int64)
        rest = np.setdiff1d(np.arange(self.full_data.n), self.data_index)
        rest = rest[np.random.default_rng(stable_seed(self.settings.seed, "more")).permutation(len(rest))]
        if self.limits is not None:  # under a budget: only up to the check's share of samples, if it has one
            cap = getattr(self.limits, "samples", None)
            return rest[: max(0, int(cap) - self.data.n)] if cap is not None else rest[:0]
        return rest

    def draw_more(
        self, spec: CheckSpec, outcomes: np.ndarray, more: Callable[[np.ndarray], np.ndarray], *, threshold: float
    ) -> tuple[np.ndarray, dict[str, Any], Any]:
        """Draw more samples for a proportion check that :attr:`data` does not decide (``verdict.more_samples``).

        ``outcomes`` are the check's per-sample outcomes on :attr:`data`; ``more(index)`` gives those of
        the samples ``full_data[index]``. When the fixed-n interval of ``outcomes`` straddles
        ``threshold`` and ``full_data`` holds samples that :attr:`data` does not (``samples`` below the
        data, within the budget), they are drawn look by look (:meth:`more_index`) until the
        anytime-valid confidence sequence of all the outcomes at the check's confidence decides, or none
        are left. Returns all the outcomes, ``details["more_samples"]`` (``mode``, ``available``,
        ``drawn``, ``decided``) and, if the fixed-n interval did not decide, the
        :class:`~pytest_mlguard._verdicts.sequential.SequentialFloorTest` whose confidence sequence is then
        the check's interval (``None`` otherwise: the fixed-n interval of ``outcomes`` stands).

        A check that may draw more looks twice (its fixed-n interval, then the confidence sequence): the
        error control counts both looks, as it does an early stop's.
        """
        from .._verdicts.intervals import binomial_interval
        from .._verdicts.policy import decide
        from .._verdicts.sequential import SequentialFloorTest, look_size

        mode = self.settings.get("verdict.more_samples")
        index = self.more_index() if mode == "sequential" and spec.kind in ("floor", "ceiling") and 0 < threshold < 1 else np.zeros(0, dtype=np.int64)
        details: dict[str, Any] = {"mode": mode, "available": len(index), "drawn": 0, "decided": None}
        n, successes = len(outcomes), int(np.sum(outcomes))
        if not len(index) or n == 0:
            return outcomes, details, None
        interval = binomial_interval(successes, n, self.rules.check_confidence, self.rules.interval)  # type: ignore[arg-type]
        if decide(successes / n, interval, threshold=threshold, kind=spec.kind).label != "inconclusive":
            return outcomes, details, None
        test = SequentialFloorTest(threshold, self.rules.check_confidence, kind=spec.kind, min_samples=0)
        parts, size, start = [np.asarray(outcomes, dtype=bool)], look_size(n + len(index)), 0
        while test.update(successes, n) == "undecided" and start < len(index):
            part = np.asarray(more(index[start : start + size]), dtype=bool)
            parts.append(part)
            start, successes, n = start + size, successes + int(part.sum()), n + len(part)
            self.report_progress(n, len(outcomes) + len(index))
        details.update(drawn=min(start, len(index)), decided=test.decision())
        return np.concatenate(parts), details, test

    def batches(self, size: int) -> Iterator[slice]:
        """Slices of :attr:`data` of ``size`` samples; each finished batch is reported as progress."""
        for start in range(0, self.data.n, size):
            yield slice(start, min(start + size, self.data.n))
            self.report_progress(min(start + size, self.data.n), self.data.n)

    #: the terminal's progress lines of long checks (a :class:`~pytest_mlguard.reporting._progress.Progress`), if any
    progress: Any = None

    def report_progress(self, done: int, total: int | None = None, unit: str = "samples") -> None:
        """Say how far the running check has got, for the terminal's progress lines of long checks."""
        if self.progress is not None:
            self.progress.update(self.model_id, done, total, unit)
