"""The result cache's keys: stable for an unchanged check, new for any change to weights, data or settings."""

from __future__ import annotations

import torch
import zoo

from pytest_mlguard.cache import ResultCache, cache_key, fingerprint_model
from pytest_mlguard.checks.evaluation import Evaluation
from pytest_mlguard.checks.registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.contract import EvalData


def key(model, data=None, **cli):
    settings = resolve(cli=cli, environ={}, keys=all_keys())
    evaluation = Evaluation(model, data or zoo.digits(), settings)
    return cache_key(evaluation, family("accuracy").plan(settings)[0])


def test_unchanged_check_has_a_stable_key():
    assert key(zoo.good_model()) == key(zoo.good_model()) is not None


def test_any_weight_change_changes_the_key():
    model = zoo.good_model()
    before = key(model)
    with torch.no_grad():
        next(model.module.parameters()).view(-1)[0] += 1e-6
    assert key(model) != before


def test_data_settings_and_threshold_change_the_key():
    base = key(zoo.good_model())
    data = zoo.digits()
    assert key(zoo.good_model(), EvalData(data.x[:-1], data.y[:-1])) != base
    assert key(zoo.good_model(), seed="1") != base
    assert key(zoo.good_model(), **{"accuracy.floor": "0.9"}) != base
    assert key(zoo.good_model(), output="elsewhere") == base  # where reports go does not change a result


def test_black_box_without_version_is_not_cached():
    assert fingerprint_model(zoo.black_box_model()) is None
    assert key(zoo.black_box_model()) is None


def test_store_and_clear(tmp_path):
    cache = ResultCache(tmp_path / "results")
    assert cache.get("k") is None
    cache.put("k", {"value": 0.5})
    assert cache.get("k") == {"value": 0.5}
    assert cache.clear() == 1 and cache.get("k") is None
