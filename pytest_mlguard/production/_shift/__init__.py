"""Production data shift, label-free: ``shift[classes]``, ``shift[confidence]``, ``shift[inputs]``,
``shift[embedding]``, ``shift[ood]`` and ``shift[accuracy]``, on a sample of logged production inputs (docs/drift.md).

The project's conftest.py returns the logged inputs, unlabelled, from a fixture ``mlguard_production``
(model inputs as an array, or image files or bytes; see :mod:`.sample`). Each check compares them
with the evaluation data (``mlguard_data``):

* ``classes``: the frequencies of the predicted classes (chi-squared test of homogeneity);
* ``confidence``: the distribution of the top-class probability (two-sample Kolmogorov-Smirnov);
* ``inputs``: the inputs themselves: per column for tabular models, per image statistic for images
  (brightness, contrast, channel means): two-sample Kolmogorov-Smirnov;
* ``embedding``: the model's penultimate representation (the input of its last ``Linear`` layer, or
  the output of ``layer``): MMD with a Gaussian kernel and a permutation null (a ``TorchModel``);
* ``ood``: the share of production inputs whose out-of-distribution score (the energy of the logits,
  else the negative top-class probability) exceeds the threshold that ``ood_rate`` of the evaluation
  data exceed, against ``ood_ceiling``, with its binomial interval;
* ``accuracy``: the accuracy estimated without labels by ATC (Garg et al. 2022), with a bootstrap
  interval, against ``accuracy_floor``.

The value of the first four is the smallest p-value of their tests after Holm's correction across
every test of the planned ``classes``, ``confidence``, ``inputs`` and ``embedding`` checks, against a floor of
``alpha``: together they raise a false alarm on a sample from the evaluation distribution with
probability at most ``alpha``.

Settings (``[tool.mlguard.shift]``):

* ``checks``: which checks run (default: none);
* ``alpha``: the family-wise false-alarm rate of the drift tests (default 0.01);
* ``accuracy_floor``: the floor of the estimated accuracy (default ``0.9*clean``);
* ``score``: the confidence ATC thresholds, ``max-probability`` or ``negative-entropy``;
* ``top``: how many drifting columns or image statistics a message names (default 3);
* ``ood_rate``, ``ood_ceiling``: the share of the evaluation data that ``ood``'s threshold flags
  (default 0.05), and the ceiling of the share of production it flags (default 0.15);
* ``layer``: the submodule whose output ``embedding`` compares (default: the input of the last
  ``Linear``); ``permutations``: the permutations of its null (default 1000; at least twice the tests
  over ``alpha``, so that a p-value of the embedding alone can clear Holm's correction);
* ``window``: where ``mlguard_production`` returns a :class:`~.window.ProductionLog` (inputs with
  timestamps), the most recent window of it the checks compare, such as ``"1d"`` (default: the whole
  log); ``reference``: what the drift tests compare it with, ``evaluation`` (``mlguard_data``) or
  ``previous-window`` (the window before it in the log).

Importing this package imports neither numpy nor scipy.
"""

from __future__ import annotations

from typing import Any

import math
import re

from ...checks._base import CheckSpec, Family, Plot
from ...config.parse import (
    invalid,
    Threshold,
    parse_choice,
    parse_int,
    parse_list,
    parse_number,
    parse_optional,
    parse_str,
    parse_threshold,
    parse_unit_interval,
)
from ...config._settings import Key, Settings

#: the checks whose value is a p-value (Holm-adjusted together), and the estimated accuracy
TESTS = ("classes", "confidence", "inputs", "embedding")
CHECKS = (*TESTS, "ood", "accuracy")
SCORES = ("max-probability", "negative-entropy")
REFERENCES = ("evaluation", "previous-window")
#: seconds of each unit of ``shift.window``
UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_WINDOW = "a duration such as '1d', '12h', '7d', '1w' or '1d12h' (w, d, h, m, s), or seconds"


