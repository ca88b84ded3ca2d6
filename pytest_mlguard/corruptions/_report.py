"""The corruption family's pytest hooks: the corruption summary in the report and the terminal.

Registered by the plugin in ``pytest_configure``. On the controller, ``pytest_mlguard_report`` adds
``report["corruption"]``, ``{model: summary}`` from :func:`pytest_mlguard.corruptions._metrics.summarize`,
normalised by ``corruption.baseline`` when set; ``pytest_terminal_summary`` prints one line per
model and group. Imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from ..errors import ConfigError
from .._stash import session_of
from ._metrics import TASK_METRICS, load_baseline, summarize


def _baseline(config: pytest.Config) -> list[dict[str, Any]] | None:
    settings = session_of(config).settings
    path = settings.get("corruption.baseline")
    if path is None:
        return None
    return load_baseline(path, settings.source("corruption.baseline"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """A ``corruption.baseline`` that cannot be read stops the run before the suite, not after it."""
    mlguard = session_of(session.config)
    if mlguard.enabled and not mlguard.is_worker:
        try:
            _baseline(session.config)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None


def pytest_mlguard_report(config: pytest.Config, report: dict[str, Any]) -> None:
    checks = [check for check in report.get("checks", ()) if check.get("family") == "corruption"]
    if checks:
        report["corruption"] = summarize(checks, _baseline(config))


def summary_lines(summaries: Mapping[str, Mapping[str, Any]]) -> Iterator[str]:
    """One line per model (mean accuracy, relative robustness, mCE) and one per group (accuracy by severity).

    Example:
        >>> line = {"clean_accuracy": 0.9, "checks": 2, "mean_corruption_accuracy": 0.72, "relative_robustness": 0.8,
        ...         "groups": {"noise": {"severity": [1, 5], "accuracy": [0.8, 0.64]}}}
        >>> print("\\n".join(summary_lines({"m": line})))
        m: mean corruption accuracy 0.7200 over 2 checks (clean 0.9000, relative robustness 0.800)
          noise    severity 1: 0.800  5: 0.640
    """
    for model, summary in summaries.items():
        if summary.get("metric") in TASK_METRICS:  # a segmentation model's mIoU, a detector's mAP
            name = TASK_METRICS[summary["metric"]]
            rpc = "n/a" if summary.get("rPC") is None else f"{summary['rPC']:.3f}"
            yield (
                f"{model}: mPC {summary['mPC']:.4f} (mean {name} over {summary['checks']} corruption check{'' if summary['checks'] == 1 else 's'}), "
                f"rPC {rpc} (of the clean {name} {summary['clean_accuracy']:.4f})"
            )
            yield from _group_lines(summary)
            continue
        line = (
            f"{model}: mean corruption accuracy {summary['mean_corruption_accuracy']:.4f} over {summary['checks']} check{'' if summary['checks'] == 1 else 's'} "
            f"(clean {summary['clean_accuracy']:.4f}, relative robustness {summary['relative_robustness']:.3f})"
        )
        if summary.get("mce") is not None:
            line += f"; mCE {summary['mce']:.3f}, relative mCE {summary['relative_mce']:.3f} against {summary['baseline']['model']!r}"
        elif summary.get("baseline", {}).get("note"):
            line += f"; no mCE: {summary['baseline']['note']}"
        yield line
        yield from _group_lines(summary)


def _group_lines(summary: Mapping[str, Any]) -> Iterator[str]:
    for group, curve in summary["groups"].items():
        points = "  ".join(f"{s}: {a:.3f}" for s, a in zip(curve["severity"], curve["accuracy"]))
        yield f"  {group:<8} severity {points}"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    mlguard = session_of(terminalreporter.config)
    summaries = (mlguard.reporter.report or {}).get("corruption")
    if mlguard.is_worker or not summaries:
        return
    terminalreporter.write_sep("-", "mlguard corruption summary")
    for line in summary_lines(summaries):
        terminalreporter.write_line(line)
