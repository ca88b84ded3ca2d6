"""The measurement of one ``tabular`` check (:data:`~pytest_mlguard.tabular.FAMILY`'s ``run``).

Every check compares with the clean predictions the evaluation shares; a check over several columns
(``missing``, a perturbation of one column at a time, the covariate shifts) measures each, reports the
worst as its value and ranks them all in ``details["columns"]``. A model that raises, or returns NaN
or inf, on a perturbed table scores 0 on it and fails the check with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from .._messages import without_addresses
from .._verdicts.intervals import paired_counts
from ..checks._base import CheckSpec, Measurement
from ..checks._evaluation import Evaluation
from ..contract._declaration import _where
from ..contract._record_model import RecordModel
from ..contract._table import TableData
from ..errors import ContractError, NonFiniteOutput, NotApplicable
from . import perturb

Columns = Mapping[str, np.ndarray]
#: how many columns a failure message names
TOP = 3


def _tabular(evaluation: Evaluation) -> tuple[RecordModel, TableData]:
    model, data = evaluation.model, evaluation.data
    if not isinstance(model, RecordModel) or not isinstance(data, TableData):
        raise NotApplicable(
            f"the tabular checks need a RecordModel over a TableData (mlguard_data with named columns); got "
            f"{type(model).__name__} over {type(data).__name__}"
        )
    return model, data


def _columns(spec: CheckSpec, data: TableData) -> tuple[str, ...]:
    chosen = spec.param("columns") or data.names
    unknown = [c for c in chosen if c not in data.names]
    if unknown:
        raise ContractError(f"tabular.columns names {unknown}, which mlguard_data {data.name!r} does not hold (it has {list(data.names)})")
    return tuple(c for c in data.names if c in chosen)


def outcome(model: RecordModel, columns: Columns, y: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Which rows the model gets right on ``columns``, and why it got none (it raised, or returned NaN or inf)."""
    try:
        proba = model.predict_table(columns)
    except NonFiniteOutput as exc:
        return np.zeros(len(y), dtype=bool), f"returned NaN or inf on {len(exc.rows)} of {exc.total} rows"
    except ContractError:
        raise
    except Exception as exc:  # noqa: BLE001 - the model's own error is the finding
        return np.zeros(len(y), dtype=bool), f"raised {type(exc).__name__}{_where(exc)}: {without_addresses(str(exc))[:200]}"
    return proba.argmax(axis=1) == y, None


def _worst(
    evaluation: Evaluation, variants: Mapping[str, Callable[[], Columns]], model: RecordModel, data: TableData, what: str
) -> Measurement:
    """Measure each variant of the table; the worst is the value, all are ranked in details."""
    clean_correct = evaluation.clean_correct()
    clean = float(clean_correct.mean())
    rows, worst, errors = [], None, []
    for label, make in variants.items():
        correct, error = outcome(model, make(), data.y)
        accuracy = float(correct.mean())
        rows.append({"column": label, "accuracy": accuracy, "drop": clean - accuracy, "error": error})
        if error:
            errors.append(f"{label} {what}: model {model.name!r} {error}")
        if worst is None or accuracy < worst[0]:
            worst = (accuracy, label, correct)
    if worst is None:
        raise NotApplicable(f"no column of mlguard_data {data.name!r} to {what} (tabular.columns, or no column of that kind)")
    rows.sort(key=lambda row: (row["accuracy"], row["column"]))
    ranked = ", ".join(f"{r['column']} ({r['accuracy']:.3f})" for r in rows[:TOP])
    message = f"worst columns {what}: {ranked}" if len(rows) > 1 else f"{rows[0]['column']} {what}"
    accuracy, label, correct = worst
    return Measurement(
        value=accuracy,
        n=data.n,
        clean=clean,
        details={"columns": rows, "worst": label, "clean_accuracy": clean},
        message=message,
        successes=int(correct.sum()),
        paired=paired_counts(clean_correct, correct),
        evaluations=data.n * len(variants),
        failure=errors[0] + (f" (and {len(errors) - 1} more columns fail so)" if len(errors) > 1 else "") if errors else None,
    )


