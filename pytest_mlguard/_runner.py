"""The check runner: what every suite item and the ``mlguard`` fixture do to measure a check.

:class:`CheckRunner` makes the evaluations checks share, probes the model's output once, runs each
suite item (:meth:`CheckRunner.run_suite_check`) under its wall-clock limit and its share of
``--mlguard-budget`` (passed to the check as a value: a view of the evaluation with its limits, never
written onto the shared one), reuses cached results, records what was measured and writes the
failure messages with the command that reruns a check. It keeps its results in the run's
:class:`~pytest_mlguard._record.RunRecord`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from ._names import CONTRACT_ERROR
from ._record import RunRecord
from ._run_part import RunPart
from ._settings import INI_KEYS
from .checks._base import CheckResult, CheckSpec, Family
from .config._settings import Settings
from .errors import CheckError, ContractError, MlguardError, NotApplicable

if TYPE_CHECKING:
    from ._budget import Budget, Limits
    from .checks._evaluation import Evaluation

#: why the run stopped at a contract error (pytest prints it after the error itself)
CONTRACT_STOP = "mlguard: the model contract is broken (the error above); fix the declaration and run again"
#: the fixtures a project declares (docs/model-contract.md)
CONTRACT_FIXTURES = ("mlguard_model", "mlguard_data", "mlguard_pipeline", "mlguard_baseline_model")


def _fixture_frame(error: BaseException, base: Path) -> str | None:
    """``mlguard_data (conftest.py:42)``: the innermost frame of ``error`` in a project's contract
    fixture, or ``None`` if it was not raised in one."""
    place = None
    frame = error.__traceback__
    while frame is not None:
        code = frame.tb_frame.f_code
        if code.co_name in CONTRACT_FIXTURES and f"{os.sep}pytest_mlguard{os.sep}" not in code.co_filename:
            place = f"{code.co_name} ({os.path.relpath(code.co_filename, base)}:{frame.tb_lineno})"
        frame = frame.tb_next
    return place


def share_cores(workers: int, *, root: Path | str = "/") -> int | None:
    """Give this xdist worker its share of the cores for torch's threads (of ``workers`` workers).

    Workers that each run torch with a thread per core oversubscribe the CPU: their threads spin
    waiting for each other and the run gets slower, not faster. The cores are those this process may
    use (:func:`~pytest_mlguard._cores.usable_cores`: a pod's CPU limit, a Slurm task's CPUs; ``root``
    where ``/proc`` and ``/sys`` are), not the node's. Nothing changes where the user set
    ``OMP_NUM_THREADS`` (or MKL's), or where torch is not in use. Returns the threads per worker, or
    ``None`` if left alone.
    """
    torch = sys.modules.get("torch")
    if workers <= 1 or torch is None or any(os.environ.get(name) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return None
    from ._cores import usable_cores

    threads = max(1, usable_cores(root) // workers)
    torch.set_num_threads(threads)
    return threads


@dataclass
class _Attempt:
    """How a suite item's check went: its result, or why there is none: ``skipped`` (``kind``: cut,
    not-applicable), ``failed`` without a measurement (``kind``: timeout, error) or ``broken`` (the
    model contract); ``model``: the model's id, for the report's list of checks without a result."""

    model: str
    result: CheckResult | None = None
    skipped: str = ""
    failed: str = ""
    broken: str = ""
    kind: str = "skipped"


class CheckRunner(RunPart):
    """Measures checks for one pytest process.

    Args:
        config: pytest's configuration.
        settings: the run's settings.
        cli: the settings given on the command line, by dotted key (for rerun commands).
        record: where results and the run's contract error go.
        budget: the plan of ``--mlguard-budget``, if one was given.
        cache: the result cache (:class:`~pytest_mlguard._cache.ResultCache`), if on.
        progress: the terminal's progress lines of long checks.
        workers: the xdist workers sharing the machine's cores (1 in a serial run).
    """

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        cli: dict[str, Any],
        record: RunRecord,
        *,
        budget: Budget | None,
        cache: Any,
        progress: Any,
        workers: int,
    ) -> None:
        super().__init__(config, settings, record, budget, cache)
        self.cli = cli
        self.progress = progress
        self.workers = workers
        self._evaluations: OrderedDict[Any, tuple[Evaluation, tuple[Any, ...]]] = OrderedDict()
        self._warned: set[str] = set()
        #: the shard of ``--mlguard-shard`` and the statistics it writes for the merge (``None``: unsharded)
        self.shard = settings.get("shard")
        self.statistics: Any = None
        if self.shard is not None:
            from ._settings import config_files
            from ._shard.statistics import ShardStatistics

            self.statistics = ShardStatistics(self.shard, settings, config_files(config))

    # -- evaluations ----------------------------------------------------------------------------------
    def evaluation(self, model: Any, data: Any, pipeline: Any, settings: Settings, shard: Any = None) -> Evaluation:
        """The evaluation of these fixture values under ``settings``, shared by every check that uses them
        (``shard``: of the samples of that shard only)."""
        from .checks._evaluation import Evaluation
        from .contract._declaration import check_declaration

        key = (id(model), id(data), id(pipeline), repr(sorted(settings.as_dict().items(), key=lambda kv: kv[0])), shard)
        if key in self._evaluations:
            self._evaluations.move_to_end(key)
            return self._evaluations[key][0]
        adapted, eval_data = check_declaration(
            model, data, pipeline, device=settings.device, device_source=settings.source("device"), probe=False,
            task=settings.get("task"), task_source=settings.source("task"),
        )
        evaluation = Evaluation(adapted, eval_data, settings, pipeline=pipeline, shard=shard)
        evaluation.progress = self.progress
        self._warn_about(evaluation)
        if self.workers > 1 and not self._evaluations:
            share_cores(self.workers)
        self._evaluations[key] = (evaluation, (model, data, pipeline))  # keep the objects alive: ids stay unique
        while len(self._evaluations) > 8:
            self._evaluations.popitem(last=False)
        self.record.models[evaluation.model_id] = adapted.describe()
        return evaluation

    def _warn_about(self, evaluation: Evaluation) -> None:
        """Data outside the model's value range (once per model and data), fewer samples than asked for."""
        from .contract._declaration import range_warning
        from .errors import ContractWarning

        outside = range_warning(evaluation.model, evaluation.full_data)
        if outside is not None and outside not in self._warned:
            self._warned.add(outside)
            warnings.warn(outside, ContractWarning, stacklevel=3)
        settings, n = evaluation.settings, evaluation.full_data.n
        if settings.samples is not None and settings.samples > n:  # asked for more than there is: say so
            warnings.warn(
                f"samples = {settings.samples} (from {settings.source('samples')}) but mlguard_data "
                f"{evaluation.full_data.name!r} holds {n} samples: the checks use all {n}",
                UserWarning,
                stacklevel=3,
            )

    @staticmethod
    def probe(evaluation: Evaluation) -> None:
        """Call the model once on a few samples (``ContractError`` for a malformed output), once per
        evaluation, before its first check that is not reused from the cache."""
        from .contract._declaration import probe_model

        evaluation.memo("contract-probe", lambda: probe_model(evaluation.model, evaluation.full_data, evaluation.settings.device))

    # -- contract errors ------------------------------------------------------------------------------
    def stop_on_contract_error(self, message: str, session: pytest.Session) -> None:
        """A declaration that breaks the model contract stops the run after the item that met it: the
        error is reported once, by that item, and the run exits with pytest's usage-error code (4)."""
        if self.record.usage_error is None:
            self.record.usage_error = message
        session.shouldstop = CONTRACT_STOP

    def fixture_error_report(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
        """The report of a setup error raised by a contract class (``TorchModel``, ``EvalData``, ...)
        in a project's ``mlguard_*`` fixture: the message with the fixture and its line, without a
        traceback, and the run stops. ``None`` for any other error (pytest reports it as usual)."""
        from .errors import ConfigError, InvalidArgument

        error = call.excinfo.value if call.excinfo is not None else None
        if not self.enabled or not isinstance(error, InvalidArgument) or isinstance(error, ConfigError):
            return None
        place = _fixture_frame(error, self.config.invocation_params.dir)
        if place is None:
            return None
        message = f"{place}: {error}"
        report = pytest.TestReport.from_item_and_call(item, call)
        report.longrepr = message
        self.stop_on_contract_error(message, item.session)
        return report

    # -- results ------------------------------------------------------------------------------------
    def keep(self, result: CheckResult, item: pytest.Item | None = None) -> None:
        """Keep ``result`` for the report, with the node id of the test that measured it (a suite item
        or a custom test's ``mlguard.check(...)``)."""
        data = result.to_dict()
        if item is not None:
            data["nodeid"] = item.nodeid
        self.record.results.append(data)
        if item is not None:  # JUnit XML <property> elements, for CI dashboards
            for name in ("model", "metric", "value", result.kind, "threshold", "n", "passed", "verdict"):
                item.user_properties.append((f"mlguard_{name}", data[name]))
            if data["interval"] is not None:  # [low, high]: pytest-html's rows (reporting/_pytest_html.py)
                item.user_properties.append(("mlguard_interval", [data["interval"]["low"], data["interval"]["high"]]))
        self.config.hook.pytest_mlguard_result(config=self.config, result=result)

    def rerun_command(self, nodeid: str) -> str:
        path, sep, rest = str(nodeid).partition("::")
        target = os.path.relpath(self.config.rootpath / path, self.config.invocation_params.dir) + sep + rest
        words = ["pytest", "--mlguard", target, "--mlguard-seed", str(self.settings.seed)]
        for key, value in self.cli.items():
            if key in ("seed", "cache", "budget") or key.startswith("baseline."):  # a rerun must not save or gate a baseline, nor reuse a cached result
                continue
            if key in INI_KEYS:
                words += [f"--mlguard-{key}", str(value)]
            else:
                words += ["--mlguard-set", f"{key}={value}"]
        return " ".join(shlex.quote(word) for word in words)

    def failure_message(self, result: CheckResult, nodeid: str) -> str:
        lines = [
            f"{result.id} on model {result.model!r}: {result.verdict()}",
            f"  measured on {result.evidence()}",
        ]
        if result.message:
            lines.append("  " + result.message.replace("\n", "\n  "))
        cached = result.details.get("cached")
        if cached:
            lines.append(f"  from the mlguard cache (measured {cached.get('stored_at')}); --mlguard-cache-clear measures again")
        lines.append(f"  rerun alone: {self.rerun_command(nodeid)}")
        replay = result.details.get("replay")  # extra arguments that replay the failing input
        if replay:
            lines.append(f"  replay the failing input: {self.rerun_command(nodeid)} {shlex.join(replay)}")
        return "\n".join(lines)

    # -- limits: the timeout and --mlguard-budget ------------------------------------------------------
    def check_limit(self) -> tuple[float | None, Literal["timeout", "budget"]]:
        """The wall-clock limit of the next check: the ``timeout`` setting, or the time left in the
        budget if that is sooner (see :mod:`pytest_mlguard._deadline`)."""
        timeout = self.settings.get("timeout")
        if self.budget is not None:
            left = self.budget.left()
            if timeout is None or left < timeout:
                return max(left, 0.001), "budget"
        return timeout, "timeout"

    def timeout_message(self, stopped: Any) -> str:
        """``no answer within 60 s (timeout from ...); stopped in model.py:12 (forward)``."""
        import traceback

        frames = [frame for frame in traceback.extract_tb(stopped.__traceback__) if not frame.filename.endswith("deadline.py")]
        where = f"; stopped in {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].name})" if frames else ""
        return (
            f"no answer within {stopped.seconds:g} s (timeout, from {self.settings.source('timeout')}){where}; "
            "the run goes on: a model or pipeline that hangs, or a check that needs a longer timeout (--mlguard-set timeout=30m)"
        )

    def _cut(self, budget: Budget, nodeid: str, spec: CheckSpec, reason: str) -> str:
        """Cut the check from the budget's plan; the reason (returned)."""
        budget.cut.append({"check": spec.id, "node": nodeid, "reason": reason})
        budget.pending.pop(nodeid, None)
        return reason

    def _budget_spent(self, nodeid: str, spec: CheckSpec) -> str | None:
        """Cut the check before it starts if the budget is spent (the reason), else ``None``."""
        if self.budget is None or self.budget.left() > 0:
            return None
        return self._cut(self.budget, nodeid, spec, f"the budget of {self.budget.seconds:g} s was spent")

    def _budget_stopped(self, nodeid: str, spec: CheckSpec, stopped: Any) -> str:
        """A check stopped at the end of the budget: cut, with the reason (returned)."""
        assert self.budget is not None  # only a budget stops a check with reason "budget"
        reason = f"stopped at the end of the budget of {self.budget.seconds:g} s, {stopped.seconds:.1f} s after it started"
        return self._cut(self.budget, nodeid, spec, reason)

    def _limits(self, nodeid: str, spec: CheckSpec, evaluation: Evaluation) -> tuple[Limits | None, str | None]:
        """The check's share of the budget (``None`` without a budget), or the reason it is cut."""
        if self.budget is None:
            return None, None
        if self.budget.throughput is None:  # the model's throughput: one warm batch, timed
            self._time_throughput(self.budget, evaluation)
        if evaluation.pipeline is not None:
            self.budget.pipeline_input = evaluation.pipeline.input
        limits = self.budget.limits(nodeid, spec, evaluation.data.n)
        if limits is None:
            return None, str(self.budget.cut[-1]["reason"])
        return limits, None

    @staticmethod
    def _time_throughput(budget: Budget, evaluation: Evaluation) -> None:
        from .errors import NonFiniteOutput

        x = evaluation.data.x[: min(evaluation.data.n, evaluation.model.batch_size)]
        # NaN outputs do not stop the timing: each check that meets them fails, naming the samples
        with contextlib.suppress(NonFiniteOutput):
            evaluation.clean_proba  # noqa: B018  (the first call warms the model up)
        with evaluation.model.running(evaluation.settings.device), contextlib.suppress(NonFiniteOutput):
            start = time.perf_counter()
            try:
                evaluation.model.predict_proba(x)
            finally:
                budget.measure(len(x), time.perf_counter() - start)

    # -- a suite item ---------------------------------------------------------------------------------
    def run_suite_check(self, request: pytest.FixtureRequest, family: Family, spec: CheckSpec, values: dict[str, Any]) -> None:
        """The body of every suite item: measure, record, and fail with the verdict if it fails.

        The check runs under its wall-clock limit (:meth:`check_limit`): past the ``timeout`` it fails
        with "no answer within N s", past the budget's end it is cut.
        """
        nodeid = request.node.nodeid
        attempt = self._attempt(nodeid, family, spec, values)
        # outside the except blocks, so that pytest shows the message once, not chained to the exception
        if attempt.broken:  # the declaration itself: reported once, and the run stops (exit code 4)
            request.node.user_properties += [("mlguard_check", spec.id), ("mlguard_model", attempt.model), ("mlguard_error", CONTRACT_ERROR)]
            self.stop_on_contract_error(attempt.broken, request.session)
            pytest.fail(attempt.broken, pytrace=False)
        if attempt.skipped or attempt.failed:  # the report lists the checks that did not run or ended without a measurement
            kind = ("mlguard_skipped" if attempt.skipped else "mlguard_error", attempt.kind)
            request.node.user_properties += [("mlguard_check", spec.id), ("mlguard_model", attempt.model), kind]
        if attempt.skipped:
            pytest.skip(attempt.skipped)
        if attempt.failed:
            pytest.fail(attempt.failed, pytrace=False)
        result = attempt.result
        assert result is not None
        self.keep(result, request.node)
        if not result.passed and self.shard is None:  # a shard's verdicts are partial: the merge's decide
            pytest.fail(self.failure_message(result, nodeid), pytrace=False)

    def _attempt(self, nodeid: str, family: Family, spec: CheckSpec, values: dict[str, Any]) -> _Attempt:
        """Measure the check within its limit (:class:`_Attempt`: the result, or why there is none)."""
        from ._deadline import Deadline, limit
        from ._shard.split import OtherShard

        attempt = _Attempt(str(getattr(values["mlguard_model"], "name", "") or ""))
        seconds, reason = self.check_limit()
        cut = self._budget_spent(nodeid, spec)  # nothing left for it: cut before it calls the model
        try:
            if cut is None:
                with limit(seconds, reason):
                    attempt.model, attempt.result, cut = self._measure(nodeid, family, spec, values)
        except Deadline as stopped:
            if stopped.reason == "budget":
                cut = self._budget_stopped(nodeid, spec, stopped)
            else:
                attempt.failed, attempt.kind = f"{spec.id}: {self.timeout_message(stopped)}", "timeout"
        except ContractError as exc:
            attempt.broken = str(exc)
        except OtherShard as exc:
            attempt.skipped, attempt.kind = f"{spec.id}: {exc}", "other-shard"
        except NotApplicable as exc:
            attempt.skipped, attempt.kind = f"{spec.id}: {exc}", "not-applicable"
        except CheckError as exc:
            attempt.failed, attempt.kind = f"{spec.id} could not run: {exc}", "error"
        except MlguardError as exc:
            attempt.failed, attempt.kind = f"{spec.id}: {exc}", "error"
        if cut is not None:
            attempt.skipped, attempt.kind = f"{spec.id}: cut by --mlguard-budget: {cut}", "cut"
        return attempt

    def _measure(self, nodeid: str, family: Family, spec: CheckSpec, values: dict[str, Any]) -> tuple[str, CheckResult | None, str | None]:
        """The check's result, from the cache or measured within its share of the budget:
        ``(model id, result or None, the reason it was cut or None)``."""
        from ._cache import cached_result, run_cached

        kind = self._shard_kind(spec)
        evaluation = self.evaluation(
            values["mlguard_model"], values["mlguard_data"], values.get("mlguard_pipeline"), self.settings, self.shard if kind else None
        )
        extras = {need: values[f"mlguard_{need}"] for need in family.needs if need not in ("model", "data", "pipeline")}
        evaluation = evaluation.with_extras(extras)
        self._on_this_shard(spec, evaluation, kind)
        cache = None if self.shard is not None else self.cache  # a shard measures: its statistics are not cached
        result = cached_result(cache, evaluation, family, spec)
        if result is not None:
            if self.budget is not None:
                self.budget.pending.pop(nodeid, None)  # reused from the cache: nothing to plan
            return evaluation.model_id, result, None
        self.probe(evaluation)  # the model's output, checked once before it is used
        limits, cut = self._limits(nodeid, spec, evaluation)  # under --mlguard-budget: shortens the check, or cuts it
        if cut is not None:
            return evaluation.model_id, None, cut
        start = time.perf_counter()
        try:
            result = run_cached(cache, evaluation.with_limits(limits), family, spec)
            if self.statistics is not None and kind is not None:
                self.statistics.add(evaluation, spec, result, kind)
        finally:
            if self.budget is not None:
                measured = None if result is not None and result.details.get("cached") else result
                self.budget.done(nodeid, spec, measured, time.perf_counter() - start, limits, evaluation.data.n)
        return evaluation.model_id, result, None

    # -- --mlguard-shard ------------------------------------------------------------------------------
    def _shard_kind(self, spec: CheckSpec) -> str | None:
        """How the merge recomputes ``spec`` if this run is a shard and measures it on its samples, as its
        family declares (``Family.shard``), else ``None`` (not a shard, or the check runs whole on one)."""
        from .checks._registry import family

        declared = family(spec.family).shard if self.shard is not None else None
        return declared(spec) if declared is not None else None

    def _on_this_shard(self, spec: CheckSpec, evaluation: Evaluation, kind: str | None) -> None:
        """Raise ``OtherShard`` if this shard leaves ``spec`` to another that runs it whole."""
        from ._shard.split import OtherShard, owner
        from .checks._registry import family

        if self.shard is None or kind is not None:
            return
        name = spec.family if family(spec.family).together else spec.id  # checks that compare with each other run on one shard
        holder = owner(name, evaluation.model_id, self.settings.seed, self.shard.count)
        if holder != self.shard.index:
            raise OtherShard(f"runs whole on shard {holder}/{self.shard.count} (--mlguard-shard)")
