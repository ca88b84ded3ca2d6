"""Calibration under shift: ECE against corruption severity and attack epsilon, from the report.

The corruption and attack checks put the ECE of the model on their corrupted or adversarial set in
their details (``details["ece"]`` of corruption checks, ``details["ece_adversarial"]`` or
``details["ece"]`` of attack checks, computed with
:func:`~pytest_mlguard.calibration.metrics.expected_calibration_error`), next to
``corruption``/``severity`` or ``attack``/``norm``/``eps``. :func:`ece_curves` gathers those into
curves a report can plot, so that it shows how confidence degrades, not only accuracy.

Example:
    >>> checks = [
    ...     {"model": "m", "family": "corruption", "value": 0.8, "details": {"corruption": "fog", "severity": 3, "ece": 0.09}},
    ...     {"model": "m", "family": "corruption", "value": 0.9, "details": {"corruption": "fog", "severity": 1, "ece": 0.04}},
    ...     {"model": "m", "family": "calibration", "id": "calibration[ece]", "value": 0.02, "details": {}},
    ... ]
    >>> ece_curves(checks)["m"]["corruption"]["fog"]
    {'severity': [1, 3], 'ece': [0.04, 0.09], 'accuracy': [0.9, 0.8]}
    >>> ece_curves(checks)["m"]["clean_ece"]
    0.02
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ece_curves"]


def _add(curves: dict[str, dict[str, list[Any]]], name: str, axis: str, x: Any, ece: Any, value: Any, metric: str) -> None:
    curve = curves.setdefault(name, {axis: [], "ece": [], metric: []})
    curve[axis].append(x)
    curve["ece"].append(ece)
    curve[metric].append(value)


def _sorted(curve: dict[str, list[Any]], axis: str) -> dict[str, list[Any]]:
    order = sorted(range(len(curve[axis])), key=lambda i: curve[axis][i])
    return {name: [values[i] for i in order] for name, values in curve.items()}


def ece_curves(checks: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """ECE against severity per corruption and against epsilon per attack, by model.

    Args:
        checks: result dicts, such as ``report["checks"]`` (``CheckResult.to_dict()``); checks
            without an ECE in their details are left out.

    Returns:
        ``{model: {"clean_ece": float | None, "corruption": {name: {"severity": [...], "ece": [...],
        "accuracy": [...]}}, "attack": {"<attack>-<norm>": {"eps": [...], "ece": [...],
        "robust_accuracy": [...]}}}}``, each curve sorted by its x axis. ``clean_ece`` is the value
        of the model's ``calibration[ece]`` check, where it ran.
    """
    by_model: dict[str, dict[str, Any]] = {}
    for check in checks:
        model = by_model.setdefault(check["model"], {"clean_ece": None, "corruption": {}, "attack": {}})
        details = check.get("details") or {}
        if check["family"] == "calibration" and check.get("id") == "calibration[ece]":
            model["clean_ece"] = check["value"]
        ece = details.get("ece_adversarial", details.get("ece")) if check["family"] == "attack" else details.get("ece")
        if ece is None:
            continue
        if check["family"] == "corruption" and "corruption" in details and "severity" in details:
            _add(model["corruption"], details["corruption"], "severity", details["severity"], ece, check["value"], "accuracy")
        elif check["family"] == "attack" and "attack" in details and "eps" in details:
            name = f"{details['attack']}-{details['norm']}" if details.get("norm") else str(details["attack"])
            _add(model["attack"], name, "eps", details["eps"], ece, check["value"], "robust_accuracy")
    for model in by_model.values():
        model["corruption"] = {name: _sorted(c, "severity") for name, c in sorted(model["corruption"].items())}
        model["attack"] = {name: _sorted(c, "eps") for name, c in sorted(model["attack"].items())}
    return by_model
