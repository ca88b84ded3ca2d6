"""Error control across the checks of a run: what the report says of it.

Every check's interval is drawn at its Bonferroni share of the run's confidence,
``1 - (1 - confidence) / m`` with m the checks the suite plans for a model (see
:class:`~pytest_mlguard.checks._base.VerdictRules`), so the levels are fixed before any check runs:
each item's outcome is final when pytest reports it, also on an xdist worker that does not see the
others. At the end of the run, :func:`error_control` adds up what that guarantees for the labels
the run actually gave.

Example:
    >>> check = {"model": "m", "verdict": "failed", "details": {}, "error_control": {
    ...     "procedure": "bonferroni", "checks": 2, "confidence": 0.95, "check_confidence": 0.975}}
    >>> error_control([check, {**check, "verdict": "passed"}])["models"]["m"]["wrong_fail_bound"]
    0.025
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def error_control(checks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The report's ``error_control`` object: per model, the procedure, the checks it was shared among
    (``checks``, planned; ``measured``), the run's and each check's confidence, the counts of labels,
    and the bounds the procedure gives on the probability that the run carries at least one wrong
    ``failed`` label (``wrong_fail_bound``) or any wrong decided label (``wrong_verdict_bound``).

    A check's interval misses on either side with probability ``(1 - check_confidence) / 2`` at most;
    a check that stops early looks twice (its confidence sequence, then the fixed-n interval of its
    last sample), and so does one that may draw more samples (its fixed-n interval, then the
    confidence sequence): by a union bound it gives a wrong label with probability at most twice
    ``1 - check_confidence``, and a wrong ``failed`` one at most three halves of it (the sequence
    may miss on one side with all of its ``1 - check_confidence``). Checks without a recorded procedure (results of
    older versions) are counted in ``labels`` only.
    """
    models: dict[str, dict[str, Any]] = {}
    for check in checks:
        entry = models.setdefault(
            check["model"],
            {"procedure": None, "checks": 0, "measured": 0, "confidence": None, "check_confidence": None,
             "labels": {"passed": 0, "failed": 0, "inconclusive": 0}, "wrong_fail_bound": 0.0, "wrong_verdict_bound": 0.0},
        )
        label = check.get("verdict") or ("passed" if check.get("passed") else "failed")
        entry["labels"][label] = entry["labels"].get(label, 0) + 1
        rules = check.get("error_control")
        if not rules:
            continue
        entry["measured"] += 1
        entry["procedure"] = rules["procedure"]
        entry["checks"] = max(entry["checks"], int(rules["checks"]))
        entry["confidence"] = rules["confidence"]
        entry["check_confidence"] = min(rules["check_confidence"], entry["check_confidence"] or 1.0)
        details = check.get("details") or {}
        sequential = details.get("early_stop", {}).get("mode") == "sequential" or details.get("more_samples", {}).get("available")
        side = (1 - rules["check_confidence"]) / 2
        # a confidence sequence's guarantee (Ville's inequality) covers both of its sides together
        entry["wrong_fail_bound"] += 3 * side if sequential else side
        entry["wrong_verdict_bound"] += 4 * side if sequential else 2 * side
    for entry in models.values():
        entry["wrong_fail_bound"] = round(min(1.0, entry["wrong_fail_bound"]), 6)
        entry["wrong_verdict_bound"] = round(min(1.0, entry["wrong_verdict_bound"]), 6)
    procedures = sorted({str(entry["procedure"]) for entry in models.values() if entry["procedure"]})
    return {"procedure": procedures[0] if len(procedures) == 1 else procedures or None, "models": models}
