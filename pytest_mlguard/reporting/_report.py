"""The JSON report and the files written at the end of a run.

Schema ``pytest-mlguard/report/1`` (documented in docs/report-schema.md): ``schema``, ``version``,
``interrupted``, ``partial``, ``seed``, ``samples``, ``score``, ``score_components``, ``models``,
``checks`` (each with ``id``, ``model``, ``family``, ``metric``, ``value``, ``floor`` or ``ceiling``,
``threshold``, ``n``, ``passed``, ``seed``, ``duration_s``, ``details``), ``skipped``, ``errors``
and ``summary``. The output directory is replaced as a whole, and report.json is strict JSON.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config.parse import parse_bool, parse_int
from ..config._settings import Key
from .._verdicts.suite import error_control
from ._atomic import replace_directory, write_files
from ._order import sort_key
from ._score import robustness_score
from ._strict_json import finite_copy


REPORT_KEYS: tuple[Key, ...] = (
    Key("report.html", parse_bool, True, "write report.html (plots and failing examples) beside report.json"),
    Key("report.examples", parse_int(0, 100), 6, "thumbnails of failing examples shown per failing check in report.html"),
    Key(
        "report.durations",
        parse_int(0, 10000),
        5,
        "slowest checks listed at the end of a run, with their seconds and model evaluations; 0 lists none",
        cli="--mlguard-durations",
        metavar="N",
    ),
    Key(
        "report.github",
        parse_bool,
        True,
        "on GitHub Actions, append a job summary to $GITHUB_STEP_SUMMARY and print an ::error or ::warning annotation "
        "per failed or inconclusive check (GITHUB_ACTIONS=true); false writes neither",
    ),
    Key(
        "report.gitlab",
        parse_bool,
        True,
        "on GitLab CI (GITLAB_CI=true), write gl-code-quality-report.json beside report.json: a Code Quality report with "
        "an issue per failed, inconclusive or unmeasured check",
    ),
    Key(
        "report.mlflow",
        parse_bool,
        False,
        "log every check's value, interval and verdict as metrics and tags of the active MLflow run (a new one if none is), "
        "and report.json and report.html as its artifacts; needs pip install 'pytest-mlguard[mlflow]'",
        cli="--mlguard-mlflow",
    ),
)

SCHEMA = "pytest-mlguard/report/1"


def build_report(
    checks: Iterable[Mapping[str, Any]],
    *,
    seed: int,
    samples: int | None,
    models: Mapping[str, Any],
    weights: Mapping[str, float] | None = None,
    skipped: Iterable[Mapping[str, Any]] = (),
    errors: Iterable[Mapping[str, Any]] = (),
    interrupted: str | None = None,
    selection: Mapping[str, Any] | None = None,
    shard: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The report of a run (docs/report-schema.md).

    Args:
        checks: the measured checks (:meth:`CheckResult.to_dict`).
        skipped: the checks that did not run: ``id``, ``model``, ``nodeid``, ``kind`` (``cut``,
            ``skipped`` or ``not-applicable``) and ``reason``.
        errors: the checks that ended without a measurement (a crash, no answer in time): ``id``,
            ``model``, ``nodeid`` and ``reason``.
        interrupted: why the run stopped before its end (``"SIGTERM"``, ...), ``None`` if it did not.
        selection: what a run that left out checks of its suites (``-k``, ``-m``, node ids) selected; else ``None``.
        shard: ``(index, count)`` for a shard of ``--mlguard-shard``: the report is partial (its
            ``shard`` says why), its verdicts pending; ``None`` for any other run.
    """
    ordered = sorted((dict(c) for c in checks), key=sort_key)
    score = robustness_score(ordered, weights)
    passed = sum(c["passed"] for c in ordered)
    skipped = sorted((dict(s) for s in skipped), key=lambda s: (str(s.get("model", "")), str(s.get("nodeid", ""))))
    errors = sorted((dict(e) for e in errors), key=lambda e: (str(e.get("model", "")), str(e.get("nodeid", ""))))
    cut = sum(s.get("kind") == "cut" for s in skipped)
    return {
        "schema": SCHEMA,
        "version": __version__,
        "interrupted": interrupted is not None,
        **({"interrupted_by": interrupted} if interrupted is not None else {}),
        "partial": selection is not None or shard is not None,
        **({"selection": dict(selection)} if selection is not None else {}),
        **({"shard": shard_entry(*shard)} if shard is not None else {}),
        "seed": seed,
        "samples": samples,
        "score": score["score"],
        "score_components": score["models"],
        "models": dict(sorted(models.items())),
        "checks": ordered,
        "skipped": skipped,
        "errors": errors,
        "summary": {
            "total": len(ordered),
            "passed": passed,
            "failed": len(ordered) - passed,
            "inconclusive": sum(c.get("verdict") == "inconclusive" for c in ordered),
            "errors": len(errors),
            "skipped": len(skipped) - cut,
            "cut": cut,
        },
        "error_control": error_control(ordered),
        "environment": {"python": sys.version.split()[0], "platform": platform.platform()},
    }