def parse_window(value: Any, key: str, where: str) -> float:
    """The window's length in seconds, from ``"1d"``, ``"12h"``, ``"1d12h"``, ``"1w"`` or seconds.

    Example:
        >>> parse_window("1d12h", "shift.window", "pyproject.toml"), parse_window(90, "shift.window", "pyproject.toml")
        (129600.0, 90.0)
    """
    if isinstance(value, bool):
        raise invalid(value, key, where, _WINDOW)
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*(\d+(\.\d+)?\s*[wdhms]\s*)+", value):
        seconds = sum(float(number) * UNITS[unit] for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([wdhms])", value))
    else:
        raise invalid(value, key, where, _WINDOW)
    if not math.isfinite(seconds) or seconds <= 0:
        raise invalid(value, key, where, _WINDOW)
    return seconds


def _params(settings: Settings) -> tuple[tuple[str, Any], ...]:
    """Every check carries the family's settings: the drift checks share one analysis, whose Holm
    correction counts the tests of every planned one."""
    planned = tuple(name for name in settings.get("shift.checks") if name in TESTS) or TESTS
    return (
        ("tested", planned),
        ("alpha", settings.get("shift.alpha")),
        ("score", settings.get("shift.score")),
        ("top", settings.get("shift.top")),
        ("layer", settings.get("shift.layer")),
        ("permutations", settings.get("shift.permutations")),
        ("ood_rate", settings.get("shift.ood_rate")),
        ("window", settings.get("shift.window")),
        ("reference", settings.get("shift.reference")),
    )


def _make(name: str | None, settings: Settings) -> CheckSpec:
    if name in TESTS:
        return CheckSpec("shift", name, "p_value", Threshold(settings.get("shift.alpha")), params=_params(settings), keywords=("production", "drift"))
    if name == "ood":
        ceiling = Threshold(settings.get("shift.ood_ceiling"))
        return CheckSpec("shift", name, "ood_fraction", ceiling, "ceiling", _params(settings), keywords=("production", "ood"))
    if name == "accuracy":
        floor = settings.get("shift.accuracy_floor")
        return CheckSpec("shift", name, "estimated_accuracy", floor, params=_params(settings), keywords=("production", "atc"))
    raise KeyError(f"no check shift[{name}]; expected one of {[f'shift[{c}]' for c in CHECKS]}")


def _plan(settings: Settings) -> list[CheckSpec]:
    return [_make(name, settings) for name in settings.get("shift.checks")]


FAMILY = Family(
    name="shift",
    keys=(
        Key("shift.checks", parse_list(parse_choice(*CHECKS)), (), "shift checks on mlguard_production's logged inputs: " + ", ".join(CHECKS)),
        Key("shift.alpha", parse_number(1e-9, 0.5), 0.01, "family-wise false-alarm rate of the drift tests (Holm): the floor of their p-values"),
        Key(
            "shift.accuracy_floor",
            parse_threshold,
            Threshold(0.9, "clean"),
            "floor of the accuracy on the production sample estimated without labels (ATC), such as 0.9 or '0.9*clean'",
        ),
        Key("shift.score", parse_choice(*SCORES), "max-probability", "the confidence ATC thresholds: max-probability or negative-entropy"),
        Key("shift.top", parse_int(1, 100), 3, "how many drifting columns or image statistics a failure names"),
        Key("shift.layer", parse_optional(parse_str), None, "submodule whose output shift[embedding] compares; none: the input of the last Linear"),
        Key("shift.permutations", parse_int(99, 100_000), 1000, "permutations of shift[embedding]'s null distribution"),
        Key("shift.ood_rate", parse_number(0.001, 0.5), 0.05, "share of the evaluation data above shift[ood]'s threshold of the out-of-distribution score"),
        Key("shift.ood_ceiling", parse_unit_interval, 0.15, "ceiling of the share of production inputs above that threshold"),
        Key("shift.window", parse_optional(parse_window), None, "the most recent window of a ProductionLog the checks compare, such as '1d'; none: the whole log"),
        Key(
            "shift.reference",
            parse_choice(*REFERENCES),
            "evaluation",
            "what the drift tests compare the window with: evaluation (mlguard_data) or previous-window (the window before it in the log)",
        ),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.production._shift.run:run_check",
    needs=("model", "data", "production"),
    uses=("pipeline",),  # image files of the production sample are read through its decode, where it declares one
    rank=5,
    prior_forwards=2.0,
    shared=True,  # one analysis of the production sample, read by every check
    cacheable=False,  # the cache's key holds no fingerprint of the logged sample, which changes every night
    hooks="pytest_mlguard.production._shift.hooks",
    plots=(
        Plot("pytest_mlguard.production._shift.figures:histograms", absent="no shift checks to draw"),
        Plot("pytest_mlguard.production._shift.figures:null_distribution", kind="shift-null"),
    ),
    sections="pytest_mlguard.production._shift.tables:sections",
    doc="label-free drift of logged production inputs from the evaluation data, and ATC's estimated accuracy",
)
