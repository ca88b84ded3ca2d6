"""The end-of-run reporter, on the controller (or in a serial run): how each mlguard item ended, the
report built from the run's :class:`~pytest_mlguard._record.RunRecord` and written with its badges,
the baseline comparison, whether the run fails for what no single check says, and the terminal
summary. Workers only send their records (:mod:`pytest_mlguard._session`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from ._names import CONTRACT_ERROR
from ._record import RunRecord
from ._run_part import RunPart
from .config._settings import Settings

#: how report.json's ``interrupted_by`` begins when a contract error stopped the run
STOPPED_BY_CONTRACT = "contract error: "


class RunReporter(RunPart):
    """Writes the run's report when the session finishes, and its summary in the terminal.

    Args:
        config: pytest's configuration.
        settings: the run's settings.
        record: what the run measured (merged over xdist workers by then).
        budget: the plan of ``--mlguard-budget``, if one was given.
        cache: the result cache, if on (its plots directory and the summary line).
        baseline: the stored report ``baseline.compare`` names, if any.
        cache_cleared: how many stored results ``--mlguard-cache-clear`` removed, if given.
        started_at: when the run started (``time.time()``): artefacts saved since belong to it.
        rerun: the node id of a check -> the command that reruns it alone (the GitHub job summary's).
    """

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        record: RunRecord,
        *,
        budget: Any,
        cache: Any,
        baseline: dict[str, Any] | None,
        cache_cleared: int | None,
        started_at: float,
        rerun: Callable[[str], str] = str,
    ) -> None:
        super().__init__(config, settings, record, budget, cache)
        self.baseline = baseline
        self.cache_cleared = cache_cleared
        self.started_at = started_at
        self.rerun = rerun
        #: GitHub Actions workflow commands (``::error ...``) printed after the summary (or why the job
        #: summary could not be written: a CI page's extra, it does not fail the run)
        self.annotations: list[str] = []
        #: lines about the run's other outputs (MLflow), with their markup
        self.notes: list[tuple[str, dict[str, bool]]] = []
        #: the report of the run, once written (the family hooks' terminal sections read it)
        self.report: dict[str, Any] | None = None
        self.written: dict[str, Path] = {}
        #: why the run fails for its outputs: the report could not be written, or not logged to MLflow
        self.write_error: str | None = None
        #: why the run fails although no check did (cut checks, nothing measured)
        self.run_failure: str | None = None

    # -- how each item ended ------------------------------------------------------------------------
    def logreport(self, report: pytest.TestReport) -> None:
        """Note how each mlguard item ended, and list the checks that did not run (``skipped``) or
        ended without a measurement (``errors``) for the report."""
        outcomes = self.record.outcomes
        if not self.enabled or "mlguard" not in report.keywords or report.nodeid in outcomes:
            return  # the first outcome of an item counts: a setup error or skip, else the call's
        if report.when == "teardown" or (report.when == "setup" and report.passed):
            return
        from ._names import SUITE_CLASS

        properties = dict(report.user_properties)
        if f"::{SUITE_CLASS}::" not in report.nodeid:  # a custom test: it passed or failed on its own terms
            outcomes[report.nodeid] = report.outcome
            return
        entry = {
            "id": properties.get("mlguard_check") or report.nodeid.rpartition("::")[2],
            "model": properties.get("mlguard_model", ""),
            "nodeid": report.nodeid,
        }
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            self.record.skipped.append({**entry, "kind": properties.get("mlguard_skipped", "skipped"), "reason": reason})
            outcomes[report.nodeid] = "skipped"
        elif report.failed and "mlguard_verdict" not in properties:  # failed without a measurement
            crash = getattr(report.longrepr, "reprcrash", None)
            reason = (crash.message if crash is not None else str(report.longrepr)).removeprefix("Failed: ")
            self.record.errors.append({**entry, "kind": properties.get("mlguard_error", "error"), "reason": reason[:2000]})
            outcomes[report.nodeid] = "error"
        else:
            outcomes[report.nodeid] = report.outcome

    # -- the report -----------------------------------------------------------------------------------
    def sessionfinish(self, exitstatus: int, shouldstop: str | bool = False, stopped_by: str | None = None) -> None:
        """Write the report of whatever ran, and decide whether the run fails for what no single check
        says (:attr:`run_failure`); ``stopped_by``: the signal that stopped the run, if one did."""
        record = self.record
        if not self.enabled or not (record.results or record.outcomes):  # no mlguard item ran: nothing to report
            return
        from .reporting._report import build_report

        interrupted = _stopped_by(exitstatus, shouldstop, stopped_by, record.usage_error)
        report = build_report(
            record.results,
            seed=self.settings.seed,
            samples=self.settings.samples,
            models=record.models,
            weights=self.settings.get("score.weights"),
            skipped=record.skipped,
            errors=record.errors,
            interrupted=interrupted,
            selection=self.selection(),
            shard=None if self.settings.get("shard") is None else (self.settings.get("shard").index, self.settings.get("shard").count),
        )
        if self.baseline is not None:
            from ._baseline.compare import compare_runs

            report["comparison"] = compare_runs(report, self.baseline, self.settings.get("baseline.compare_fail"))
        if self.budget is not None:
            report["budget"] = self._budget_summary()
        self.run_failure = None if interrupted else self._run_failure(report)
        self.config.hook.pytest_mlguard_report(config=self.config, report=report)
        self.report = report
        self._write(report)
        self._ci(report)
        self._mlflow(report)

    def _ci(self, report: dict[str, Any]) -> None:
        """On GitHub Actions (unless ``report.github`` is off): the job summary and the annotations; on
        GitLab CI (unless ``report.gitlab`` is off): the Code Quality report."""
        import os

        from .reporting._github import github_outputs
        from .reporting._gitlab import gitlab_outputs

        try:
            if self.settings.get("report.github"):
                self.annotations = github_outputs(report, os.environ, self.config.rootpath, self.rerun)
            if self.settings.get("report.gitlab") and "report" in self.written:
                gitlab_outputs(report, os.environ, self.config.rootpath, self.settings.output)
        except OSError as exc:
            self.annotations = [f"could not write the mlguard CI summary: {type(exc).__name__}: {exc}"]

    def _mlflow(self, report: dict[str, Any]) -> None:
        """With ``report.mlflow``: the checks as metrics and tags of the MLflow run, the reports as artifacts."""
        if not self.settings.get("report.mlflow"):
            return
        from .reporting._mlflow import log_to_mlflow

        try:
            self.notes.append((f"mlguard: logged to MLflow run {log_to_mlflow(report, self.written)}", {}))
        except Exception as exc:  # noqa: BLE001 - a tracking server's failure is said, the report stays written, and the run fails
            self.notes.append((f"mlguard: could not log to MLflow: {type(exc).__name__}: {exc}", {"red": True, "bold": True}))
            self.write_error = self.write_error or "the run's results were not logged to MLflow (report.mlflow): see below"

    def _write(self, report: dict[str, Any]) -> None:
        from .reporting._report import write_outputs

        try:
            self.written = write_outputs(
                report,
                self.settings.output,
                html=self.draws_html(),
                examples_per_check=self.settings.get("report.examples"),
                figures=self.cache.directory / "plots" if self.cache is not None else None,
                since=self.started_at - 2.0,  # file systems with a coarse clock
            )
            if self.settings.get("baseline.save") and self.settings.get("shard") is None:  # a shard's results are partial: the merge saves
                from ._baseline.store import save_baseline

                self.written["baseline"] = save_baseline(report, self.settings.get("baseline.save"), self.settings.get("baseline.dir"))
        except Exception as exc:  # noqa: BLE001 - said in the summary, and the run fails: never a lost run without a word
            self.write_error = f"could not write the mlguard report to {self.settings.output}: {type(exc).__name__}: {exc}"

    def draws_html(self) -> bool:
        """Whether report.html is drawn: as ``report.html`` says, but on a shard only where it is set: a
        shard's verdicts are partial, and the merge draws the run's page (its plots cost a shard a second)."""
        if self.settings.get("shard") is not None and self.settings.source("report.html") == "default":
            return False
        return bool(self.settings.get("report.html"))

    def _run_failure(self, report: Mapping[str, Any]) -> str | None:
        """Why the run fails although no check failed (:func:`~pytest_mlguard._budget.run_failure`)."""
        from ._budget import run_failure

        return run_failure(
            report["summary"],
            max_cut=self.settings.get("budget_max_cut"),
            where=self.settings.source("budget_max_cut"),
            budget=self.settings.get("budget"),
            passed_tests="passed" in self.record.outcomes.values(),
            elsewhere=len(self._left_to_other_shards(report)),
        )

    def _left_to_other_shards(self, report: Mapping[str, Any]) -> list[str]:
        """A shard that measured nothing: the checks it left to the shards that run them whole (``[]`` for
        any other run), which a note names (the merge takes them from those shards)."""
        elsewhere = [entry["reason"] for entry in self.record.skipped if entry.get("kind") == "other-shard"]
        if report["summary"]["total"] or not elsewhere:
            return []
        shard = self.settings.get("shard")
        what = "; ".join(elsewhere[:3]) + (f"; and {len(elsewhere) - 3} more" if len(elsewhere) > 3 else "")
        note = f"mlguard: shard {shard.describe()} measured no check: {what}; its statistics file holds none, and the merge takes them from those shards"
        if (note, {}) not in self.notes:
            self.notes.append((note, {}))
        return elsewhere

    def selection(self) -> dict[str, Any] | None:
        """What a partial run selected (``None`` if it ran every check of the suites it collected)."""
        planned, selected = self.record.planned_items, self.record.selected_items
        if not planned - selected:
            return None
        option = self.config.option
        args = [arg for arg in self.config.args if "::" in arg]
        return {
            "selected": len(planned & selected),
            "planned": len(planned),
            "keyword": getattr(option, "keyword", "") or None,
            "markexpr": getattr(option, "markexpr", "") or None,
            "deselect": list(getattr(option, "deselect", None) or []),
            "node_ids": args,
        }

    def _budget_summary(self) -> dict[str, Any]:
        """The budget's plan, merged over xdist workers: what was cut or shortened, and the time spent."""
        assert self.budget is not None  # sessionfinish asks for it with a budget only
        summary: dict[str, Any] = self.budget.summary()
        for worker in self.record.budgets:
            summary["cut"] += worker["cut"]
            summary["shortened"] += worker["shortened"]
            summary["throughput"] = summary["throughput"] or worker["throughput"]
        return summary

    @property
    def regressed(self) -> bool:
        """Whether a metric regressed beyond its tolerance against the baseline (the run then fails)."""
        comparison = (self.report or {}).get("comparison")
        return bool(comparison and not comparison["passed"])

    # -- the terminal -----------------------------------------------------------------------------------
    def terminal_summary(self, reporter: Any) -> None:
        if self.cache_cleared is not None:
            reporter.write_line(f"mlguard cache: cleared {self.cache_cleared} stored results")
        report = self.report
        if report is None:
            return
        from .reporting._terminal import summary_lines

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
            from ._cache import cache_summary

            reporter.write_line(cache_summary(self.record.results, self.cache.directory, self.config.invocation_params.dir))
        for line, markup in self.notes:
            reporter.write_line(line, **markup)
        for line in self.annotations:  # GitHub Actions reads workflow commands from the job's output
            reporter.write_line(line)

    def integrity_lines(self, report: Mapping[str, Any]) -> list[tuple[str, dict[str, bool]]]:
        """What the report is not: interrupted, partial, checks without a measurement."""
        lines: list[tuple[str, dict[str, bool]]] = []
        summary = report["summary"]
        if report.get("interrupted"):
            checks = f"{summary['total']} check{'' if summary['total'] == 1 else 's'}"
            if report["interrupted_by"].startswith(STOPPED_BY_CONTRACT):  # printed whole above: named, not repeated
                text = f"STOPPED by the contract error above: the report holds the {checks} measured before the run stopped"
            else:
                text = f"INTERRUPTED ({report['interrupted_by']}): the report holds the {checks} measured before the run stopped"
            lines.append((text, {"red": True, "bold": True}))
        selection = report.get("selection")
        if report.get("partial") and selection:
            lines.append((_partial_line(selection), {"yellow": True, "bold": True}))
        if report.get("shard"):
            shard = report["shard"]
            text = f"{shard['label']}: a partial report, its verdicts pending; its score and badges (labelled '{shard['label']}') are not the model's: merge the shards (--mlguard-merge)"
            lines.append((text, {"yellow": True, "bold": True}))
        for entry in report.get("errors", []):
            reason = entry["reason"].splitlines()[0] if entry["reason"] else ""
            reason = reason if len(reason) <= 120 else reason[:117] + "..."
            if entry["kind"] == CONTRACT_ERROR:  # printed whole above, once: the run stopped there
                reason = "the declaration breaks the model contract (the error above); the run stopped"
            lines.append((f"{entry['model'] + '::' if entry['model'] else ''}{entry['id']} ERROR ({entry['kind']}): {reason}", {"red": True}))
        return lines


def _stopped_by(exitstatus: int, shouldstop: str | bool, signal: str | None, usage_error: str | None) -> str | None:
    """What stopped the run before its end (``None``: it ran to the end). pytest's exit status is
    INTERRUPTED for a ``session.shouldstop`` too, such as the one a contract error sets: only without
    one is it a Ctrl-C."""
    if signal is not None:
        return signal
    if shouldstop and usage_error is not None:
        return STOPPED_BY_CONTRACT + usage_error.splitlines()[0]
    if shouldstop:
        return str(shouldstop) if isinstance(shouldstop, str) else "stopped early"
    return "KeyboardInterrupt (Ctrl-C)" if exitstatus == pytest.ExitCode.INTERRUPTED else None


def _partial_line(selection: Mapping[str, Any]) -> str:
    """``partial run: 2 of 5 checks selected (-k 'attack'); ...``."""
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
    return f"partial run: {selected}; the score and the badges (labelled 'partial') cover only these"
