"""tabular[pgd-<eps>] (pytest_mlguard.tabular._gradient): PGD through a torch record model on the perturbable
columns, against the exact answer of a linear model, against ART's ProjectedGradientDescent on the feature
vector, on the zoo's wine MLP, and where it does not apply."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import zoo
from torch import nn

from pytest_mlguard import RecordModel, check_model
from pytest_mlguard.errors import NotApplicable
from pytest_mlguard.tabular import FAMILY
from pytest_mlguard.tabular import perturb as P
from pytest_mlguard.tabular._gradient import feature_steps, pgd

from test_tabular import settings, table

WINE = ["proline", "color_intensity", "flavanoids", "alcohol"]


def linear_amount_model(preprocess=None) -> RecordModel:
    """Logits (0, amount - 50) over the standardised amount: right on every row of table(); its
    boundary lies |amount - 50| / spread spreads from each row."""
    net = nn.Linear(1, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.0], [20.0]]))
        net.bias.copy_(torch.tensor([0.0, -20.0 * (50 - 45) / 30]))  # the features below: (amount - 45) / 30
    standardise = preprocess or (lambda frame: ((frame[["amount"]].to_numpy(dtype=float) - 45) / 30).astype(np.float32))
    return RecordModel(net, preprocess=standardise, n_classes=2, output="logits", name="linear-amount")


def test_pgd_breaks_exactly_the_rows_within_eps_of_the_boundary():
    data = table()
    spread = P.spread(data.columns["amount"])
    distance = np.abs(data.columns["amount"] - 50) / spread
    for eps in (0.1, 0.5):
        [result] = check_model(linear_amount_model(), data, [f"tabular[pgd-{eps:g}]"], settings={"tabular.perturbable": ["amount"]})
        assert result.value == pytest.approx(float(np.mean(distance >= eps)), abs=1 / data.n)  # a row on the edge may go either way
        assert result.details["broken"] == pytest.approx(int(np.sum(distance < eps)), abs=1) and result.details["median_move_broken"] <= eps + 1e-6


def test_pgd_matches_arts_projected_gradient_descent_on_the_feature_vector():
    """On the zoo's MLP (preprocess standardises each measurement), PGD in spreads of the perturbable columns is
    ART's PGD on the feature vector with eps and the step scaled per feature, 0 on the others, and the schema's
    range as per-feature clip values."""
    import pandas as pd
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    model, data = zoo.wine_torch_record_model(), zoo.wine_table()
    names, eps, iterations = tuple(WINE), 0.5, 20
    spread = np.array([P.spread(data.columns[n]) for n in names])

    def features(columns):
        return model.preprocess(pd.DataFrame(columns)).astype(np.float64)

    base, steps = feature_steps(features, data.columns, names, spread)
    values = np.stack([data.columns[n] for n in names], axis=1)
    low = np.array([data.schema.column(n).low for n in names])
    high = np.array([data.schema.column(n).high for n in names])
    bounds = (np.clip((low - values) / spread, -eps, 0), np.clip((high - values) / spread, 0, eps))
    ours = base + pgd(model.model, base, steps, data.y, bounds, iterations=iterations, step=2.5 * eps / iterations) @ steps

    scale = np.abs(steps).sum(axis=0)  # the features' change per spread: one feature per column here
    lowest, highest = np.full(base.shape[1], -1e6), np.full(base.shape[1], 1e6)
    for j in range(len(names)):
        f = int(np.argmax(np.abs(steps[j])))
        lowest[f], highest[f] = base[0, f] + (low[j] - values[0, j]) / spread[j] * steps[j, f], base[0, f] + (high[j] - values[0, j]) / spread[j] * steps[j, f]
    classifier = PyTorchClassifier(model.model, nn.CrossEntropyLoss(), input_shape=(base.shape[1],), nb_classes=3, clip_values=(lowest.astype(np.float32), highest.astype(np.float32)))
    attack = ProjectedGradientDescent(
        classifier,
        norm=np.inf,
        eps=(eps * scale).astype(np.float32),
        eps_step=np.maximum(2.5 * eps / iterations * scale, 1e-6).astype(np.float32),  # ART requires a step > 0: eps 0 holds the others
        max_iter=iterations,
        num_random_init=0,
        batch_size=len(base),
        verbose=False,
    )
    theirs = attack.generate(base.astype(np.float32), y=data.y)
    assert np.abs(ours - base).max() > 0.1 and np.abs(ours - theirs).max() < 1e-3  # it moved, and as ART moved
    with torch.no_grad():
        assert (model.model(torch.as_tensor(ours, dtype=torch.float32)).argmax(1) == model.model(torch.as_tensor(theirs)).argmax(1)).all()


def test_the_wine_mlp_holds_a_small_budget_and_fails_a_large_one():
    results = check_model(zoo.wine_torch_record_model(), zoo.wine_table(), ["tabular[pgd-0.1]", "tabular[pgd-3]"], settings={"tabular.perturbable": WINE})
    small, large = results
    assert small.passed and small.value == small.details["clean_accuracy"] and small.details["broken"] == 0
    assert large.label == "failed" and large.interval[1] < large.threshold
    assert "PGD on proline, color_intensity, flavanoids, alcohol (L-inf, 3 spreads, 20 steps" in large.message


def test_pgd_is_planned_per_budget_and_applies_only_to_a_torch_module_with_an_affine_preprocess():
    ids = [spec.id for spec in FAMILY.plan(settings(**{"tabular.checks": "pgd", "tabular.attack_eps": "0.5,2"}))]
    assert ids == ["tabular[pgd-0.5]", "tabular[pgd-2]"]
    perturbable = {"tabular.perturbable": ["amount"]}
    with pytest.raises(NotApplicable, match="needs the gradient of a torch module: RecordModel 'threshold' wraps function"):
        from test_tabular import threshold_model

        check_model(threshold_model(), table(), ["tabular[pgd-1]"], settings=perturbable)
    logarithm = linear_amount_model(lambda frame: np.log1p(frame[["amount"]].to_numpy(dtype=float)).astype(np.float32))
    with pytest.raises(NotApplicable, match="needs preprocess to map the perturbable column 'amount' affinely onto the features"):
        check_model(logarithm, table(), ["tabular[pgd-1]"], settings=perturbable)
