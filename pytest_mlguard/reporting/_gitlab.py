"""GitLab CI: the JUnit XML report already works there (``artifacts:reports:junit``, docs/ci.md); on
GitLab (``GITLAB_CI=true``) the run also writes ``gl-code-quality-report.json`` beside report.json, a
Code Quality report (``artifacts:reports:codequality``) with one issue per check that did not pass, at
the conftest.py that declares the model, so that a merge request's widget lists them.

Example:
    >>> check = {"id": "accuracy", "model": "m", "metric": "accuracy", "value": 0.8, "floor": 0.9, "n": 10, "passed": False, "verdict": "failed"}
    >>> [issue["severity"] for issue in code_quality({"checks": [check]}, lambda nodeid: ("conftest.py", 7))]
    ['major']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._github import Locate, check_text, declaration

#: the file name GitLab's documentation uses for the report
CODE_QUALITY_FILE = "gl-code-quality-report.json"
_SEVERITY = {"failed": "major", "inconclusive": "minor", "error": "critical"}


def _issue(model: str, check: str, label: str, text: str, where: tuple[str, int | None] | None) -> dict[str, Any]:
    path, line = where if where is not None else ("", None)
    return {
        "description": f"mlguard {model}::{check} {label}: {text}",
        "check_name": f"mlguard/{check}",
        "fingerprint": hashlib.sha256(f"{path}\0{model}\0{check}".encode()).hexdigest()[:32],
        "severity": _SEVERITY[label],
        "location": {"path": path, "lines": {"begin": line or 1}},
    }


def code_quality(report: Mapping[str, Any], locate: Locate) -> list[dict[str, Any]]:
    """The Code Quality issues of a report: one per failed (``major``), inconclusive (``minor``) and
    unmeasured (``critical``) check."""
    issues = []
    for check in report.get("checks", []):
        label = str(check.get("verdict") or ("passed" if check["passed"] else "failed"))
        if label in _SEVERITY:
            issues.append(_issue(check["model"], check["id"], label, check_text(check), locate(str(check.get("nodeid", "")))))
    for entry in report.get("errors", []):
        issues.append(_issue(entry.get("model", ""), entry["id"], "error", str(entry["reason"])[:500], locate(str(entry.get("nodeid", "")))))
    return issues


def gitlab_outputs(report: Mapping[str, Any], environ: Mapping[str, str], root: Path, output: Path) -> Path | None:
    """On GitLab CI, write :data:`CODE_QUALITY_FILE` into ``output``, paths relative to ``CI_PROJECT_DIR``."""
    if environ.get("GITLAB_CI") != "true":
        return None
    workspace = Path(environ["CI_PROJECT_DIR"]) if environ.get("CI_PROJECT_DIR") else None
    issues = code_quality(report, lambda nodeid: declaration(nodeid, root, workspace))
    path = Path(output) / CODE_QUALITY_FILE
    path.write_text(json.dumps(issues, indent=2) + "\n", encoding="utf-8")
    return path
