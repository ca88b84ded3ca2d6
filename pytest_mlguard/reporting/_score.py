"""The robustness score: 0 to 100, with every component visible.

For each model, each family present gets a component in [0, 1], the mean over its checks of:

* checks with a clean reference (corruption, attack): ``min(1, value / clean_accuracy)``, the
  relative robustness (0 when the clean accuracy is 0);
* checks of a metric in physical units (milliseconds, megabytes, samples per second: a value or a
  threshold above 1), relative to their threshold: ``min(1, value / floor)`` for a floor,
  ``min(1, ceiling / value)`` for a ceiling (1 when the value is 0), so a check that passes scores 1;
* minimal attacks (a median perturbation norm): ``min(1, value / floor)`` (1 for a floor of 0);
* confidence on garbage inputs: ``(1 - value) / (1 - chance)``, so a model that answers garbage at
  chance level scores 1;
* other ceiling checks (ECE): ``max(0, 1 - value)``;
* other floor checks (accuracy, graceful fraction): the value, clipped to [0, 1];
* a NaN or infinite measurement, or one relative to a NaN clean accuracy: 0.

A model's score is ``100 *`` the weighted mean of its components (weights from ``score.weights``,
1 by default); the run's score is the mean over models, rounded to one decimal. What a family declares
decides the rest (:class:`~pytest_mlguard.checks.Family`): the checks of a family that is not ``scored``
(the contract's: preconditions of the model as deployed rather than measures of robustness) count only
where ``score.weights`` gives them a weight, and those of a ``clean_reference`` family (accuracy) are the
clean accuracy the others are relative to. The families are the run's, registered by the registry (the
built-in ones when no run registered any); a family the run does not know is scored, as no reference.

Example:
    >>> results = [{"model": "m", "family": "accuracy", "metric": "accuracy", "value": 0.9, "floor": 0.5, "details": {}}]
    >>> robustness_score(results)["score"]
    90.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..config.parse import invalid, parse_number, parse_table
from ..config._settings import Key

if TYPE_CHECKING:
    from ..checks._family import Family


def score_keys(families: Sequence[str], unscored: Sequence[str] = ()) -> tuple[Key, ...]:
    """The ``score.*`` keys; ``score.weights`` names ``families``, of which ``unscored`` count only when
    named (the registry's, passed in so that this module imports no family).

    Example:
        >>> score_keys(["accuracy", "attack"])[0].parse({"attack": 2}, "score.weights", "pyproject.toml")
        {'attack': 2.0}
    """
    names = tuple(families)
    named = f"; {' and '.join(unscored)} count{'s' if len(unscored) == 1 else ''} only when named here" if unscored else ""

    def family_name(name: str, key: str, where: str) -> str:
        if name not in names:
            raise invalid(name, key, where, f"a family name, one of {', '.join(names)}")
        return name

    return (
        Key(
            "score.weights",
            parse_table(parse_number(0.0, 1000.0), name=family_name),
            {},
            f"weight of each family in the score (default 1 each{named}), such as {{attack = 2}}",
            table=True,
        ),
    )


def run_families() -> dict[str, Family]:
    """The run's families by name (:func:`~pytest_mlguard.checks._builtin.run_families`: the built-in
    ones until the registry registers the run's)."""
    from ..checks._builtin import run_families as registered

    return {family.name: family for family in registered()}


def check_goodness(result: Mapping[str, Any], families: Mapping[str, Family] | None = None) -> float:
    """One check's contribution to its family's component, in [0, 1]; ``families``: those
    :func:`run_families` gives, by default."""
    if result["value"] is None or not math.isfinite(float(result["value"])):  # NaN or inf in the measurement
        return 0.0
    value = float(result["value"])
    clean = result.get("details", {}).get("clean_accuracy")
    if clean is not None and not math.isfinite(float(clean)):  # nothing to be relative to
        return 0.0
    threshold = float(result["ceiling"] if "ceiling" in result else result.get("floor", 0.0))
    family = (run_families() if families is None else families).get(result["family"])
    if clean is not None and not (family is not None and family.clean_reference) and "ceiling" not in result:
        return 0.0 if clean <= 0 else max(0.0, min(1.0, value / clean))
    if result["metric"] == "median_perturbation":  # a norm, not a fraction: relative to its floor
        return (1.0 if value > 0 else 0.0) if threshold <= 0 else max(0.0, min(1.0, value / threshold))
    chance = result.get("details", {}).get("chance")
    if "ceiling" in result and chance is not None and 0 < chance < 1:  # confidence on garbage: chance is ideal
        return max(0.0, min(1.0, (1.0 - value) / (1.0 - chance)))
    if abs(value) > 1.0 or abs(threshold) > 1.0:  # physical units: relative to the threshold
        if "ceiling" in result:
            return 1.0 if value <= 0 else max(0.0, min(1.0, threshold / value))
        return 1.0 if threshold <= 0 else max(0.0, min(1.0, value / threshold))
    if "ceiling" in result:
        return max(0.0, min(1.0, 1.0 - value))
    return max(0.0, min(1.0, value))


def robustness_score(results: Iterable[Mapping[str, Any]], weights: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The score and its components, by model and family (see the module docstring)."""
    weights = dict(weights or {})
    declared = run_families()
    by_model: dict[str, dict[str, list[float]]] = {}
    for result in results:
        family = declared.get(result["family"])
        if family is not None and not family.scored and result["family"] not in weights:
            continue
        by_model.setdefault(result["model"], {}).setdefault(result["family"], []).append(check_goodness(result, declared))
    models: dict[str, Any] = {}
    for model, families in by_model.items():
        components = {family: sum(values) / len(values) for family, values in families.items()}
        total_weight = sum(weights.get(family, 1.0) for family in components)
        score = (
            100.0 * sum(weights.get(f, 1.0) * c for f, c in components.items()) / total_weight if total_weight else 0.0
        )
        models[model] = {
            "score": round(score, 1),
            "components": {f: round(c, 4) for f, c in sorted(components.items())},
            "weights": {f: weights.get(f, 1.0) for f in sorted(components)},
        }
    overall = round(sum(m["score"] for m in models.values()) / len(models), 1) if models else 0.0
    return {"score": overall, "models": models}
