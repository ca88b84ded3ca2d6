"""``tabular[pgd-<eps>]``: projected gradient descent (L-inf) on the numeric columns a project marks as
perturbable (``tabular.perturbable``), for a :class:`~pytest_mlguard.contract.RecordModel` over a torch
module, within each column's range in the schema.

The gradient runs through the module, not through ``preprocess`` (plain Python: a DataFrame, a dict):
:func:`feature_steps` probes ``preprocess`` and requires it to map each perturbable column affinely onto
the features (a standardisation, a scaling, a column passed through), the same change of features for a
step of the column on every row and twice the change for twice the step; any other preprocessing is not
applicable, with the column named. :func:`pgd` then moves each row's perturbable values, in spreads of
each column (its standard deviation on the evaluation rows), by ``step`` times the sign of the gradient
of the cross-entropy, keeping each within ``eps`` spreads of the row's value and within the schema's
range (Madry et al.'s PGD without a random start, as ART's ``ProjectedGradientDescent`` with
``num_random_init=0``: ``tests/unit/test_tabular_gradient.py`` compares the two on the same rows).

A row counts as broken only when the model, called as the checks call it (``predict_table``, through
``preprocess``), gets the perturbed row wrong: the affine probe steers the search, the model decides.
The value is the accuracy of the rows right when clean and still right under the attack, against
``tabular.attack_floor``; rows with a missing perturbable value are not moved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._verdicts.intervals import paired_counts
from ..checks._base import CheckSpec, Measurement
from ..checks._evaluation import Evaluation
from ..contract._record_model import RecordModel
from ..contract._table import TableData, as_input
from ..errors import NotApplicable
from . import perturb
from ._attack import perturbable

Columns = Mapping[str, np.ndarray]


def feature_steps(features: Callable[[Columns], np.ndarray], columns: Columns, names: tuple[str, ...], spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(features (N, d), steps (k, d))``: the features of the rows, and the change of the features for
    a step of one spread of each column in ``names``.

    Raises:
        NotApplicable: the change is not the same on every row, or not twice as large for twice the step
            (``features`` is not affine in that column).
    """
    base = np.asarray(features(columns), dtype=np.float64)
    tolerance = 1e-4 * (1.0 + float(np.nanmax(np.abs(base), initial=0.0)))
    steps = []
    for j, name in enumerate(names):
        one, two = (np.asarray(features({**columns, name: columns[name] + k * spread[j]}), dtype=np.float64) - base for k in (1, 2))
        present = np.isfinite(one).all(axis=1) & np.isfinite(two).all(axis=1)
        step = one[present].mean(axis=0) if present.any() else np.zeros(base.shape[1])
        if not (np.allclose(one[present], step, atol=tolerance) and np.allclose(two[present], 2 * step, atol=tolerance)):
            raise NotApplicable(
                f"tabular[pgd-<eps>] needs preprocess to map the perturbable column {name!r} affinely onto the features (a "
                "standardisation, a scaling, the column itself): a step of the column changes the features differently on "
                "different rows, or not in proportion"
            )
        steps.append(step)
    return base, np.stack(steps)