def shard_entry(index: int, count: int) -> dict[str, Any]:
    """The report's ``shard`` of shard ``index`` of ``count``: which, and why its report is partial.

    Example:
        >>> shard_entry(3, 4)["label"]
        'shard 3/4'
    """
    return {
        "index": index,
        "count": count,
        "label": f"shard {index}/{count}",
        "reason": f"shard {index}/{count} of --mlguard-shard: its checks are measured on its share of the samples and pending, "
        "its score is not the model's; the merge of every shard (--mlguard-merge) makes the run's report",
    }


def write_outputs(
    report: Mapping[str, Any],
    directory: Path,
    *,
    html: bool = True,
    examples_per_check: int = 6,
    figures: Path | None = None,
    since: float | None = None,
) -> dict[str, Path]:
    """Replace ``directory`` with the run's files, as a whole (:func:`~.atomic.replace_directory`).

    ``report.json`` (strict JSON: a non-finite number is ``null``, and its place is listed under
    ``non_finite``); ``badge.svg`` and ``badge.json`` (the score, as SVG and as a shields.io endpoint);
    ``badge-<family>.svg`` and ``.json`` for each family's component; and, unless ``html`` is false,
    ``report.html`` (thumbnails of failing examples are read from ``directory/artifacts``; plots
    drawn before are read from ``figures``, the result cache's, if given).

    From the old directory, the artefacts of the report's checks (saved since ``since``, a
    ``time.time()``, if given) and whatever pytest-mlguard did not write (Hypothesis' example
    database, a JUnit XML file) are kept; every other file of an earlier run (a badge of a family
    that did not run this time, artefacts of checks that did not) is gone.

    Returns:
        The paths written, by name: ``report``, ``badge``, ``endpoint``, ``html`` and
        ``badge-<family>``/``endpoint-<family>``.
    """
    from ._badge import badge_files

    directory = Path(directory)
    strict, non_finite = finite_copy(report)
    if non_finite:
        strict["non_finite"] = non_finite
    text = json.dumps(strict, indent=2, sort_keys=False, allow_nan=False) + "\n"
    files: dict[str, tuple[str, bytes]] = {"report": ("report.json", text.encode())}
    for name, content in badge_files(report).items():
        stem, _, suffix = name.rpartition(".")
        key = stem.replace("badge", "badge" if suffix == "svg" else "endpoint", 1)
        files[key] = (name, content.encode())
    if html:
        files["html"] = ("report.html", _html_page(report, directory, examples_per_check, figures).encode())
    if _holds_work(directory):
        _write_in_place(directory, dict(files.values()))
    else:
        replace_directory(directory, dict(files.values()), carry=_carried(report, directory, {name for name, _ in files.values()}, since))
    return {key: directory / name for key, (name, _) in files.items()}


def _holds_work(directory: Path) -> bool:
    """Whether ``directory`` holds the current directory or a project (``output = "."``): it is then
    never replaced as a whole, only our files in it are."""
    directory = Path(os.path.realpath(directory))
    cwd = Path(os.path.realpath(os.getcwd()))
    return cwd == directory or directory in cwd.parents or any((directory / name).exists() for name in (".git", "pyproject.toml", "setup.cfg", "conftest.py"))


def _write_in_place(directory: Path, files: Mapping[str, bytes]) -> None:
    """Our files written into ``directory`` one by one (each whole), and our files of an earlier run
    that this one did not write (a family's badges) removed."""
    write_files({directory / name: content for name, content in files.items()})
    for entry in directory.iterdir():
        if entry.is_file() and _OURS.fullmatch(entry.name) and entry.name not in files:
            entry.unlink()


_OURS = re.compile(r"report\.(json|html)|badge(-.+)?\.(svg|json)|gl-code-quality-report\.json")


def _carried(report: Mapping[str, Any], directory: Path, written: set[str], since: float | None) -> list[str]:
    """What :func:`write_outputs` keeps of the old ``directory``: the artefacts of the report's checks
    (those saved since ``since``), and the entries pytest-mlguard does not write."""
    if not directory.is_dir():
        return []
    ours = re.compile(rf"{_OURS.pattern}|artifacts|\.(report|badge).*")  # and temporaries
    carried = [entry.name for entry in directory.iterdir() if not ours.fullmatch(entry.name) and entry.name not in written]
    from ._examples import artifact_dir_name

    for check in report.get("checks", []):
        folder = directory / "artifacts" / artifact_dir_name(check["model"], check["id"])
        if folder.is_dir():
            carried += [
                str(path.relative_to(directory))
                for path in sorted(folder.rglob("*"))
                if path.is_file() and (since is None or path.stat().st_mtime >= since)
            ]
    return carried


def _html_page(report: Mapping[str, Any], directory: Path, examples_per_check: int, figures: Path | None = None) -> str:
    """report.html, or a page that says why it could not be drawn (report.json is written either way)."""
    from ._html import render_html

    try:
        return render_html(report, directory, examples_per_check=examples_per_check, figures=figures)
    except Exception as exc:  # noqa: BLE001 - a plotting bug must not cost the user the JSON report
        import html
        import traceback

        detail = html.escape("".join(traceback.format_exception(exc)))
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>mlguard report: not drawn</title></head><body>"
            f"<h1>report.html could not be drawn</h1><p>report.json holds every result.</p><pre>{detail}</pre></body></html>"
        )
