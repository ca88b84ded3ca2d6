"""The ImageNet-C metrics over corruption check results: curves, mean corruption accuracy, relative
robustness, Corruption Error (CE) and mean CE normalised by a baseline model.

Hendrycks and Dietterich (ICLR 2019) define, for a model ``f`` with top-1 error ``E[f]_{s,c}`` under
corruption ``c`` at severity ``s`` and a baseline model ``b`` (AlexNet in the paper; here the model of
a previous report, the last release say)::

    CE_c = sum_s E[f]_{s,c} / sum_s E[b]_{s,c}
    relative CE_c = sum_s (E[f]_{s,c} - E[f]_clean) / sum_s (E[b]_{s,c} - E[b]_clean)

and mCE, relative mCE, their means over corruptions. A CE below 1 means more robust than the
baseline. Everything here is plain Python over the report's JSON check objects.

Example:
    >>> corruption_error([0.2, 0.4], [0.4, 0.8])
    0.5
    >>> relative_corruption_error([0.2, 0.4], 0.1, [0.4, 0.8], 0.1)
    0.4
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._registry import GROUPS, REGISTRY


#: the metrics of the tasks whose summary carries mPC and rPC (Michaelis et al. 2019): a segmentation model's
#: mIoU and a detector's COCO mAP, in the ``accuracy`` fields of the summary as a classifier's accuracy is
TASK_METRICS = {"miou": "mIoU", "map": "mAP"}


def mean(values: Iterable[float]) -> float | None:
    """The mean, or ``None`` of nothing."""
    values = list(values)
    return sum(values) / len(values) if values else None


def corruption_error(errors: Sequence[float], baseline_errors: Sequence[float]) -> float | None:
    """``sum(errors) / sum(baseline_errors)`` over the same severities (``None`` if the baseline never errs)."""
    if len(errors) != len(baseline_errors) or not errors:
        raise ValueError(f"expected errors and baseline errors at the same severities, got {errors!r} and {baseline_errors!r}")
    total = sum(baseline_errors)
    return sum(errors) / total if total > 0 else None


def relative_corruption_error(
    errors: Sequence[float], clean_error: float, baseline_errors: Sequence[float], baseline_clean_error: float
) -> float | None:
    """``sum(errors - clean_error) / sum(baseline_errors - baseline_clean_error)`` (``None`` if the
    baseline loses nothing to the corruption)."""
    if len(errors) != len(baseline_errors) or not errors:
        raise ValueError(f"expected errors and baseline errors at the same severities, got {errors!r} and {baseline_errors!r}")
    total = sum(e - baseline_clean_error for e in baseline_errors)
    return sum(e - clean_error for e in errors) / total if total > 0 else None


def _table(checks: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{model: {"clean": accuracy, "cells": {(corruption, severity): check}}}`` of measured checks."""
    models: dict[str, dict[str, Any]] = {}
    for check in checks:
        details = check.get("details") or {}
        if check.get("family") != "corruption" or check.get("value") is None or "corruption" not in details:
            continue
        entry = models.setdefault(check["model"], {"clean": None, "cells": {}})
        entry["cells"][(details["corruption"], int(details["severity"]))] = check
        if details.get("clean_accuracy") is not None:
            entry["clean"] = float(details["clean_accuracy"])
    return models


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def load_baseline(path: Path, where: str = "corruption.baseline") -> list[dict[str, Any]]:
    """The check objects of a previous ``report.json`` (``ConfigError`` if it cannot be read)."""
    try:
        report = json.loads(Path(path).read_text())
        checks = report["checks"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"invalid value {str(path)!r} for 'corruption.baseline' in {where}: expected a report.json written by "
            f"pytest --mlguard ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(checks, list):
        raise ConfigError(f"invalid value {str(path)!r} for 'corruption.baseline' in {where}: its 'checks' is not a list")
    return checks


def _baseline_model(model: str, baseline: Mapping[str, dict[str, Any]]) -> str | None:
    """The baseline's model of the same name, else its only model with corruption results."""
    if model in baseline:
        return model
    return next(iter(baseline)) if len(baseline) == 1 else None


def summarize(
    checks: Iterable[Mapping[str, Any]], baseline: Iterable[Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """The corruption summary of each model, JSON-safe, for the report (see docs/corruptions.md).

    Args:
        checks: report check objects; those of the corruption family with a value are used.
        baseline: the check objects of a previous report; its errors normalise the CE and mCE.

    Returns:
        ``{model: summary}``; a summary holds ``clean_accuracy``, ``mean_corruption_accuracy``,
        ``relative_robustness``, accuracy and ECE against severity per corruption (``curves``) and
        per group (``groups``), per-corruption means, and with a baseline ``ce``, ``relative_ce``,
        ``mce`` and ``relative_mce``.
    """
    table = _table(checks)
    base_table = _table(baseline) if baseline is not None else {}
    summaries: dict[str, dict[str, Any]] = {}
    for model, entry in sorted(table.items()):
        cells, clean = entry["cells"], entry["clean"]
        order = [name for name in REGISTRY if any(c == name for c, _ in cells)]
        curves: dict[str, Any] = {}
        corruptions: dict[str, Any] = {}
        for name in order:
            severities = sorted(s for c, s in cells if c == name)
            accuracy = [float(cells[(name, s)]["value"]) for s in severities]
            curves[name] = {
                "group": REGISTRY[name].group,
                "severity": severities,
                "accuracy": [_round(a) for a in accuracy],
                "ece": [_round(cells[(name, s)]["details"].get("ece")) for s in severities],
                "mean_abs_change": [_round(cells[(name, s)]["details"].get("mean_abs_change")) for s in severities],
            }
            corruptions[name] = {
                "mean_accuracy": _round(mean(accuracy)),
                "relative_robustness": _round(mean(accuracy) / clean) if clean else None,
                "non_increasing": all(b <= a + 1e-12 for a, b in itertools.pairwise(accuracy)),
            }
        groups = _groups(cells, order)
        all_accuracy = mean(float(check["value"]) for check in cells.values())
        summary: dict[str, Any] = {
            "clean_accuracy": _round(clean),
            "checks": len(cells),
            "mean_corruption_accuracy": _round(all_accuracy),
            "relative_robustness": _round(all_accuracy / clean) if clean and all_accuracy is not None else None,
            "curves": curves,
            "groups": groups,
            "corruptions": corruptions,
        }
        metric = next((m for m in ((check.get("details") or {}).get("metric") for check in cells.values()) if m in TASK_METRICS), None)
        if metric is not None:
            # a segmentation model's or a detector's: mPC and rPC of Michaelis et al. (2019) over its mIoU or mAP
            summary.update(metric=metric, mPC=summary["mean_corruption_accuracy"], rPC=summary["relative_robustness"])
        if baseline is not None:
            summary.update(_against_baseline(model, entry, base_table, corruptions))
        summaries[model] = summary
    return summaries


def _groups(cells: Mapping[tuple[str, int], Mapping[str, Any]], order: list[str]) -> dict[str, Any]:
    """Accuracy against severity of each group of corruptions: the mean over its members measured."""
    groups: dict[str, Any] = {}
    for group in GROUPS:
        members = [name for name in order if REGISTRY[name].group == group]
        severities = sorted({s for c, s in cells if c in members})
        if members:
            groups[group] = {
                "corruptions": members,
                "severity": severities,
                "accuracy": [_round(mean(float(cells[(c, s)]["value"]) for c in members if (c, s) in cells)) for s in severities],
            }
    return groups


def _against_baseline(
    model: str, entry: Mapping[str, Any], base_table: Mapping[str, dict[str, Any]], corruptions: dict[str, Any]
) -> dict[str, Any]:
    """CE and relative CE of each corruption against the baseline, and their means."""
    base_model = _baseline_model(model, base_table)
    if base_model is None:
        return {"baseline": {"model": None, "note": f"the baseline report has no corruption results of model {model!r}"}}
    base = base_table[base_model]
    cells, clean = entry["cells"], entry["clean"]
    ces: list[float] = []
    relative: list[float] = []
    for name, row in corruptions.items():
        severities = sorted(s for c, s in cells if c == name and (c, s) in base["cells"])
        if not severities:
            row["ce"] = row["relative_ce"] = None
            continue
        errors = [1.0 - float(cells[(name, s)]["value"]) for s in severities]
        base_errors = [1.0 - float(base["cells"][(name, s)]["value"]) for s in severities]
        row["ce"] = _round(corruption_error(errors, base_errors))
        row["relative_ce"] = None
        if clean is not None and base["clean"] is not None:
            row["relative_ce"] = _round(relative_corruption_error(errors, 1.0 - clean, base_errors, 1.0 - base["clean"]))
        row["ce_severities"] = severities
        if row["ce"] is not None:
            ces.append(row["ce"])
        if row["relative_ce"] is not None:
            relative.append(row["relative_ce"])
    return {
        "baseline": {"model": base_model, "clean_accuracy": _round(base["clean"])},
        "mce": _round(mean(ces)),
        "relative_mce": _round(mean(relative)),
        "mce_corruptions": [name for name, row in corruptions.items() if row.get("ce") is not None],
    }
