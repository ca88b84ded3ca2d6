"""The ``slices`` family: ``slices[accuracy]``, the accuracy of the weakest slice of a tabular model's
evaluation data against a floor (docs/tabular-skew.md).

A slice is each category of a categorical or boolean column, each quantile bin of a numeric column,
the rows where a column is missing, and (``pairs``) the intersection of two columns' slices; only
slices of at least ``min_samples`` rows are measured (:mod:`.functional`). Every slice's accuracy gets
an interval at ``1 - (1 - c) / K`` (``c`` the check's confidence, ``K`` the slices measured), so that
all K intervals hold at once (Bonferroni, on top of the run's own share of its error rate among its
checks); the check's value is the accuracy of the slice whose interval ends lowest, and its verdict
that slice's interval against the floor. The ranked table of the weakest slices is in the check's
details (report.json), its message, a figure of report.html and ``slices.json`` in its artefacts.

Settings (``[tool.mlguard.slices]``): ``checks`` (default none: ``["accuracy"]`` turns it on), ``floor``
(default ``0.8*clean``), ``min_samples`` (30), ``bins`` (4 quantile bins of a numeric column),
``pairs`` (true), ``columns`` (default: every column) and ``top`` (rows of the ranked table, 10).

Columns and their kinds come from a :class:`~pytest_mlguard.contract.TableData`; a 2-D ``EvalData``
gives numeric columns ``feature_<i>``. Importing this package imports neither numpy nor scipy.
"""

from __future__ import annotations

from ..checks._base import CheckSpec, Family, Plot
from ..config.parse import Threshold, parse_bool, parse_choice, parse_int, parse_list, parse_str, parse_threshold
from ..config._settings import Key, Settings

CHECKS = ("accuracy",)


def _make(name: str | None, settings: Settings) -> CheckSpec:
    if name not in CHECKS:
        raise KeyError(f"no check slices[{name}]; expected one of {[f'slices[{c}]' for c in CHECKS]}")
    params = tuple((key, settings.get(f"slices.{key}")) for key in ("min_samples", "bins", "pairs", "columns", "top"))
    return CheckSpec("slices", name, "accuracy", settings.get("slices.floor"), params=params, keywords=("slices", "tabular"))


def _plan(settings: Settings) -> list[CheckSpec]:
    return [_make(name, settings) for name in settings.get("slices.checks")]


FAMILY = Family(
    name="slices",
    keys=(
        Key("slices.checks", parse_list(parse_choice(*CHECKS)), (), "weak-slice checks of a tabular model: " + ", ".join(CHECKS)),
        Key("slices.floor", parse_threshold, Threshold(0.8, "clean"), "floor of the accuracy of the weakest slice, such as 0.7 or '0.8*clean'"),
        Key("slices.min_samples", parse_int(1, 10_000_000), 30, "the fewest evaluation samples a slice must hold to be measured"),
        Key("slices.bins", parse_int(2, 100), 4, "quantile bins of each numeric column"),
        Key("slices.pairs", parse_bool, True, "measure the intersections of two columns' slices too"),
        Key("slices.columns", parse_list(parse_str), (), "the columns to slice by (default: every column)"),
        Key("slices.top", parse_int(1, 1000), 10, "rows of the ranked table of the weakest slices in messages and reports"),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard._slices.run:run_check",
    rank=5,
    prior_forwards=1.0,
    plots=Plot("pytest_mlguard._slices.figures:weakest_slices", absent="no slices checks to draw"),
    doc="accuracy of the weakest slice (category, quantile bin, pair of them) of a tabular model's evaluation data",
)
