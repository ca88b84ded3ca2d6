"""Record and tabular models: the ``tabular[<check>]`` checks of a :class:`~pytest_mlguard.contract.RecordModel`
over a :class:`~pytest_mlguard.contract.TableData` (docs/tabular.md).

Checks (``[tool.mlguard.tabular] checks``: none by default, as the verdicts' error control counts every
planned check of every model; ``["missing", "perturbation", "shift"]`` turns the usual ones on):

* ``missing`` (``tabular.missing`` holds ``"each"``): every column in turn set missing (``None``/NaN)
  on every evaluation row; the value is the worst column's accuracy, and ``details["columns"]`` ranks
  the columns by the accuracy lost without them. ``missing-<column>`` (or ``missing-<a>+<b>``, a group)
  for the columns ``tabular.missing`` names. A model that raises or returns NaN or inf fails, with the reason;
  ``absent`` and ``absent-<column>`` (``checks`` holds ``"absent"``) remove the column instead.
* ``<perturbation>-<severity>``, for the perturbations of :mod:`.perturb` (``tabular.perturbations``)
  at ``tabular.severities``: accuracy under numeric noise and rounding (every numeric column at once),
  unit changes, out-of-range values, category swaps and unseen categories (one column at a time: the
  worst column, ranked in details).
* ``covariate_shift-<severity>``: the accuracy of the clean predictions reweighted toward the high or
  low quantiles of each numeric column and toward each category (:func:`.perturb.shift_weights`): the
  worst shift; no extra model call.
* ``hopskipjump-<eps>`` (``checks`` holds ``"attack"``): ART's HopSkipJump on the numeric columns
  ``tabular.perturbable`` names, within their ranges, one row at a time: the accuracy of the rows it
  cannot move to another class within ``eps`` spreads (L-inf) of each column (:mod:`._attack`).
* ``pgd-<eps>`` (``checks`` holds ``"pgd"``): projected gradient descent through a torch module on the
  same columns and budgets, all rows at once, where ``preprocess`` maps them affinely onto the features
  (:mod:`._gradient`).

Floors: ``missing_floor`` (default ``0.8*clean``), ``perturbation_floor`` (``0.7*clean``), ``shift_floor``
(``0.8*clean``), ``attack_floor`` (``0.5*clean``), and ``floors`` by ``<check>-<severity>``, ``<check>`` or ``severity-N``.
``tabular.columns`` restricts the columns the checks touch (default: all). A conftest.py that names neither
``TableData`` nor ``RecordModel`` gets none of them (:mod:`._hooks`): an example of images and one of
records can share a pyproject.toml.

Importing this package imports neither numpy nor pandas.
"""

from __future__ import annotations

from typing import Any

from ..checks._base import CheckSpec, Family, Plot
from ..config.parse import Threshold, invalid, parse_choice, parse_int, parse_list, parse_number, parse_str, parse_table, parse_threshold
from ..config._settings import Key, Settings

__all__ = ["CHECKS", "FAMILY", "PERTURBATIONS"]

#: the perturbations of :mod:`.perturb` (kept here too: importing it imports numpy)
PERTURBATIONS: tuple[str, ...] = (
    "numeric_noise",
    "rounding",
    "scale_up",
    "scale_down",
    "out_of_range",
    "category_swap",
    "unseen_category",
)
#: the kinds of check ``tabular.checks`` chooses from
CHECKS: tuple[str, ...] = ("missing", "absent", "perturbation", "shift", "attack", "pgd")
_SHIFT = "covariate_shift"
_ATTACK = "hopskipjump"
_PGD = "pgd"


def _split(name: str) -> tuple[str, int | None]:
    base, _, severity = name.rpartition("-")
    if base and severity.isdigit() and 1 <= int(severity) <= 5:
        return base, int(severity)
    return name, None


def _eps(text: str) -> float | None:
    try:
        eps = float(text)
    except ValueError:
        return None
    return eps if eps > 0 else None