def pgd(
    module: Any,
    features: np.ndarray,
    steps: np.ndarray,
    labels: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    *,
    iterations: int,
    step: float,
    output: str = "logits",
) -> np.ndarray:
    """The perturbation ``(N, k)``, in spreads, that PGD finds for the rows whose features are ``features``.

    ``bounds`` is ``(lower, upper)``, each ``(N, k)``: how far each value may move (the intersection of
    the L-inf ball and the column's range, in spreads from the row's value). Each iteration adds ``step``
    times the sign of the cross-entropy's gradient, then clips to the bounds.
    """
    import torch

    parameter = next(iter(module.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    base = torch.as_tensor(np.nan_to_num(features), dtype=torch.float32, device=device)
    jacobian = torch.as_tensor(steps, dtype=torch.float32, device=device)
    target = torch.as_tensor(labels, dtype=torch.long, device=device)
    lower, upper = (torch.as_tensor(b, dtype=torch.float32, device=device) for b in bounds)
    delta = torch.zeros(lower.shape, dtype=torch.float32, device=device)
    for _ in range(iterations):
        delta.requires_grad_(True)
        scores = module(base + delta @ jacobian)
        log_p = scores.log_softmax(dim=1) if output == "logits" else scores if output == "log_probabilities" else scores.clamp_min(1e-12).log()
        (gradient,) = torch.autograd.grad(torch.nn.functional.nll_loss(log_p, target, reduction="sum"), delta)
        delta = torch.minimum(torch.maximum(delta.detach() + step * gradient.sign(), lower), upper)
    return delta.detach().cpu().numpy().astype(np.float64)


def _bounds(data: TableData, names: tuple[str, ...], spread: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row and column, how far (in spreads) PGD may move it: within ``eps`` and the schema's range;
    nowhere for a row with a missing perturbable value."""
    values = np.stack([np.asarray(data.columns[n], dtype=np.float64) for n in names], axis=1)
    low = np.array([data.schema.column(n).low for n in names], dtype=np.float64)
    high = np.array([data.schema.column(n).high for n in names], dtype=np.float64)
    lower = np.clip((low - values) / spread, -eps, 0.0)
    upper = np.clip((high - values) / spread, 0.0, eps)
    missing = ~np.isfinite(values).all(axis=1)
    lower[missing] = upper[missing] = 0.0
    return np.nan_to_num(lower), np.nan_to_num(upper)


def _torch_module(model: RecordModel) -> Any:
    module = model.model
    if model.preprocess is None or not (hasattr(module, "parameters") and hasattr(module, "forward")):
        raise NotApplicable(
            f"tabular[pgd-<eps>] needs the gradient of a torch module: RecordModel {model.name!r} wraps "
            f"{type(module).__name__}; use tabular[hopskipjump-<eps>] (checks holds 'attack') for other models"
        )
    return module


def run_pgd(spec: CheckSpec, evaluation: Evaluation, model: RecordModel, data: TableData) -> Measurement:
    """Measure ``tabular[pgd-<eps>]``."""
    module = _torch_module(model)
    names, eps = perturbable(spec, data), float(spec.param("eps"))
    iterations = int(spec.param("steps"))
    spread = np.array([perturb.spread(data.columns[n]) for n in names])
    schema = model._table_schema()

    def features(columns: Columns) -> np.ndarray:
        assert model.preprocess is not None  # _torch_module checked it
        return np.asarray(model.preprocess(as_input(columns, schema, model.input)), dtype=np.float64)

    base, steps = feature_steps(features, data.columns, names, spread)
    delta = pgd(module, base, steps, data.y, _bounds(data, names, spread, eps), iterations=iterations, step=2.5 * eps / iterations, output=model.output)
    attacked = dict(data.columns)
    for j, name in enumerate(names):
        attacked[name] = np.asarray(data.columns[name], dtype=np.float64) + delta[:, j] * spread[j]
    clean_correct = evaluation.clean_correct()
    robust = clean_correct & (model.predict_table(attacked).argmax(axis=1) == data.y)
    moved = np.abs(delta).max(axis=1)
    broken = clean_correct & ~robust
    return Measurement(
        value=float(robust.mean()),
        n=data.n,
        clean=float(clean_correct.mean()),
        details={
            "perturbable": list(names),
            "eps": eps,
            "attack": "pgd",
            "steps": iterations,
            "clean_accuracy": float(clean_correct.mean()),
            "broken": int(broken.sum()),
            "median_move_broken": float(np.median(moved[broken])) if broken.any() else None,  # in spreads, at most eps
        },
        message=f"PGD on {', '.join(names)} (L-inf, {eps:g} spreads, {iterations} steps, within the schema's ranges): "
        f"{int(broken.sum())} of {int(clean_correct.sum())} rows right when clean turned to another class",
        successes=int(robust.sum()),
        paired=paired_counts(clean_correct, robust),
        evaluations=data.n * (iterations + 1),  # a gradient a step, then the model on the perturbed rows (the probe calls preprocess only)
    )
