"""The run's state and the pytest hooks' work, behind the thin layer of :mod:`pytest_mlguard.plugin`.

One :class:`MlguardSession` is created in ``pytest_configure`` and kept in ``config.stash``
(pytest-timeout's way). It holds the resolved settings, the evaluations shared by checks, and the
results: workers send theirs through ``config.workeroutput``, the controller merges them in
``pytest_testnodedown`` and is the only process that writes reports (pytest-xdist's ``DSession``).
"""

from __future__ import annotations

import contextlib

import json
import os
import shlex
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from .checks.base import CheckResult, CheckSpec, Family
from .config.files import pyproject_source
from .config.settings import CORE_KEYS, Settings, Source, resolve
from .errors import ConfigError

if TYPE_CHECKING:
    from .checks.evaluation import Evaluation

__all__ = ["MlguardSession", "WORKER_OUTPUT_KEY", "check_settings", "cli_values"]

WORKER_OUTPUT_KEY = "mlguard_results"
#: why the run stopped at a contract error (pytest prints it after the error itself)
CONTRACT_STOP = "mlguard: the model contract is broken (the error above); fix the declaration and run again"
#: the fixtures a project declares (docs/model-contract.md)
CONTRACT_FIXTURES = ("mlguard_model", "mlguard_data", "mlguard_pipeline", "mlguard_baseline_model")
INI_KEYS = tuple(key.name for key in CORE_KEYS if key.ini)
MARKER_CORE_KEYS = ("seed", "samples", "output", "device", "profile")


def cli_values(config: pytest.Config, options: Any = None) -> dict[str, Any]:
    """Settings given on the command line, by dotted key; from ``options`` (the namespace of the
    options parsed so far) before pytest has parsed them all."""

    def option(dest: str) -> Any:
        return getattr(options, dest, None) if options is not None else config.getoption(dest, None)

    from .checks.registry import all_keys
    from .config.options import option_values

    values: dict[str, Any] = option_values(all_keys(), option)
    for assignment in option("mlguard_set") or ():
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"invalid --mlguard-set {assignment!r}: expected KEY=VALUE, such as accuracy.floor=0.9")
        values[key.strip()] = value.strip()
    return values


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