def _missing(spec: CheckSpec, evaluation: Evaluation, model: RecordModel, data: TableData) -> Measurement:
    how = spec.param("how")
    groups = [spec.param("group")] if spec.param("group") else [(c,) for c in _columns(spec, data)]
    unknown = [c for group in groups for c in group if c not in data.names]
    if unknown:
        raise ContractError(f"tabular.missing names {unknown}, which mlguard_data {data.name!r} does not hold (it has {list(data.names)})")
    variants = {"+".join(g): partial(perturb.set_missing, data.columns, g, how) for g in groups}
    measurement = _worst(evaluation, variants, model, data, "missing" if how == "null" else "absent")
    return _with(measurement, missing=how)


def _perturbation(spec: CheckSpec, evaluation: Evaluation, model: RecordModel, data: TableData) -> Measurement:
    name, severity = spec.param("perturbation"), spec.param("severity")
    rng = evaluation.rng(spec)
    applicable = [c for c in perturb.columns_for(name, data.schema) if c in _columns(spec, data)]
    if name in perturb.PER_COLUMN:
        targets: list[str | None] = list(applicable)
    else:
        targets = [None] if applicable else []
    variants = {}
    for column in targets:
        params = perturb.sample_params(name, severity, data.columns, data.schema, rng, column=column)
        variants[column or "numeric columns"] = partial(perturb.apply, name, data.columns, data.schema, **params)
    what = f"under {name.replace('_', ' ')} {severity}"
    return _with(_worst(evaluation, variants, model, data, what), perturbation=name, severity=severity)


def _shift(spec: CheckSpec, evaluation: Evaluation, data: TableData) -> Measurement:
    severity = spec.param("severity")
    correct = evaluation.clean_correct().astype(np.float64)
    clean = float(correct.mean())
    found: list[tuple[float, str, float]] = []  # (weighted accuracy, shift, effective sample size)
    for name in _columns(spec, data):
        column = data.schema.column(name)
        targets = ("high", "low") if column.kind == "numeric" else (True, False) if column.kind == "boolean" else column.categories
        for target in targets:
            weights = perturb.shift_weights(data.columns[name], column.kind, severity, target)
            label = f"{name} {target}" if column.kind == "numeric" else f"{name}={target}"
            found.append((float((weights * correct).sum() / weights.sum()), label, float(weights.sum() ** 2 / (weights**2).sum())))
    if not found:
        raise NotApplicable(f"no column of mlguard_data {data.name!r} to shift (tabular.columns)")
    found.sort()
    accuracy, worst, n_eff = found[0]
    n = max(1, round(n_eff))
    rows = [{"column": label, "accuracy": value, "drop": clean - value, "n_effective": size} for value, label, size in found]
    ranked = ", ".join(f"{label} ({value:.3f})" for value, label, _ in found[:TOP])
    return Measurement(
        value=accuracy,
        n=n,
        clean=clean,
        details={"columns": rows, "worst": worst, "clean_accuracy": clean, "shift": "covariate", "severity": severity, "tilt": perturb.TILT[severity - 1]},
        message=f"worst under covariate shift toward: {ranked} (effective sample size of the worst: {n_eff:.0f} of {data.n})",
        successes=min(n, round(accuracy * n)),
        evaluations=0,
    )


def _with(measurement: Measurement, **details: Any) -> Measurement:
    import dataclasses

    return dataclasses.replace(measurement, details={**measurement.details, **details})


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """Measure ``tabular[<check>]`` on ``evaluation``."""
    model, data = _tabular(evaluation)
    if spec.param("attack") == "pgd":
        from ._gradient import run_pgd

        return run_pgd(spec, evaluation, model, data)
    if spec.param("attack"):
        from ._attack import run_attack

        return run_attack(spec, evaluation, model, data)
    if spec.param("shift"):
        return _shift(spec, evaluation, data)
    if spec.param("perturbation"):
        return _perturbation(spec, evaluation, model, data)
    return _missing(spec, evaluation, model, data)
