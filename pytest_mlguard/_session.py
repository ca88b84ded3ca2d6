"""The run's lifecycle and pytest-xdist, behind the thin layer of :mod:`pytest_mlguard.plugin`.

One :class:`MlguardSession` is created in ``pytest_configure`` and kept in ``config.stash``
(pytest-timeout's way). It resolves the settings (:mod:`pytest_mlguard._settings`), sets up what the
run needs (the families, the baseline to compare with, progress lines, the budget, the result cache,
signals), and holds the two parts that do the work: the :class:`~pytest_mlguard._runner.CheckRunner`,
which measures checks, and the :class:`~pytest_mlguard._reporter.RunReporter`, which writes the report
at the end. Both share the run's :class:`~pytest_mlguard._record.RunRecord`: workers send theirs
through ``config.workeroutput``, the controller merges them in ``pytest_testnodedown`` and is the only
process that writes reports (pytest-xdist's ``DSession``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ._record import WORKER_OUTPUT_KEY, RunRecord
from ._shard._tasks import check_task
from ._settings import RunSettings, check_settings as check_settings, cli_values as cli_values
from .checks._base import CheckSpec, Family
from .config._settings import Settings
from .errors import ConfigError
from ._reporter import RunReporter
from ._runner import CheckRunner, share_cores as share_cores


class MlguardSession:
    """Everything pytest-mlguard keeps for one pytest run."""

    def __init__(self, config: pytest.Config) -> None:
        from . import _clock
        from .checks._registry import all_keys

        self.config = config
        #: the shard directories of --mlguard-merge (which implies --mlguard), if given
        self.merging: list[str] = list(config.getoption("mlguard_merge", None) or [])
        if self.merging:
            config.option.mlguard = True
        self.enabled: bool = bool(config.getoption("mlguard"))
        self.is_worker: bool = hasattr(config, "workerinput")
        #: the workers ``-n`` asked for where a merge runs without them (it calls no model), else ``None``
        self.workers_unused = self._merge_without_workers()
        self.families = self._add_families()
        self.keys = all_keys()
        self._settings = RunSettings(config, self.keys)
        self.settings: Settings = self._settings.settings
        self._check_sharding()
        check_task(self.settings, self.merging)  # a detector's or segmenter's whole-set metric does not shard
        started_at = time.time()  # artefacts saved since then belong to this run
        if self.enabled and not self.is_worker:
            self._check_output()
            if self.settings.get("report.mlflow"):  # a missing MLflow stops the run now, not after the suite
                from .reporting._mlflow import require_mlflow

                # its store too under xdist (the workers' conftest.py files set no URI for this controller, which
                # logs), else once collected (collected())
                require_mlflow(self.settings.source("report.mlflow"), store=bool(getattr(config.option, "tx", None)))
        self.record = RunRecord()
        self.stopped_by: str | None = None  # the signal that stopped the run (SIGTERM)
        self._previous_sigterm: Any = None
        self._suite_items: dict[str, int] = {}  # node id -> its number among the suite's items, for progress lines
        self.workers = int(config.workerinput.get("workercount", 1)) if self.is_worker else 1  # type: ignore[attr-defined]
        baseline = self._load_baseline()  # a missing one stops the run now, not after the suite
        self.progress = self._progress()
        from ._budget import Budget

        # --mlguard-budget counts from the run's start: the plugin's import for the process's first run
        self.budget = Budget.from_settings(self.settings, _clock.STARTED, self.workers) if self.enabled else None
        self.cache, cache_cleared = self._open_cache()
        self.runner = CheckRunner(
            config, self.settings, self._settings.cli, self.record, budget=self.budget, cache=self.cache, progress=self.progress, workers=self.workers
        )
        self.reporter = RunReporter(
            config, self.settings, self.record, budget=self.budget, cache=self.cache, baseline=baseline, cache_cleared=cache_cleared, started_at=started_at, rerun=self.runner.rerun_command
        )

    def _add_families(self) -> tuple[Family, ...]:
        """Every family of the run: the registry's, with those the ``pytest_mlguard_families`` hooks
        return (a ``ConfigError`` naming the hook's plugin for anything but families)."""
        from .checks._registry import as_families, families, use_families
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

    def _check_sharding(self) -> None:
        """``--mlguard-shard`` with ``--mlguard-merge`` is a usage error, and so is ``verdict.early_stop = exact``
        on a shard. Under pytest-xdist the workers share the shard's checks (:mod:`~pytest_mlguard._shard.workers`)."""
        shard = self.settings.get("shard")
        if shard is None:
            return
        where = self.settings.source("shard")
        if self.merging:
            raise ConfigError(f"--mlguard-merge merges shards; this run is shard {shard.describe()} (shard, from {where}): give one of them")
        if self.settings.get("verdict.early_stop") == "exact":
            raise ConfigError(
                f"shard {shard.describe()} (shard, from {where}) with verdict.early_stop = exact (from {self.settings.source('verdict.early_stop')}): "
                "a shard cannot know when all the samples decide a verdict; use sequential (the merge combines the shards' tests) or off"
            )

    def _merge_without_workers(self) -> Any:
        """Under ``--mlguard-merge``, switch pytest-xdist's ``-n`` off (as its own ``-n 0``) before its
        ``pytest_configure`` starts workers: the merge reads files and calls no model, so workers would
        only each recompute it. Returns what ``-n`` asked for (``None``: not a merge, or no ``-n``)."""
        option = self.config.option
        if not self.merging or self.is_worker or not getattr(option, "tx", None):
            return None
        asked = getattr(option, "numprocesses", None) or len(option.tx)
        option.numprocesses, option.dist, option.tx = 0, "no", []
        return asked

    def merge_items(self, session: pytest.Session) -> list[pytest.Item]:
        """The items of ``--mlguard-merge`` (:mod:`~pytest_mlguard._shard.items`)."""
        from ._shard.items import merge_items

        return merge_items(session, self.merging, self.settings, self.runner, self.record)

    def register_family_hooks(self) -> None:
        """Register each family's module of pytest hooks (``Family.hooks``: report and terminal sections)."""
        import importlib

        for family in self.families:
            name = f"mlguard-{family.name}-hooks"
            if family.hooks and self.config.pluginmanager.get_plugin(name) is None:
                self.config.pluginmanager.register(importlib.import_module(family.hooks), name)

    def register_pytest_html(self) -> None:
        """Where pytest-html is installed: the mlguard columns of its results table (:mod:`.reporting._pytest_html`)."""
        manager = self.config.pluginmanager
        if not self.enabled or not manager.hasplugin("html") or manager.get_plugin("mlguard-pytest-html") is not None:
            return
        import os

        from .reporting._pytest_html import PytestHtmlColumns

        target = self.config.getoption("htmlpath", None)
        href = None
        if target and self.reporter.draws_html():  # pytest-html writes its page relative to the current directory
            href = os.path.relpath(self.settings.output / "report.html", (Path.cwd() / Path(os.path.expandvars(target)).expanduser()).parent)
        manager.register(PytestHtmlColumns(href), "mlguard-pytest-html")

    def _check_output(self) -> None:
        """Stop now, with a usage error, if the report cannot be written where the settings say."""
        from .reporting._atomic import probe_directory

        try:
            probe_directory(self.settings.output)
        except OSError as exc:
            raise ConfigError(
                f"cannot write the mlguard report to {self.settings.output} (output, from {self.settings.source('output')}): "
                f"{exc.strerror or exc}: expected a directory that can be created and written to; "
                "choose another with --mlguard-output DIR"
            ) from None

    def _load_baseline(self) -> dict[str, Any] | None:
        """The stored report to compare with (``baseline.compare``), on the controller."""
        from ._baseline.store import load_baseline, resolve_baseline

        name = self.settings.get("baseline.compare")
        if not self.enabled or self.is_worker or name is None or self.settings.get("shard") is not None:  # a shard's results are partial: the merge compares
            return None
        where = self.settings.source("baseline.compare")
        path = resolve_baseline(name, self.settings.get("baseline.dir"), where, self.config.invocation_params.dir, self.config.rootpath)
        return load_baseline(path, name=name, where=where)

    def _progress(self) -> Any:
        """The progress lines of long checks, on the controller's terminal."""
        from .reporting._progress import Progress, TerminalDisplay

        quiet = self.is_worker or not self.enabled or self.config.getoption("verbose") < 0
        return Progress(
            None if quiet else TerminalDisplay(self.config),
            after=self.settings.get("progress.after"),
            every=self.settings.get("progress.every"),
        )

    def _open_cache(self) -> tuple[Any, int | None]:
        """The result cache under pytest's cache directory if ``cache`` is on (else ``None``), and how
        many stored results ``--mlguard-cache-clear`` removed first (on the controller only)."""
        clear = bool(self.config.getoption("mlguard_cache_clear", False))
        use = self.enabled and self.settings.get("cache")
        if not (use or clear):
            return None, None
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
        from ._cache import ResultCache

        cache = ResultCache(pytest_cache.mkdir("mlguard"))
        cleared = cache.clear() if clear and not self.is_worker else None
        return (cache if use else None), cleared

    # -- settings ---------------------------------------------------------------------------------
    def settings_for_marker(self, marker: pytest.Mark | None, nodeid: str) -> Settings:
        """Settings for a custom test: the ``@pytest.mark.mlguard(...)`` kwargs at the lowest precedence."""
        return self._settings.for_marker(marker, nodeid)

    def plan(self, family: Family, settings: Settings | None = None, path: Path | None = None) -> list[CheckSpec]:
        """The checks of ``family`` for the suite of the conftest.py at ``path``, after the ``pytest_mlguard_plan`` hooks."""
        checks = family.planned(settings or self.settings)
        self.config.hook.pytest_mlguard_plan(config=self.config, family=family.name, checks=checks, path=path)
        return checks

    # -- signals ----------------------------------------------------------------------------------------
    def catch_signals(self) -> None:
        """With ``--mlguard``, SIGTERM (a CI job cancelled, a container stopped) stops the run as
        Ctrl-C does, so that what was measured is written; a handler someone else set is kept."""
        import signal
        import threading

        if not self.enabled or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            self._previous_sigterm = signal.signal(signal.SIGTERM, lambda signum, frame: self.stop_on(signum))

    def release_signals(self) -> None:
        import signal

        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    def stop_on(self, signum: int) -> None:
        """A signal handler: stop the run as Ctrl-C does (pytest then finishes the session and the
        report is written with what was measured, marked interrupted)."""
        import signal

        self.stopped_by = signal.Signals(signum).name
        raise KeyboardInterrupt(self.stopped_by)

    # -- collection, items, xdist -----------------------------------------------------------------------
    def collected(self, items: list[pytest.Item]) -> None:
        """Number the mlguard items, for the ``[3/6]`` of progress lines; the budget's plan. MLflow's store is
        checked here, every conftest.py imported: one imported as its folder was collected may set its URI."""
        from ._items import item_spec

        if self.enabled and not self.is_worker and self.settings.get("report.mlflow"):
            from .reporting._mlflow import require_mlflow

            require_mlflow(self.settings.source("report.mlflow"))

        marked = [item.nodeid for item in items if item.get_closest_marker("mlguard") is not None]
        self._suite_items = {nodeid: index for index, nodeid in enumerate(marked, 1)}
        self.record.selected_items = {item.nodeid for item in items if item_spec(item) is not None or self.merging}
        if self.budget is not None:
            for item in items:
                spec = item_spec(item)
                if spec is not None:
                    self.budget.pending[item.nodeid] = self.budget.planned[item.nodeid] = spec

    def order_for_budget(self, items: list[pytest.Item]) -> None:
        """Under a budget, the suite's items run most informative first (:func:`~pytest_mlguard._budget.rank`);
        other tests keep their places."""
        if self.budget is None:
            return
        from ._items import item_spec
        from ._budget import rank

        places = [index for index, item in enumerate(items) if item_spec(item) is not None]
        ordered = sorted((items[index] for index in places), key=lambda item: rank(item_spec(item)))  # type: ignore[arg-type]
        for index, item in zip(places, ordered):
            items[index] = item

    def item_started(self, nodeid: str) -> None:
        self.progress.position(self._suite_items.get(nodeid), len(self._suite_items))

    def item_finished(self) -> None:
        self.progress.position(None, None)

    def make_scheduler(self, log: Any) -> Any:
        """The xdist scheduler that keeps a ``together`` family's checks on one worker
        (:mod:`~pytest_mlguard._scheduling`), or ``None`` (xdist's own) where the ``--dist`` mode does not split them."""
        together = [family.name for family in self.families if family.together]
        if not (self.enabled and together):
            return None
        from ._scheduling import REGROUPED, SuiteScheduling

        if self.config.getvalue("dist") not in REGROUPED:
            return None
        return SuiteScheduling(self.config, log, together=together)

    def testnodedown(self, node: Any) -> None:
        """A worker finished: merge its record into the controller's."""
        payload = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
        if payload:
            self.record.merge(payload)
        if self.runner.statistics is not None:  # a shard's statistics: the controller writes them once, whole
            from ._shard.workers import SHARD_OUTPUT_KEY, WorkerMismatch, gather

            statistics = getattr(node, "workeroutput", {}).get(SHARD_OUTPUT_KEY)
            try:
                if statistics is not None and self.reporter.write_error is None:
                    gather(self.runner.statistics, statistics, worker=getattr(node, "workerinput", {}).get("workerid", "a worker"))
            except WorkerMismatch as exc:  # the shard's file is not written, the run says why and exits with code 4
                self.reporter.write_error = f"mlguard: {exc}"
                self.record.usage_error = self.record.usage_error or str(exc)

    # -- end of run -----------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """The hook (the session is registered as a plugin): on the controller, serial runs too, the
        reporter notes how each mlguard item ended (:meth:`RunReporter.logreport`)."""
        if not self.is_worker:
            self.reporter.logreport(report)

    def sessionfinish(self, exitstatus: int, shouldstop: str | bool = False) -> None:
        """Workers send their records; the controller's reporter writes the report of whatever ran."""
        if self.is_worker:
            budget = self.budget.summary() if self.budget else None
            self.config.workeroutput[WORKER_OUTPUT_KEY] = self.record.worker_payload(budget)  # type: ignore[attr-defined]
            if self.runner.statistics is not None:
                from ._shard.workers import SHARD_OUTPUT_KEY, worker_payload

                self.config.workeroutput[SHARD_OUTPUT_KEY] = worker_payload(self.runner.statistics)  # type: ignore[attr-defined]
            return
        self.reporter.sessionfinish(exitstatus, shouldstop, self.stopped_by)
        statistics = self.runner.statistics
        if statistics is not None and self.enabled and self.reporter.write_error is None:
            try:
                self.reporter.written["shard"] = statistics.write(self.settings.output, self.record)
            except OSError as exc:
                self.reporter.write_error = f"could not write the shard's statistics to {self.settings.output}: {exc}"

    def terminal_summary(self, reporter: Any) -> None:
        if not self.is_worker:
            self.reporter.terminal_summary(reporter)