def _parse_severities(value: Any, key: str, where: str) -> tuple[int, ...]:
    if value == "all" or value == ["all"]:
        return (1, 2, 3, 4, 5)
    return tuple(sorted(parse_list(parse_int(1, 5))(value, key, where)))


def _parse_perturbation(value: Any, key: str, where: str) -> str:
    if value not in (*PERTURBATIONS, "all"):
        raise invalid(value, key, where, f"a perturbation, one of {', '.join(PERTURBATIONS)}, or all")
    return str(value)


def _parse_floor_name(name: str, key: str, where: str) -> str:
    base, severity = _split(name)
    if base in (*PERTURBATIONS, _SHIFT, "missing", "absent", _ATTACK, _PGD) or (base == "severity" and severity is not None):
        return name
    if name.partition("-")[0] in (_ATTACK, _PGD) and _eps(name.partition("-")[2]) is not None:
        return name
    raise invalid(name, key, where, f"'<check>-<severity>' or '<check>' (of {', '.join((*PERTURBATIONS, _SHIFT))}, missing, absent) or 'severity-N'")


def _floor(check: str, settings: Settings, default_key: str) -> Threshold:
    floors = settings.get("tabular.floors")
    base, severity = _split(check)
    for entry in (check, base, check.partition("-")[0], f"severity-{severity}"):
        if entry in floors:
            return floors[entry]
    return settings.get(default_key)


def _params(settings: Settings, **extra: Any) -> tuple[tuple[str, Any], ...]:
    return (("columns", settings.get("tabular.columns")), *extra.items())


def _make(check: str | None, settings: Settings) -> CheckSpec:
    """The spec of ``tabular[<check>]`` under ``settings``."""
    name = str(check)
    base, severity = _split(name)
    mode, _, columns = name.partition("-")
    if mode in ("missing", "absent") and (columns or severity is None):
        group = tuple(columns.split("+")) if columns else None
        how = "null" if mode == "missing" else "absent"
        params = _params(settings, how=how, group=group)
        return CheckSpec("tabular", name, "accuracy", _floor(name, settings, "tabular.missing_floor"), params=params, keywords=("missing",))
    if base in PERTURBATIONS and severity is not None:
        params = _params(settings, perturbation=base, severity=severity)
        return CheckSpec("tabular", name, "accuracy", _floor(name, settings, "tabular.perturbation_floor"), params=params, keywords=("perturbation", base))
    if mode == _ATTACK and _eps(columns) is not None:
        params = _params(
            settings,
            attack=_ATTACK,
            eps=_eps(columns),
            perturbable=settings.get("tabular.perturbable"),
            samples=settings.get("tabular.attack_samples"),
            queries=settings.get("tabular.attack_queries"),
        )
        return CheckSpec("tabular", name, "robust_accuracy", _floor(name, settings, "tabular.attack_floor"), params=params, keywords=("attack", _ATTACK))
    if mode == _PGD and _eps(columns) is not None:
        params = _params(settings, attack=_PGD, eps=_eps(columns), perturbable=settings.get("tabular.perturbable"), steps=settings.get("tabular.pgd_steps"))
        return CheckSpec("tabular", name, "robust_accuracy", _floor(name, settings, "tabular.attack_floor"), params=params, keywords=("attack", _PGD))
    if base == _SHIFT and severity is not None:
        params = _params(settings, shift=True, severity=severity)
        return CheckSpec("tabular", name, "weighted_accuracy", _floor(name, settings, "tabular.shift_floor"), params=params, keywords=("shift",))
    raise KeyError(
        f"expected a check 'missing', 'missing-<column>', 'absent', 'absent-<column>', '<perturbation>-<severity>' "
        f"(of {', '.join(PERTURBATIONS)}), '{_SHIFT}-<severity>', with a severity 1..5, '{_ATTACK}-<eps>' or '{_PGD}-<eps>'; got {check!r}"
    )


