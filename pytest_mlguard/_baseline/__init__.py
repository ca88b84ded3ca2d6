"""Baselines and regression gates, in the manner of pytest-benchmark's ``--benchmark-save`` /
``--benchmark-compare`` / ``--benchmark-compare-fail``.

A run is saved as a named baseline (plain JSON, to commit or keep as a CI artefact); a later run is
compared with it, metric by metric, and the run fails when a metric regresses beyond the tolerance
set for it. The comparison goes into the terminal summary, ``report.json`` and ``report.html``.

Settings (``[tool.mlguard.baseline]``, or the ``--mlguard-*`` options named below):

* ``save`` (``--mlguard-save-baseline NAME``): save this run as ``<dir>/<NAME>.json``;
* ``compare`` (``--mlguard-compare NAME|PATH``): compare this run with a saved baseline (or with
  any ``report.json``, given as a path);
* ``compare_fail`` (``--mlguard-compare-fail METRIC:TOLERANCE``, repeatable): fail when a metric
  regresses by more than its tolerance: ``robust_accuracy:2pp``, ``ece:0.01``, ``score:5%``,
  ``attack[pgd-linf-8/255]:1pp``, ``*:0``;
* ``dir``: where named baselines live, relative to the rootdir (default ``mlguard-baselines``).

This module is cheap to import (the plugin reads its keys at start-up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..config.parse import invalid, parse_list, parse_optional, parse_path
from ..config._settings import Key


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_TOLERANCE = re.compile(r"\s*(?P<target>.+?)\s*:\s*(?P<amount>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(?P<unit>pp|%)?\s*")


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may regress: ``2pp`` (percentage points), ``0.01`` (metric units) or ``5%``
    (relative to the baseline value).

    ``target`` is a metric name (``robust_accuracy``), a check id (``attack[pgd-linf-0.1]``),
    ``score`` or ``*`` (every metric).

    Example:
        >>> Tolerance.parse("robust_accuracy:2pp").allowed(0.8, "robust_accuracy")
        0.02
        >>> Tolerance.parse("score:5%").allowed(80.0, "score")
        4.0
    """

    target: str
    amount: float
    unit: Literal["pp", "%", ""] = ""

    @classmethod
    def parse(cls, text: str) -> Tolerance:
        match = _TOLERANCE.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise ValueError("METRIC:TOLERANCE, such as 'robust_accuracy:2pp', 'ece:0.01' or 'score:5%'")
        unit = match.group("unit") or ""
        return cls(match.group("target"), float(match.group("amount")), unit)  # type: ignore[arg-type]

    def allowed(self, baseline: float, metric: str) -> float:
        """The largest regression tolerated, in the metric's units (``score`` is on 0..100)."""
        if self.unit == "%":
            return abs(baseline) * self.amount / 100.0
        if self.unit == "pp" and metric != "score":
            return self.amount / 100.0
        return self.amount

    def describe(self) -> str:
        return f"{self.amount:g}{self.unit}"

    def matches(self, metric: str, check_id: str) -> bool:
        return self.target in ("*", metric, check_id)

    def specificity(self) -> int:
        """A check id beats a metric name, which beats ``*``."""
        return 0 if self.target == "*" else 2 if "[" in self.target else 1


def parse_tolerance(value: Any, key: str, where: str) -> Tolerance:
    try:
        return Tolerance.parse(value)
    except ValueError as exc:
        raise invalid(value, key, where, str(exc)) from None


def parse_baseline_name(value: Any, key: str, where: str) -> str:
    """A baseline name (letters, digits, ``.``, ``_``, ``-``) or, for ``compare``, a path to a JSON file."""
    if isinstance(value, str) and (NAME_PATTERN.fullmatch(value) or value.endswith(".json")):
        return value
    raise invalid(value, key, where, "a baseline name of letters, digits, '.', '_' and '-' (such as 'main'), or a path ending in .json")


def _parse_save_name(value: Any, key: str, where: str) -> str:
    if isinstance(value, str) and NAME_PATTERN.fullmatch(value) and not value.endswith(".json"):
        return value
    raise invalid(value, key, where, "a baseline name of letters, digits, '.', '_' and '-', such as 'main'")


BASELINE_KEYS: tuple[Key, ...] = (
    Key(
        "baseline.save",
        parse_optional(_parse_save_name),
        None,
        "save this run as the named baseline <baseline.dir>/<NAME>.json",
        cli="--mlguard-save-baseline",
        metavar="NAME",
    ),
    Key(
        "baseline.compare",
        parse_optional(parse_baseline_name),
        None,
        "compare this run with a named baseline, or with a baseline or report.json given as a path",
        cli="--mlguard-compare",
        metavar="NAME|PATH",
    ),
    Key(
        "baseline.compare_fail",
        parse_list(parse_tolerance),
        (),
        "fail when a metric regresses beyond its tolerance, METRIC:TOLERANCE such as robust_accuracy:2pp, ece:0.01, score:5%",
        cli="--mlguard-compare-fail",
        metavar="METRIC:TOLERANCE",
    ),
    Key("baseline.dir", parse_path, Path("mlguard-baselines"), "directory of named baselines, relative to the rootdir"),
)
