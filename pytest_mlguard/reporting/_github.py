"""GitHub Actions: the job summary (Markdown appended to ``$GITHUB_STEP_SUMMARY``) and one workflow
command per check that did not pass (``::error`` for a failed check or one that ended without a
measurement, ``::warning`` for an inconclusive one), pointing at the conftest.py that declares the
model. Both are plain functions of the report; :func:`github_outputs` decides from the environment
whether the run is on GitHub (the ``report.github`` setting turns both off).

Example:
    >>> escape_property("conftest.py: 1,2"), escape_data("50%\\nnext")
    ('conftest.py%3A 1%2C2', '50%25%0Anext')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._order import custom_test

#: the node id of a check -> the command that reruns it alone
Rerun = Callable[[str], str]
#: the node id of a check -> (file, line or None) of the code that declares it, or None
Locate = Callable[[str], "tuple[str, int | None] | None"]


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's runner unescapes it (``%``, ``\\r``, ``\\n``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=``): as :func:`escape_data`, and ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _number(value: Any) -> str:
    return "nan" if value is None else f"{value:.4f}"


def _interval(check: Mapping[str, Any]) -> str:
    interval = check.get("interval")
    if not interval:
        return ""
    return f"{interval['confidence'] * 100:.4g}% {interval['method']} interval [{interval['low']:.4f}, {interval['high']:.4f}]"


def _threshold(check: Mapping[str, Any]) -> str:
    kind = "floor" if "floor" in check else "ceiling"
    spec = check.get("threshold")
    shown = f"{kind} {_number(check[kind])}"
    return shown + (f" ({spec})" if spec and spec != f"{check[kind]:g}" else "")


def _label(check: Mapping[str, Any]) -> str:
    return str(check.get("verdict") or ("passed" if check["passed"] else "failed"))


def check_text(check: Mapping[str, Any]) -> str:
    """``accuracy 0.9000, floor 0.9500; 95% wilson interval [0.8512, 0.9468]; n=120``."""
    parts = [f"{check['metric']} {_number(check['value'])}, {_threshold(check)}", _interval(check), f"n={check['n']}"]
    if _label(check) == "inconclusive":
        by = "passed" if check["passed"] else "failed"
        parts.append(f"inconclusive ({by} by policy {check.get('policy', 'estimate')})")
    return "; ".join(part for part in parts if part)


def annotation_lines(report: Mapping[str, Any], locate: Locate, rerun: Rerun) -> Iterator[str]:
    """One workflow command per check that did not pass, in the report's order: ``::error`` for a
    failed check (or one that ended without a measurement), ``::warning`` for an inconclusive one."""
    for check in report.get("checks", []):
        label = _label(check)
        if label in ("passed", "pending"):  # pending: a shard's share, which the merge decides and annotates
            continue
        level = "warning" if label == "inconclusive" else "error"
        message = f"{check_text(check)}\nrerun alone: {rerun(str(check.get('nodeid', '')))}"
        yield _command(level, f"mlguard {check['model']}::{check['id']} {label}", message, locate(str(check.get("nodeid", ""))))
    for entry in report.get("errors", []):
        title = f"mlguard {entry['model'] + '::' if entry.get('model') else ''}{entry['id']} error ({entry['kind']})"
        yield _command("error", title, str(entry["reason"]), locate(str(entry.get("nodeid", ""))))


def _command(level: str, title: str, message: str, where: tuple[str, int | None] | None) -> str:
    properties = []
    if where is not None:
        properties.append(f"file={escape_property(where[0])}")
        if where[1] is not None:
            properties.append(f"line={where[1]}")
    properties.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(properties)}::{escape_data(message)}"


def _cell(text: Any) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    return str(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def step_summary(report: Mapping[str, Any], rerun: Rerun) -> str:
    """The job summary of a run, in Markdown without links (it renders anywhere)."""
    summary = report["summary"]
    lines = [f"## pytest-mlguard: robustness score {report['score']:.1f} / 100", ""]
    counts = f"{summary['passed']} of {summary['total']} checks passed, {summary['failed']} failed; {summary['inconclusive']} inconclusive (counted by the policy)"
    lines += [f"{counts}; {summary['errors']} errors, {summary['skipped']} skipped, {summary['cut']} cut by the budget.", ""]
    if report.get("interrupted"):
        lines += [f"**Interrupted** ({report.get('interrupted_by')}): the report holds the checks measured before the run stopped.", ""]
    if report.get("shard"):
        lines += [f"**Partial run**: {report['shard']['reason']}.", ""]
    elif report.get("partial"):
        lines += ["**Partial run**: the score covers only the selected checks.", ""]
    pending = sum(_label(c) == "pending" for c in report.get("checks", []))
    if pending:  # a shard's: counted as passed above, as its items pass
        lines += [f"**A shard**: {pending} checks measured on its samples are pending (counted as passed): the merge decides them.", ""]
    lines += _family_table(report)
    failed = [c for c in report.get("checks", []) if not c["passed"]]
    undecided = [c for c in report.get("checks", []) if c["passed"] and _label(c) == "inconclusive"]
    lines += _checks_table("Failed checks", failed, rerun)
    lines += _checks_table("Inconclusive checks (passed by policy)", undecided, rerun)
    if report.get("errors"):
        lines += ["### Checks without a measurement", "", "| model | check | kind | reason |", "| --- | --- | --- | --- |"]
        lines += [f"| {_cell(e.get('model', ''))} | {_cell(e['id'])} | {_cell(e['kind'])} | {_cell(str(e['reason'])[:300])} |" for e in report["errors"]]
        lines.append("")
    return "\n".join(lines) + "\n"


def _family_table(report: Mapping[str, Any]) -> list[str]:
    lines = ["| model | family | score | checks | passed | failed | inconclusive |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    rows: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for check in report.get("checks", []):
        rows.setdefault((check["model"], check["family"]), []).append(check)
    for (model, family), checks in rows.items():
        component = report.get("score_components", {}).get(model, {}).get("components", {}).get(family)
        score = "" if component is None else f"{100 * component:.1f}"
        passed = sum(c["passed"] for c in checks)
        inconclusive = sum(_label(c) == "inconclusive" for c in checks)
        lines.append(f"| {_cell(model)} | {_cell(family)} | {score} | {len(checks)} | {passed} | {len(checks) - passed} | {inconclusive} |")
    return [*lines, ""]


def _checks_table(title: str, checks: Sequence[Mapping[str, Any]], rerun: Rerun) -> list[str]:
    if not checks:
        return []
    lines = [f"### {title}", "", "| model | check | value | threshold | interval | n |", "| --- | --- | ---: | --- | --- | ---: |"]
    for check in checks:
        name = check["id"] + (f" ({custom_test(check)})" if custom_test(check) else "")
        value = f"{check['metric']} {_number(check['value'])}"
        lines.append(f"| {_cell(check['model'])} | {_cell(name)} | {_cell(value)} | {_cell(_threshold(check))} | {_cell(_interval(check))} | {check['n']} |")
    commands = [rerun(str(check.get("nodeid", ""))) for check in checks]
    return [*lines, "", "Rerun each alone:", "", "```sh", *commands, "```", ""]


def declaration(nodeid: str, root: Path, workspace: Path | None) -> tuple[str, int | None] | None:
    """Where the check of ``nodeid`` is declared: the conftest.py's ``mlguard_model`` fixture for the
    built-in suite, the test function for a custom test; the file relative to ``workspace`` (GitHub's
    checkout) where it lies inside, else to ``root`` (pytest's rootdir). ``None`` without a node id."""
    path, sep, rest = nodeid.partition("::")
    if not path or not sep:
        return None
    file = root / path
    name = "mlguard_model" if file.name == "conftest.py" and rest.startswith("mlguard::") else rest.split("::")[-1].split("[")[0]
    line = None
    try:
        match = re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}\b", file.read_text(encoding="utf-8"), re.MULTILINE)
        line = None if match is None else match.string.count("\n", 0, match.start()) + 1
    except (OSError, UnicodeDecodeError):
        pass
    resolved = file.resolve()
    base = workspace.resolve() if workspace is not None and resolved.is_relative_to(workspace.resolve()) else root.resolve()
    return (resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else path), line


def github_outputs(report: Mapping[str, Any], environ: Mapping[str, str], root: Path, rerun: Rerun) -> list[str]:
    """Append the job summary to ``$GITHUB_STEP_SUMMARY`` where it is set, and return the workflow
    commands to print where ``GITHUB_ACTIONS`` is ``true`` (else none)."""
    summary_file = environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as stream:
            stream.write(step_summary(report, rerun))
    if environ.get("GITHUB_ACTIONS") != "true":
        return []
    workspace = Path(environ["GITHUB_WORKSPACE"]) if environ.get("GITHUB_WORKSPACE") else None
    return list(annotation_lines(report, lambda nodeid: declaration(nodeid, root, workspace), rerun))