def _plan(settings: Settings) -> list[CheckSpec]:
    kinds = settings.get("tabular.checks")
    names: list[str] = []
    for mode in ("missing", "absent"):
        if mode in kinds:
            names += [mode if entry == "each" else f"{mode}-{entry}" for entry in settings.get("tabular.missing")]
    if "perturbation" in kinds:
        chosen = settings.get("tabular.perturbations")
        perturbations = PERTURBATIONS if "all" in chosen else chosen
        names += [f"{p}-{s}" for p in perturbations for s in settings.get("tabular.severities")]
    if "shift" in kinds:
        names += [f"{_SHIFT}-{s}" for s in settings.get("tabular.shift_severities")]
    if "attack" in kinds:
        names += [f"{_ATTACK}-{eps:g}" for eps in settings.get("tabular.attack_eps")]
    if "pgd" in kinds:
        names += [f"{_PGD}-{eps:g}" for eps in settings.get("tabular.attack_eps")]
    return [_make(name, settings) for name in names]


FAMILY = Family(
    name="tabular",
    keys=(
        Key("tabular.checks", parse_list(parse_choice(*CHECKS)), (), f"kinds of tabular check to run, of {', '.join(CHECKS)} (none by default)"),
        Key("tabular.missing", parse_list(parse_str), ("each",), "columns (or a+b groups) set missing, one check each; each: one check over every column"),
        Key("tabular.perturbations", parse_list(_parse_perturbation), ("all",), f"perturbations to run: {', '.join(PERTURBATIONS)}, or all"),
        Key("tabular.severities", _parse_severities, (1, 3, 5), "severities (1..5, or all) to run each perturbation at"),
        Key("tabular.shift_severities", _parse_severities, (3,), "severities (1..5, or all) of the covariate shift"),
        Key("tabular.columns", parse_list(parse_str), (), "the columns the checks touch (empty: every column of mlguard_data)"),
        Key("tabular.perturbable", parse_list(parse_str), (), "numeric columns the attacks may change (tabular[hopskipjump-<eps>]: checks holds 'attack'; tabular[pgd-<eps>]: 'pgd')"),
        Key("tabular.attack_eps", parse_list(parse_number(0.0, 100.0, open_min=True)), (0.5,), "L-inf budgets of the attack, in spreads of each column"),
        Key("tabular.attack_samples", parse_int(1, 100000), 20, "evaluation rows the attack runs on (one at a time)"),
        Key("tabular.attack_queries", parse_int(50, 100000), 300, "model queries of HopSkipJump per row"),
        Key("tabular.pgd_steps", parse_int(1, 10000), 20, "iterations of tabular[pgd-<eps>], each a step of 2.5*eps/steps spreads"),
        Key("tabular.attack_floor", parse_threshold, Threshold(0.5, "clean"), "floor of the accuracy under the attack"),
        Key("tabular.missing_floor", parse_threshold, Threshold(0.8, "clean"), "floor of accuracy with a column missing"),
        Key("tabular.perturbation_floor", parse_threshold, Threshold(0.7, "clean"), "floor of accuracy under each perturbation"),
        Key("tabular.shift_floor", parse_threshold, Threshold(0.8, "clean"), "floor of the accuracy reweighted by each covariate shift"),
        Key(
            "tabular.floors",
            parse_table(parse_threshold, name=_parse_floor_name),
            {},
            "floors by check-severity (scale_up-3), check (scale_up, missing, covariate_shift) or severity-N",
            table=True,
        ),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.tabular._run:run_check",
    rank=3,
    prior_forwards=1.0,
    hooks="pytest_mlguard.tabular._hooks",
    plots=(
        Plot("pytest_mlguard.tabular._figures:curves", kind="tabular-curves"),
        Plot("pytest_mlguard.tabular._figures:column_drops", kind="tabular-missing"),
    ),
    doc="record models: columns missing, perturbations (noise, units, ranges, categories) and covariate shift, floors relative to clean",
)
