"""The terminal summary printed after the test results."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._order import custom_test


def slowest_lines(checks: Sequence[Mapping[str, Any]], count: int) -> Iterator[str]:
    """The ``count`` slowest checks, slowest first, with their seconds and model evaluations (what a
    check costs, to scale it to another model or machine), like pytest's ``--durations``.

    Example:
        >>> list(slowest_lines([{"model": "m", "id": "accuracy", "duration_s": 0.25, "evaluations": 360}], 5))
        ['slowest check (--mlguard-durations N to list more or fewer):', '    0.25 s        360 evaluations  m::accuracy']
    """
    timed = [c for c in checks if isinstance(c.get("duration_s"), (int, float))]
    slowest = sorted(timed, key=lambda c: -c["duration_s"])[:count]
    if not slowest:
        return
    yield f"slowest {f'{len(slowest)} checks' if len(slowest) > 1 else 'check'} (--mlguard-durations N to list more or fewer):"
    for check in slowest:
        evaluations = f"{check['evaluations']} evaluations" if check.get("evaluations") else ""
        name = f"{check['model']}::{check['id']}"
        test = custom_test(check)
        notes = (" (cached)" if isinstance(check.get("details"), Mapping) and check["details"].get("cached") else "") + (f"  ({test})" if test else "")
        yield f"{check['duration_s']:8.2f} s  {evaluations:>21}  {name}{notes}"


def _inconclusive_lines(checks: list[Mapping[str, Any]]) -> Iterator[tuple[str, dict[str, bool]]]:
    """A line that counts the checks whose interval did not decide, how the policy counted them, and
    each with the n that would decide it: a green run that rests on them says so."""
    undecided = [c for c in checks if c.get("verdict") == "inconclusive"]
    if not undecided:
        return
    by_policy = sorted({f"{'passed' if c['passed'] else 'failed'} by policy {c.get('policy', 'estimate')}" for c in undecided})
    yield (
        f"{len(undecided)} of {len(checks)} check{'' if len(checks) == 1 else 's'} inconclusive ({', '.join(by_policy)}): "
        f"the samples did not decide {'it' if len(undecided) == 1 else 'them'}",
        {"bold": True, "yellow": True},
    )
    for check in undecided:
        yield f"  inconclusive {check['model']}::{check['id']}: n={check['n']}{_needed(check)}", {}


def _needed(check: Mapping[str, Any]) -> str:
    """``, n=767 would decide``; ``, no sample size would decide`` where the estimate sits where no n
    decides (a one-sample interval); nothing where the n is not known (a paired comparison whose
    family could not compute it: saying that no n decides would be false)."""
    if check.get("required_n"):
        return f", n={check['required_n']} would decide"
    interval = check.get("interval")
    method = interval.get("method") if isinstance(interval, Mapping) else None
    return "" if str(method).startswith("paired-") else ", no sample size would decide"


def _check_line(check: Mapping[str, Any], width: int) -> tuple[str, dict[str, bool]]:
    """``digits::accuracy  accuracy 0.9778 >= floor 0.5500  n=360  [0.951, 0.991] PASSED``, and its colours."""
    kind = "floor" if "floor" in check else "ceiling"
    nothing = check.get("details", {}).get("shard_measured_nothing") if isinstance(check.get("details"), Mapping) else None
    if nothing:  # a shard that holds none of the check's samples or chunks
        name = f"{check['model']}::{check['id']}"
        return f"{name:<{width}} {check['metric']}: none of its samples or chunks on shard {nothing}, measured nothing  n=0    PENDING (the merge decides from the other shards)", {}
    value = "nan" if check["value"] is None else f"{check['value']:.4f}"
    if check["value"] is None:
        op = "<" if kind == "floor" else ">"
    else:
        op = (">=" if check["value"] >= check[kind] else "<") if kind == "floor" else ("<=" if check["value"] <= check[kind] else ">")
    interval = check.get("interval")
    shown = f"[{interval['low']:.3f}, {interval['high']:.3f}] " if interval else ""
    label = check.get("verdict") or ("passed" if check["passed"] else "failed")
    verdict = "PASSED" if check["passed"] else "FAILED"
    if label == "pending":  # a shard's share of the check: the merge decides
        verdict = "PENDING (the merge decides)"
    if label == "inconclusive":
        verdict = f"INCONCLUSIVE ({verdict.lower()} by policy {check.get('policy', 'estimate')}"
        verdict += f"; n={check['required_n']} would decide)" if check.get("required_n") else ")"
    saved = check.get("evaluations_saved")
    n = f"n={check['n']}" + (f" ({saved} evaluations saved)" if saved else "")
    if isinstance(check.get("details"), Mapping) and check["details"].get("cached"):
        verdict += " (cached)"
    test = custom_test(check)
    if test:
        verdict += f"  ({test})"
    name = f"{check['model']}::{check['id']}"
    return (
        f"{name:<{width}} {check['metric']} {value} {op} {kind} {check[kind]:.4f}  {n:<6} {shown}{verdict}",
        {"green": check["passed"] and label not in ("inconclusive", "pending"), "yellow": label == "inconclusive", "red": not check["passed"]},
    )


def _budget_lines(budget: Mapping[str, Any] | None) -> Iterator[tuple[str, dict[str, bool]]]:
    """What ``--mlguard-budget`` spent, shortened and cut (the report's ``budget``), if there was one."""
    if not budget:
        return
    yield (
        f"budget {budget['seconds']:g} s: {budget['spent_s']:.1f} s spent before the reports; "
        f"{len(budget['shortened'])} check{'' if len(budget['shortened']) == 1 else 's'} shortened, {len(budget['cut'])} cut",
        {"bold": True, "yellow": bool(budget["cut"] or budget["shortened"])},
    )
    for entry in budget["shortened"]:
        if "planned_n" in entry:
            yield f"  shortened {entry['model']}::{entry['check']}: at most {entry['n']} of {entry['planned_n']} samples", {}
        else:
            yield f"  shortened {entry['model']}::{entry['check']}: searched {entry['seconds']:g} s of {entry['planned_seconds']:g}", {}
    for entry in budget["cut"]:
        yield f"  cut {entry['check']}: {entry['reason']}", {}


def summary_lines(
    report: Mapping[str, Any] | None, written: Mapping[str, Path], *, verbosity: int = 0, slowest: int = 0
) -> Iterator[tuple[str, dict[str, bool]]]:
    """One line per check (value with its interval, threshold, n, verdict), the ``slowest`` slowest
    checks, then the score and where the files went. An inconclusive check says how its policy
    counted it and the n that would decide it."""
    if report is None:
        return
    checks = report["checks"]
    width = max((len(c["model"]) + len(c["id"]) + 2 for c in checks), default=20)
    for check in checks:
        yield _check_line(check, width)
    for line in slowest_lines(checks, slowest):
        yield line, {}
    yield from _inconclusive_lines(checks)
    for model, entry in report["score_components"].items():
        components = ", ".join(f"{family} {value:.3f}" for family, value in entry["components"].items())
        yield f"robustness score of {model}: {entry['score']:.1f}/100 ({components})", {"bold": True}
    if len(report["score_components"]) > 1:
        yield f"robustness score: {report['score']:.1f}/100 (mean over models)", {"bold": True}
    yield from _budget_lines(report.get("budget"))
    if report.get("comparison"):
        from .._baseline.compare import comparison_lines

        yield from comparison_lines(report["comparison"])
    if written:
        shown = ", ".join(f"{name} {os.path.relpath(written[name])}" for name in ("report", "badge") if name in written)
        yield f"written: {shown}", {}
        if "html" in written:
            yield f"plots and failing examples: {os.path.relpath(written['html'])}", {}
        if "baseline" in written:
            yield f"baseline saved: {os.path.relpath(written['baseline'])}", {}
