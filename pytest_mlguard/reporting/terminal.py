"""The terminal summary printed after the test results."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["summary_lines"]


def summary_lines(
    report: Mapping[str, Any] | None, written: Mapping[str, Path], *, verbosity: int = 0
) -> Iterator[tuple[str, dict[str, bool]]]:
    """One line per check (value, threshold, verdict, n), then the score and where the files went."""
    if report is None:
        return
    checks = report["checks"]
    width = max((len(c["model"]) + len(c["id"]) + 2 for c in checks), default=20)
    for check in checks:
        kind = "floor" if "floor" in check else "ceiling"
        value = "nan" if check["value"] is None else f"{check['value']:.4f}"
        op = (">=" if kind == "floor" else "<=") if check["passed"] else ("<" if kind == "floor" else ">")
        verdict = "PASSED" if check["passed"] else "FAILED"
        name = f"{check['model']}::{check['id']}"
        yield (
            f"{name:<{width}} {check['metric']} {value} {op} {kind} {check[kind]:.4f}  n={check['n']:<5} {verdict}",
            {"green": check["passed"], "red": not check["passed"]},
        )
    for model, entry in report["score_components"].items():
        components = ", ".join(f"{family} {value:.3f}" for family, value in entry["components"].items())
        yield f"robustness score of {model}: {entry['score']:.1f}/100 ({components})", {"bold": True}
    if len(report["score_components"]) > 1:
        yield f"robustness score: {report['score']:.1f}/100 (mean over models)", {"bold": True}
    if report.get("comparison"):
        from ..baseline.compare import comparison_lines

        yield from comparison_lines(report["comparison"])
    if written:
        shown = ", ".join(f"{name} {os.path.relpath(written[name])}" for name in ("report", "badge") if name in written)
        yield f"written: {shown}", {}
        if "html" in written:
            yield f"plots and failing examples: {os.path.relpath(written['html'])}", {}
        if "baseline" in written:
            yield f"baseline saved: {os.path.relpath(written['baseline'])}", {}