def share_cores(workers: int) -> int | None:
    """Give this xdist worker its share of the cores for torch's threads (of ``workers`` workers).

    Workers that each run torch with a thread per core oversubscribe the CPU: their threads spin
    waiting for each other and the run gets slower, not faster. Nothing changes where the user set
    ``OMP_NUM_THREADS`` (or MKL's), or where torch is not in use. Returns the threads per worker, or
    ``None`` if left alone.
    """
    torch = sys.modules.get("torch")
    if workers <= 1 or torch is None or any(os.environ.get(name) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return None
    threads = max(1, (os.cpu_count() or 1) // workers)
    torch.set_num_threads(threads)
    return threads


def check_settings(config: pytest.Config, options: Any) -> None:
    """Resolve the settings from the command line (``options``), the environment and the ini files,
    before pytest imports the project's conftest.py files: those import torch, and an invalid
    setting should not wait for it (``ConfigError`` if one is invalid)."""
    from .checks.registry import all_keys
    from .config.profiles import BUILTIN_PROFILES

    keys = all_keys()
    try:
        resolve(cli=cli_values(config, options), files=file_sources(config, keys), keys=keys, profiles=BUILTIN_PROFILES)
    except ConfigError as exc:
        if exc.unknown is None:
            raise
        # a name not known yet may be a setting of a family a conftest.py adds (pytest_mlguard_families):
        # it is checked in pytest_configure, once the conftest files are loaded


def file_sources(config: pytest.Config, keys: Any) -> list[Source]:
    """ini keys (``mlguard_seed`` ...) first, then ``[tool.mlguard]`` of the project's pyproject.toml."""
    sources = []
    ini_values = {}
    where_by_key = {}
    ini_name = config.inipath.name if config.inipath else "ini"
    for name in INI_KEYS:
        value = config.getini(f"mlguard_{name}")
        if value not in ("", None):
            ini_values[name] = value
            where_by_key[name] = f"{ini_name} (mlguard_{name})"
    if ini_values:
        sources.append(Source(ini_values, ini_name, where_by_key))
    pyproject = config.inipath if config.inipath and config.inipath.name == "pyproject.toml" else None
    if pyproject is None and (config.rootpath / "pyproject.toml").is_file():
        pyproject = config.rootpath / "pyproject.toml"
    if pyproject is not None:
        display = os.path.relpath(pyproject, config.invocation_params.dir)
        source = pyproject_source(pyproject, keys, display=display)
        if source is not None:
            sources.append(source)
    return sources


class MlguardSession:
    """Everything pytest-mlguard keeps for one pytest run."""

    def __init__(self, config: pytest.Config) -> None:
        from .checks.registry import all_keys

        from ._clock import LOADED

        self._started = LOADED  # --mlguard-budget counts from the plugin's import, early in pytest's start
        self.config = config
        self.enabled: bool = bool(config.getoption("mlguard"))
        self.families = self._add_families()
        self.keys = all_keys()
        self._cli = cli_values(config)
        self._files = file_sources(config, self.keys)
        self.settings = self.resolve()
        self.results: list[dict[str, Any]] = []
        self.models: dict[str, Any] = {}
        self._evaluations: OrderedDict[Any, tuple[Evaluation, tuple[Any, ...]]] = OrderedDict()
        self._warned: set[str] = set()
        #: the first contract error of the run (docs/model-contract.md): the suite stops on it, exit code 4
        self.usage_error: str | None = None
        self.written: dict[str, Path] = {}
        self.write_error: str | None = None
        self.started_at = time.time()  # artefacts saved since then belong to this run
        self.skipped: list[dict[str, Any]] = []  # checks that did not run: cut, skipped, not applicable
        self.errors: list[dict[str, Any]] = []  # checks that ended without a measurement
        self.outcomes: dict[str, str] = {}  # node id -> passed, failed, skipped or error, of every mlguard item
        self.planned_items: set[str] = set()  # node ids of every check of the suites collected
        self.selected_items: set[str] = set()  # ... and of those the run kept (-k, -m, --deselect, node ids)
        self.stopped_by: str | None = None  # the signal that stopped the run (SIGTERM)
        self.run_failure: str | None = None  # why the run fails although no check did (cut checks, nothing measured)
        if self.enabled and not self.is_worker:
            self._check_output()
        self._start_run()
        self._open_cache()

    def _add_families(self) -> tuple[Family, ...]:
        """Every family of the run: the registry's, with those the ``pytest_mlguard_families`` hooks
        return (a ``ConfigError`` naming the hook's plugin for anything but families)."""
        from .checks.registry import as_families, families, use_families
        from .errors import InvalidArgument

        added: list[Family] = []
        try:
            for impl in reversed(self.config.pluginmanager.hook.pytest_mlguard_families.get_hookimpls()):
                where = f"pytest_mlguard_families of {impl.plugin_name}"
                added += as_families(impl.function(**dict.fromkeys(impl.argnames, self.config)), where)
            use_families(added)
        except ConfigError:
            raise
        except InvalidArgument as exc:
            raise ConfigError(str(exc)) from None
        return families()

    def register_family_hooks(self) -> None:
        """Register each family's module of pytest hooks (``Family.hooks``: report and terminal sections)."""
        import importlib

        for family in self.families:
            name = f"mlguard-{family.name}-hooks"
            if family.hooks and self.config.pluginmanager.get_plugin(name) is None:
                self.config.pluginmanager.register(importlib.import_module(family.hooks), name)

    def _check_output(self) -> None:
        """Stop now, with a usage error, if the report cannot be written where the settings say."""
        from .reporting.atomic import probe_directory

        try:
            probe_directory(self.settings.output)
        except OSError as exc:
            raise ConfigError(
                f"cannot write the mlguard report to {self.settings.output} (output, from {self.settings.source('output')}): "
                f"{exc.strerror or exc}: expected a directory that can be created and written to; "
                "choose another with --mlguard-output DIR"
            ) from None

    # -- settings ---------------------------------------------------------------------------------
    def resolve(self, marker: Mapping[str, Any] | None = None, marker_where: str = "the mlguard marker") -> Settings:
        from .config.profiles import BUILTIN_PROFILES

        settings = resolve(
            cli=self._cli,
            files=self._files,
            marker=marker,
            marker_where=marker_where,
            keys=self.keys,
            profiles=BUILTIN_PROFILES,
        )
        return self._with_output_dir(settings)

    def _with_output_dir(self, settings: Settings) -> Settings:
        """Relative paths (``output``, ``calibration.ood_data``, ...) made absolute: against the
        invocation directory when given on the command line or in the environment, else the rootdir."""
        values = settings.as_dict()
        for key, value in values.items():
            paths = isinstance(value, tuple) and bool(value) and all(isinstance(v, Path) for v in value)
            if not paths and (not isinstance(value, Path) or value.is_absolute()):
                continue
            where = settings.source(key)
            if where.startswith(("command line", "environment")):
                base = self.config.invocation_params.dir
            else:
                base = self.config.rootpath
            values[key] = tuple((base / v).resolve() for v in value) if paths else (base / value).resolve()
        return Settings(values, {key: settings.source(key) for key in values})

    def settings_for_marker(self, marker: pytest.Mark | None, nodeid: str) -> Settings:
        """Settings for a custom test: the ``@pytest.mark.mlguard(...)`` kwargs at the lowest precedence."""
        if marker is None or not marker.kwargs:
            return self.settings
        where = f"@pytest.mark.mlguard(...) on {nodeid}"
        values = {k: v for k, v in marker.kwargs.items() if k != "settings"}
        unknown = sorted(set(values) - set(MARKER_CORE_KEYS))
        if unknown:
            raise ConfigError(
                f"unknown keyword {unknown[0]!r} in {where}: expected {', '.join(MARKER_CORE_KEYS)} "
                "or settings={'dotted.key': value}"
            )
        extra = marker.kwargs.get("settings", {})
        if not isinstance(extra, Mapping):
            raise ConfigError(f"invalid settings={extra!r} in {where}: expected a dict of dotted keys, such as {{'corruption.floor': 0.8}}")
        return self.resolve({**values, **extra}, where)

    def plan(self, family: Family, settings: Settings | None = None) -> list[CheckSpec]:
        checks = family.planned(settings or self.settings)
        self.config.hook.pytest_mlguard_plan(config=self.config, family=family.name, checks=checks)
        return checks

    # -- evaluations --------------------------------------------------------------------------------
    def evaluation(self, model: Any, data: Any, pipeline: Any, settings: Settings) -> Evaluation:
        """The evaluation of these fixture values under ``settings``, shared by every check that uses them."""
        import warnings

        from .checks.evaluation import Evaluation
        from .contract.declaration import check_declaration, range_warning
        from .errors import ContractWarning

        key = (id(model), id(data), id(pipeline), repr(sorted(settings.as_dict().items(), key=lambda kv: kv[0])))
        if key in self._evaluations:
            self._evaluations.move_to_end(key)
            return self._evaluations[key][0]
        adapted, eval_data = check_declaration(
            model, data, pipeline, device=settings.device, device_source=settings.source("device"), probe=False
        )
        evaluation = Evaluation(adapted, eval_data, settings, pipeline=pipeline)
        evaluation.progress = self.progress
        outside = range_warning(adapted, eval_data)
        if outside is not None and outside not in self._warned:  # once per model and data, not per evaluation
            self._warned.add(outside)
            warnings.warn(outside, ContractWarning, stacklevel=2)
        if settings.samples is not None and settings.samples > eval_data.n:  # asked for more than there is: say so
            warnings.warn(
                f"samples = {settings.samples} (from {settings.source('samples')}) but mlguard_data "
                f"{eval_data.name!r} holds {eval_data.n} samples: the checks use all {eval_data.n}",
                UserWarning,
                stacklevel=2,
            )
        if self._workers > 1 and not self._evaluations:
            share_cores(self._workers)
        self._evaluations[key] = (evaluation, (model, data, pipeline))  # keep the objects alive: ids stay unique
        while len(self._evaluations) > 8:
            self._evaluations.popitem(last=False)
        self.models[evaluation.model_id] = adapted.describe()
        return evaluation

    # -- contract errors ------------------------------------------------------------------------------
    @staticmethod
    def probe(evaluation: Evaluation) -> None:
        """Call the model once on a few samples (``ContractError`` for a malformed output), once per
        evaluation, before its first check that is not reused from the cache."""
        from .contract.declaration import probe_model

        evaluation.memo("contract-probe", lambda: probe_model(evaluation.model, evaluation.full_data, evaluation.settings.device))

    def stop_on_contract_error(self, message: str, session: pytest.Session) -> None:
        """A declaration that breaks the model contract stops the run after the item that met it: the
        error is reported once, by that item, and the run exits with pytest's usage-error code (4)."""
        if self.usage_error is None:
            self.usage_error = message
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
    def record(self, result: CheckResult, item: pytest.Item | None = None) -> None:
        """Keep ``result`` for the report, with the node id of the test that measured it (a suite item
        or a custom test's ``mlguard.check(...)``)."""
        data = result.to_dict()
        if item is not None:
            data["nodeid"] = item.nodeid
        self.results.append(data)
        if item is not None:  # JUnit XML <property> elements, for CI dashboards
            for name in ("model", "metric", "value", result.kind, "threshold", "n", "passed", "verdict"):
                item.user_properties.append((f"mlguard_{name}", data[name]))
        self.config.hook.pytest_mlguard_result(config=self.config, result=result)

    def rerun_command(self, nodeid: str) -> str:
        path, sep, rest = str(nodeid).partition("::")
        target = os.path.relpath(self.config.rootpath / path, self.config.invocation_params.dir) + sep + rest
        words = ["pytest", "--mlguard", target, "--mlguard-seed", str(self.settings.seed)]
        for key, value in self._cli.items():
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

    # -- end of run -----------------------------------------------------------------------------------
    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def sessionfinish(self, exitstatus: int, shouldstop: str | bool = False) -> None:
        """Workers send their results; the controller writes the report of whatever ran, and decides
        whether the run fails for what no single check says (:attr:`run_failure`)."""
        if self.is_worker:
            self.config.workeroutput[WORKER_OUTPUT_KEY] = json.dumps(  # type: ignore[attr-defined]
                {
                    "results": self.results,
                    "models": self.models,
                    "budget": self.budget.summary() if self.budget else None,
                    "usage_error": self.usage_error,
                    "planned": sorted(self.planned_items),
                    "selected": sorted(self.selected_items),
                }
            )
            return
        if not self.enabled or not (self.results or self.outcomes):  # no mlguard item ran: nothing to report
            return
        from .reporting.report import build_report, write_outputs

        interrupted = None
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            interrupted = self.stopped_by or "KeyboardInterrupt (Ctrl-C)"
        elif shouldstop:
            interrupted = str(shouldstop) if isinstance(shouldstop, str) else "stopped early"
        report = build_report(
            self.results,
            seed=self.settings.seed,
            samples=self.settings.samples,
            models=self.models,
            weights=self.settings.get("score.weights"),
            skipped=self.skipped,
            errors=self.errors,
            interrupted=interrupted,
            selection=self.selection(),
        )
        if self.baseline is not None:
            from .baseline.compare import compare_runs

            report["comparison"] = compare_runs(report, self.baseline, self.settings.get("baseline.compare_fail"))
        if self.budget is not None:
            report["budget"] = self._budget_summary()
        self.run_failure = None if interrupted else self._run_failure(report)
        self.config.hook.pytest_mlguard_report(config=self.config, report=report)
        self.report = report
        try:
            self.written = write_outputs(
                report,
                self.settings.output,
                html=self.settings.get("report.html"),
                examples_per_check=self.settings.get("report.examples"),
                figures=self.cache.directory / "plots" if self.cache is not None else None,
                since=self.started_at - 2.0,  # file systems with a coarse clock
            )
            if self.settings.get("baseline.save"):
                from .baseline.store import save_baseline

                self.written["baseline"] = save_baseline(report, self.settings.get("baseline.save"), self.settings.get("baseline.dir"))
        except Exception as exc:  # noqa: BLE001 - said in the summary, and the run fails: never a lost run without a word
            self.write_error = f"could not write the mlguard report to {self.settings.output}: {type(exc).__name__}: {exc}"

    def _run_failure(self, report: Mapping[str, Any]) -> str | None:
        """Why the run fails although no check failed (:func:`~pytest_mlguard.budget.run_failure`)."""
        from .budget import run_failure

        return run_failure(
            report["summary"],
            max_cut=self.settings.get("budget_max_cut"),
            where=self.settings.source("budget_max_cut"),
            budget=self.settings.get("budget"),
            passed_tests="passed" in self.outcomes.values(),
        )

    def selection(self) -> dict[str, Any] | None:
        """What a partial run selected (``None`` if it ran every check of the suites it collected)."""
        left_out = self.planned_items - self.selected_items
        if not left_out:
            return None
        option = self.config.option
        args = [arg for arg in self.config.args if "::" in arg]
        return {
            "selected": len(self.planned_items & self.selected_items),
            "planned": len(self.planned_items),
            "keyword": getattr(option, "keyword", "") or None,
            "markexpr": getattr(option, "markexpr", "") or None,
            "deselect": list(getattr(option, "deselect", None) or []),
            "node_ids": args,
        }

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """The hook (the session is registered as a plugin): see :meth:`logreport`."""
        self.logreport(report)

    def logreport(self, report: pytest.TestReport) -> None:
        """On the controller (serial runs too): note how each mlguard item ended, and list the checks
        that did not run (``skipped``) or ended without a measurement (``errors``) for the report."""
        if self.is_worker or not self.enabled or "mlguard" not in report.keywords or report.nodeid in self.outcomes:
            return  # the first outcome of an item counts: a setup error or skip, else the call's
        if report.when == "teardown" or (report.when == "setup" and report.passed):
            return
        from ._names import SUITE_CLASS

        properties = dict(report.user_properties)
        if f"::{SUITE_CLASS}::" not in report.nodeid:  # a custom test: it passed or failed on its own terms
            self.outcomes[report.nodeid] = report.outcome
            return
        entry = {
            "id": properties.get("mlguard_check") or report.nodeid.rpartition("::")[2],
            "model": properties.get("mlguard_model", ""),
            "nodeid": report.nodeid,
        }
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            self.skipped.append({**entry, "kind": properties.get("mlguard_skipped", "skipped"), "reason": reason})
            self.outcomes[report.nodeid] = "skipped"
        elif report.failed and "mlguard_verdict" not in properties:  # failed without a measurement
            crash = getattr(report.longrepr, "reprcrash", None)
            reason = (crash.message if crash is not None else str(report.longrepr)).removeprefix("Failed: ")
            self.errors.append({**entry, "kind": properties.get("mlguard_error", "error"), "reason": reason[:2000]})
            self.outcomes[report.nodeid] = "error"
        else:
            self.outcomes[report.nodeid] = report.outcome

    def catch_signals(self) -> None:
        """With ``--mlguard``, SIGTERM (a CI job cancelled, a container stopped) stops the run as
        Ctrl-C does, so that what was measured is written; a handler someone else set is kept."""
        import signal
        import threading

        self._previous_sigterm: Any = None
        if not self.enabled or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            self._previous_sigterm = signal.signal(signal.SIGTERM, lambda signum, frame: self.stop_on(signum))

    def release_signals(self) -> None:
        import signal

        if getattr(self, "_previous_sigterm", None) is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    def stop_on(self, signum: int) -> None:
        """A signal handler: stop the run as Ctrl-C does (pytest then finishes the session and the
        report is written with what was measured, marked interrupted)."""
        import signal

        self.stopped_by = signal.Signals(signum).name
        raise KeyboardInterrupt(self.stopped_by)

    def _budget_summary(self) -> dict[str, Any]:
        """The budget's plan, merged over xdist workers: what was cut or shortened, and the time spent."""
        summary = self.budget.summary()  # type: ignore[union-attr]
        for worker in self.budgets:
            summary["cut"] += worker["cut"]
            summary["shortened"] += worker["shortened"]
            summary["throughput"] = summary["throughput"] or worker["throughput"]
        return summary

    @property
    def regressed(self) -> bool:
        """Whether a metric regressed beyond its tolerance against the baseline (the run then fails)."""
        comparison = (getattr(self, "report", None) or {}).get("comparison")
        return bool(comparison and not comparison["passed"])

    # -- baseline, progress, xdist workers ------------------------------------------------------------
    def _start_run(self) -> None:
        """Load the baseline to compare with (a missing one stops the run now, not after the suite),
        set up the progress lines of long checks, and count the xdist workers that share the cores."""
        from .baseline.store import load_baseline, resolve_baseline
        from .reporting.progress import Progress, TerminalDisplay

        self.baseline: dict[str, Any] | None = None
        name = self.settings.get("baseline.compare")
        if self.enabled and not self.is_worker and name is not None:
            where = self.settings.source("baseline.compare")
            path = resolve_baseline(name, self.settings.get("baseline.dir"), where, self.config.invocation_params.dir, self.config.rootpath)
            self.baseline = load_baseline(path, name=name, where=where)
        quiet = self.is_worker or not self.enabled or self.config.getoption("verbose") < 0
        self.progress = Progress(
            None if quiet else TerminalDisplay(self.config),
            after=self.settings.get("progress.after"),
            every=self.settings.get("progress.every"),
        )
        self._suite_items: dict[str, int] = {}
        self._workers = int(self.config.workerinput.get("workercount", 1)) if self.is_worker else 1  # type: ignore[attr-defined]
        from .budget import Budget

        self.budget = Budget.from_settings(self.settings, self._started, self._workers) if self.enabled else None
        self.budgets: list[dict[str, Any]] = []  # the plans of xdist workers, merged on the controller

    def _open_cache(self) -> None:
        """The result cache under pytest's cache directory, if ``cache`` is on; emptied first (on
        the controller only) with ``--mlguard-cache-clear``."""
        self.cache: Any = None
        self.cache_cleared: int | None = None
        clear = bool(self.config.getoption("mlguard_cache_clear", False))
        use = self.enabled and self.settings.get("cache")
        if not (use or clear):
            return
        pytest_cache = getattr(self.config, "cache", None)
        if pytest_cache is None:
            asked = "--mlguard-cache-clear" if clear and not use else f"the mlguard cache (from {self.settings.source('cache')})"
            ini = self.config.inipath.name if self.config.inipath else "the ini file"
            where = f"in addopts of {ini}" if "no:cacheprovider" in " ".join(self.config.getini("addopts")) else "on the command line"
            raise ConfigError(
                f"{asked} needs pytest's cache directory, but pytest's cacheprovider plugin is disabled by "
                f"-p no:cacheprovider {where}: remove it there (or override addopts for this run with -o addopts=), "
                "or leave the mlguard cache off"
            )
        from .cache import ResultCache

        cache = ResultCache(pytest_cache.mkdir("mlguard"))
        if clear and not self.is_worker:
            self.cache_cleared = cache.clear()
        self.cache = cache if use else None

    def collected(self, items: list[pytest.Item]) -> None:
        """Number the mlguard items, for the ``[3/6]`` of progress lines; the budget's plan."""
        from ._items import item_spec

        marked = [item.nodeid for item in items if item.get_closest_marker("mlguard") is not None]
        self._suite_items = {nodeid: index for index, nodeid in enumerate(marked, 1)}
        self.selected_items = {item.nodeid for item in items if item_spec(item) is not None}
        if self.budget is not None:
            for item in items:
                spec = item_spec(item)
                if spec is not None:
                    self.budget.pending[item.nodeid] = self.budget.planned[item.nodeid] = spec

    # -- --mlguard-budget -------------------------------------------------------------------------------
    def order_for_budget(self, items: list[pytest.Item]) -> None:
        """Under a budget, the suite's items run most informative first (:func:`~pytest_mlguard.budget.rank`);
        other tests keep their places."""
        if self.budget is None:
            return
        from .budget import rank
        from ._items import item_spec

        places = [index for index, item in enumerate(items) if item_spec(item) is not None]
        ordered = sorted((items[index] for index in places), key=lambda item: rank(item_spec(item)))  # type: ignore[arg-type]
        for index, item in zip(places, ordered):
            items[index] = item

    def check_limit(self) -> tuple[float | None, Literal["timeout", "budget"]]:
        """The wall-clock limit of the next check: the ``timeout`` setting, or the time left in the
        budget if that is sooner (see :mod:`pytest_mlguard.deadline`)."""
        timeout = self.settings.get("timeout")
        if self.budget is not None:
            left = self.budget.left()
            if timeout is None or left < timeout:
                return max(left, 0.001), "budget"
        return timeout, "timeout"

    def budget_stopped(self, nodeid: str, spec: CheckSpec, stopped: Any) -> str:
        """A check stopped at the end of the budget: cut, with the reason (returned)."""
        return self._cut(nodeid, spec, f"stopped at the end of the budget of {self.budget.seconds:g} s, {stopped.seconds:.1f} s after it started")  # type: ignore[union-attr]

    def budget_spent(self, nodeid: str, spec: CheckSpec) -> str | None:
        """Cut the check before it starts if the budget is spent (the reason), else ``None``."""
        if self.budget is None or self.budget.left() > 0:
            return None
        return self._cut(nodeid, spec, f"the budget of {self.budget.seconds:g} s was spent")

    def _cut(self, nodeid: str, spec: CheckSpec, reason: str) -> str:
        self.budget.cut.append({"check": spec.id, "node": nodeid, "reason": reason})  # type: ignore[union-attr]
        self.budget.pending.pop(nodeid, None)  # type: ignore[union-attr]
        return reason

    def timeout_message(self, stopped: Any) -> str:
        """``no answer within 60 s (timeout from ...); stopped in model.py:12 (forward)``."""
        import traceback

        frames = [frame for frame in traceback.extract_tb(stopped.__traceback__) if not frame.filename.endswith("deadline.py")]
        where = f"; stopped in {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].name})" if frames else ""
        return (
            f"no answer within {stopped.seconds:g} s (timeout, from {self.settings.source('timeout')}){where}; "
            "the run goes on: a model or pipeline that hangs, or a check that needs a longer timeout (--mlguard-set timeout=30m)"
        )

    def budget_limits(self, nodeid: str, spec: CheckSpec, evaluation: Evaluation) -> str | None:
        """Give the check its share of the budget (``evaluation.limits``); the reason if it is cut."""
        evaluation.limits = None
        if self.budget is None:
            return None
        if self.budget.throughput is None:  # the model's throughput: one warm batch, timed
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
                    self.budget.measure(len(x), time.perf_counter() - start)
        if evaluation.pipeline is not None:
            self.budget.pipeline_input = evaluation.pipeline.input
        limits = self.budget.limits(nodeid, spec, evaluation.data.n)
        if limits is None:
            return str(self.budget.cut[-1]["reason"])
        evaluation.limits = limits
        self._budget_start = time.perf_counter()
        return None

    def budget_done(self, nodeid: str, spec: CheckSpec, evaluation: Evaluation, result: CheckResult | None) -> None:
        if self.budget is not None:
            seconds = time.perf_counter() - self._budget_start
            self.budget.done(nodeid, spec, None if result is not None and result.details.get("cached") else result, seconds, evaluation.limits, evaluation.data.n)
        evaluation.limits = None

    def item_started(self, nodeid: str) -> None:
        self.progress.position(self._suite_items.get(nodeid), len(self._suite_items))

    def item_finished(self) -> None:
        self.progress.position(None, None)

    def make_scheduler(self, log: Any) -> Any:
        """The xdist scheduler that keeps a ``together`` family's checks on one worker
        (:mod:`~pytest_mlguard.scheduling`), or ``None`` (xdist's own) where the ``--dist`` mode does not split them."""
        together = [family.name for family in self.families if family.together]
        if not (self.enabled and together):
            return None
        from .scheduling import REGROUPED, SuiteScheduling

        if self.config.getvalue("dist") not in REGROUPED:
            return None
        return SuiteScheduling(self.config, log, together=together)

    def testnodedown(self, node: Any) -> None:
        payload = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
        if payload:
            data = json.loads(payload)
            self.results.extend(data["results"])
            self.models.update(data["models"])
            if data.get("budget"):
                self.budgets.append(data["budget"])
            self.usage_error = self.usage_error or data.get("usage_error")
            self.planned_items.update(data.get("planned", ()))
            self.selected_items.update(data.get("selected", ()))

    def terminal_summary(self, reporter: Any) -> None:
        if self.is_worker:
            return
        if self.cache_cleared is not None:
            reporter.write_line(f"mlguard cache: cleared {self.cache_cleared} stored results")
        report = getattr(self, "report", None)
        if report is None:
            return
        from .reporting.terminal import summary_lines

        reporter.write_sep("=", "mlguard")
        for line, markup in self.integrity_lines(report):
            reporter.write_line(line, **markup)
        for line, markup in summary_lines(report, self.written, verbosity=self.config.getoption("verbose"), slowest=self.settings.get("report.durations")):
            reporter.write_line(line, **markup)
        if self.write_error:
            reporter.write_line(self.write_error, red=True, bold=True)
        if self.run_failure:
            reporter.write_line(self.run_failure, red=True, bold=True)
        if self.cache is not None:
            from .cache import cache_summary

            reporter.write_line(cache_summary(self.results, self.cache.directory, self.config.invocation_params.dir))

    def integrity_lines(self, report: Mapping[str, Any]) -> list[tuple[str, dict[str, bool]]]:
        """What the report is not: interrupted, partial, checks without a measurement."""
        lines: list[tuple[str, dict[str, bool]]] = []
        summary = report["summary"]
        if report.get("interrupted"):
            checks = f"{summary['total']} check{'' if summary['total'] == 1 else 's'}"
            text = f"INTERRUPTED ({report['interrupted_by']}): the report holds the {checks} measured before the run stopped"
            lines.append((text, {"red": True, "bold": True}))
        selection = report.get("selection")
        if report.get("partial") and selection:
            how = ", ".join(
                text
                for text in (
                    f"-k {selection['keyword']!r}" if selection["keyword"] else "",
                    f"-m {selection['markexpr']!r}" if selection["markexpr"] else "",
                    "--deselect" if selection["deselect"] else "",
                    "node ids" if selection["node_ids"] else "",
                )
                if text
            )
            selected = f"{selection['selected']} of {selection['planned']} checks selected{f' ({how})' if how else ''}"
            text = f"partial run: {selected}; the score and the badges (labelled 'partial') cover only these"
            lines.append((text, {"yellow": True, "bold": True}))
        for entry in report.get("errors", []):
            reason = entry["reason"].splitlines()[0] if entry["reason"] else ""
            reason = reason if len(reason) <= 120 else reason[:117] + "..."
            if entry["kind"] == "contract":  # printed whole above, once: the run stopped there
                reason = "the declaration breaks the model contract (the error above); the run stopped"
            lines.append((f"{entry['model'] + '::' if entry['model'] else ''}{entry['id']} ERROR ({entry['kind']}): {reason}", {"red": True}))
        return lines
