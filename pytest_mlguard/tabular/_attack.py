"""``tabular[hopskipjump-<eps>]``: ART's HopSkipJump (a decision-based black-box attack) on the columns a
project marks as perturbable (``tabular.perturbable``, numeric), within their valid ranges.

The attack runs in units of each column's spread (its standard deviation on the evaluation rows), one
row at a time (the other columns of the row stay as they are), clipped to the schema's range of each
column; a row counts as broken when the attack finds another class within ``eps`` spreads of it in
every perturbable column (the L-inf distance). The distance HopSkipJump finds is an upper bound of the
smallest one: more queries bring it closer. The value is the share of the first
``tabular.attack_samples`` evaluation rows the model gets right and the attack does not break.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._verdicts.intervals import paired_counts
from ..checks._base import CheckSpec, Measurement
from ..checks._evaluation import Evaluation
from ..contract._record_model import RecordModel
from ..contract._table import TableData
from ..errors import ContractError
from . import perturb


def perturbable(spec: CheckSpec, data: TableData) -> tuple[str, ...]:
    names = tuple(spec.param("perturbable") or ())
    wrong = [name for name in names if name not in data.names or data.schema.column(name).kind != "numeric"]
    if wrong or not names:
        raise ContractError(
            f"tabular.perturbable names {list(wrong) or '[]'}: expected numeric columns of mlguard_data {data.name!r}, of "
            f"{[c.name for c in data.schema.columns if c.kind == 'numeric']}"
        )
    return names


def _attack_row(model: RecordModel, data: TableData, row: int, names: tuple[str, ...], scale: dict[str, Any], params: dict[str, Any]) -> np.ndarray:
    """The adversarial values (in spreads) HopSkipJump found for ``row``, or the row itself."""
    from art.attacks.evasion import HopSkipJump
    from art.estimators.classification import BlackBoxClassifierNeuralNetwork

    base = {name: values[row : row + 1] for name, values in data.columns.items()}
    center, spread = scale["center"], scale["spread"]

    def predict(z: np.ndarray) -> np.ndarray:
        columns = {name: np.repeat(values, len(z), axis=0) for name, values in base.items()}
        for j, name in enumerate(names):
            columns[name] = z[:, j].astype(np.float64) * spread[j] + center[j]
        return model.predict_table(columns)

    estimator = BlackBoxClassifierNeuralNetwork(
        predict, input_shape=(len(names),), nb_classes=model.n_classes, clip_values=(scale["low"], scale["high"]), preprocessing=None
    )
    attack = HopSkipJump(estimator, norm=np.inf, verbose=False, **params)
    z = np.array([[(base[name][0] - center[j]) / spread[j] for j, name in enumerate(names)]], dtype=np.float32)
    return np.asarray(attack.generate(z), dtype=np.float64)[0]


def _distance(model: RecordModel, data: TableData, row: int, names: tuple[str, ...], scale: dict[str, Any], params: dict[str, Any]) -> float | None:
    """The L-inf distance, in spreads, of the adversarial row HopSkipJump found for ``row`` (``None``:
    none found, or a perturbable value is missing)."""
    center, spread = scale["center"], scale["spread"]
    if any(np.isnan(data.columns[name][row]) for name in names):
        return None
    adversarial = _attack_row(model, data, row, names, scale, params)
    columns = {name: values[row : row + 1] for name, values in data.columns.items()}
    for j, name in enumerate(names):
        columns[name] = np.array([adversarial[j] * spread[j] + center[j]])
    if int(model.predict_table(columns).argmax(axis=1)[0]) == int(data.y[row]):
        return None
    z = np.array([(data.columns[name][row] - center[j]) / spread[j] for j, name in enumerate(names)])
    return float(np.abs(adversarial - z).max())


def run_attack(spec: CheckSpec, evaluation: Evaluation, model: RecordModel, data: TableData) -> Measurement:
    """Measure ``tabular[hopskipjump-<eps>]``."""
    from ..attacks._art import import_art
    from ..attacks._build import hopskipjump_schedule, seeded

    import_art()
    names, eps = perturbable(spec, data), float(spec.param("eps"))
    center = np.array([np.nanmean(data.columns[n]) for n in names])
    spread = np.array([perturb.spread(data.columns[n]) for n in names])
    bounds = [(data.schema.column(n).low, data.schema.column(n).high) for n in names]
    scale = {
        "center": center,
        "spread": spread,
        "low": np.array([(low - c) / s for (low, _), c, s in zip(bounds, center, spread)], dtype=np.float32),
        "high": np.array([(high - c) / s for (_, high), c, s in zip(bounds, center, spread)], dtype=np.float32),
    }
    max_iter, max_eval, init_eval = hopskipjump_schedule(int(spec.param("queries")), 20)
    params = {"max_iter": max_iter, "max_eval": max_eval, "init_eval": init_eval, "init_size": 100}
    n = min(data.n, int(spec.param("samples")))
    clean_correct = evaluation.clean_correct()[:n]
    with seeded(int(evaluation.rng(spec).integers(2**31))):  # ART draws HopSkipJump's starting points from numpy's global generator
        distances = [
            _distance(model, data, row, names, scale, params) if clean_correct[row] else None
            for row in range(n)
        ]
    robust = clean_correct & np.array([d is None or d > eps + 1e-6 for d in distances], dtype=bool)
    found = [d for d in distances if d is not None]
    return Measurement(
        value=float(robust.mean()),
        n=n,
        clean=float(clean_correct.mean()),
        details={
            "perturbable": list(names),
            "eps": eps,
            "attack": "hopskipjump",
            "clean_accuracy": float(clean_correct.mean()),
            "median_distance": float(np.median(found)) if found else None,
            "distances": distances,  # per row attacked, in spreads (None: right when clean not, or nothing found)
            "adversarial_found": len(found),
        },
        message=f"HopSkipJump on {', '.join(names)} (L-inf, in spreads): another class within {eps:g} for "
        f"{int((clean_correct & ~robust).sum())} of {int(clean_correct.sum())} rows right when clean"
        + (f"; median distance of the adversarial rows found: {np.median(found):.3f}" if found else ""),
        successes=int(robust.sum()),
        paired=paired_counts(clean_correct, robust),
    )
