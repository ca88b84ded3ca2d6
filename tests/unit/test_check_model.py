"""pytest_mlguard.check_model: checks without pytest, the suite's results and verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zoo
from pytest_mlguard import CheckResult, ConfigError, ContractError, EvalData, InvalidArgument, check_model
from pytest_mlguard.checks._registry import FAMILIES

SETTINGS = {"accuracy.floor": 0.9, "calibration.ece_ceiling": "0.05", "verdict.error_control": "none"}


@pytest.fixture(scope="module")
def digits():
    return zoo.digits()


@pytest.mark.parametrize(
    "check_id, broken",
    [("accuracy", zoo.ignores_input_model), ("calibration[ece]", zoo.overconfident_model)],
)
def test_a_broken_zoo_model_fails_the_check_a_good_one_passes(digits, check_id, broken):
    good, bad = (check_model(model(), digits, check_id, settings=SETTINGS) for model in (zoo.good_model, broken))
    assert [r.id for r in good] == [r.id for r in bad] == [check_id]
    assert isinstance(good[0], CheckResult) and good[0].passed and good[0].label == "passed"
    assert not bad[0].passed and bad[0].label == "failed", bad[0].verdict()


def test_results_are_those_of_the_suite_with_verdicts_and_seeded(digits):
    results = check_model(zoo.good_model(), digits, ["accuracy", "corruption[gaussian_noise-3]"], settings={**SETTINGS, "seed": 3, "samples": 200})
    again = check_model(zoo.good_model(), digits, ["accuracy", "corruption[gaussian_noise-3]"], settings={**SETTINGS, "seed": 3, "samples": 200})
    assert [r.id for r in results] == ["accuracy", "corruption[gaussian_noise-3]"]
    assert [r.value for r in results] == [r.value for r in again]
    assert results[0].n == 200  # samples: a seeded subset
    assert all(r.seed == 3 and 0 < r.n <= 200 and r.interval is not None and r.label for r in results)
    json.dumps([r.to_dict() for r in results], allow_nan=False)  # the report's check objects


def test_default_plan_runs_every_planned_check_the_fixtures_allow(digits):
    results = check_model(zoo.good_model(), digits, settings={**SETTINGS, "corruption.corruptions": "gaussian_noise", "corruption.severities": "3", "attack.enabled": "false"})
    ids = [r.id for r in results]
    assert {"accuracy", "corruption[gaussian_noise-3]", "calibration[ece]"} <= set(ids) and ids[0].startswith("contract[")
    assert not any(r.family in ("attack", "inputs") for r in results)  # disabled; inputs need a pipeline


def test_plain_arrays_and_bare_callables_are_declared_as_the_fixtures_would_be():
    x = np.linspace(0, 1, 60, dtype=np.float32).reshape(-1, 1)
    y = (x[:, 0] > 0.5).astype(int)
    (result,) = check_model(lambda batch: np.eye(2)[(batch[:, 0] > 0.5).astype(int)], (x, y), "accuracy", settings={"accuracy.floor": 0.9})
    assert result.passed and result.value == 1.0


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"checks": "acuracy"}, InvalidArgument, "Expected a check id whose family is one of contract, accuracy, corruption, attack, calibration, inputs"),
        ({"checks": "acuracy"}, InvalidArgument, "but got check_id='acuracy'"),
        ({"checks": "attack[pgd-l3-0.1]"}, InvalidArgument, "expected an attack check such as 'pgd-linf-0.1'"),
        ({"checks": "calibration[foo]"}, InvalidArgument, "no check calibration[foo]; expected one of"),
        ({"checks": "Accuracy!"}, InvalidArgument, "Expected a check id such as 'accuracy' or 'corruption[gaussian_noise-3]' but got check_id='Accuracy!'"),
        ({"checks": 3}, InvalidArgument, "Expected a check id or a list of them, such as 'accuracy' or ['attack[pgd-linf-0.1]'] but got checks=3 (type=int)"),
        ({"settings": {"accuracy.floor": 1.7}}, ConfigError, "invalid value 1.7 (type=float) for 'accuracy.floor' in check_model(settings={'accuracy.floor': ...}): expected a number in [0, 1]"),
        ({"settings": {"acuracy.floor": 0.9}}, ConfigError, "unknown mlguard setting 'acuracy.floor' in check_model(settings={'acuracy.floor': ...}); did you mean 'accuracy.floor'?"),
        ({"settings": ["accuracy.floor"]}, InvalidArgument, "Expected a mapping of setting names to values, such as {'accuracy.floor': 0.9} but got settings=['accuracy.floor'] (type=list)"),
        ({"settings": {1: 0.9}}, InvalidArgument, "Expected setting names (str), such as 'accuracy.floor' but got a settings key=1 (type=int) in check_model(settings=...)"),
    ],
)
def test_bad_check_ids_and_settings_are_clear_errors(digits, kwargs, error, message):
    with pytest.raises(error) as caught:
        check_model(zoo.good_model(), digits, **{"checks": "accuracy", **kwargs})
    assert message in str(caught.value)


def test_a_broken_declaration_is_a_contract_error_before_any_check(digits):
    with pytest.raises(ContractError, match="Expected evaluation samples of the model's input shape"):
        check_model(zoo.good_model(), EvalData(np.zeros((4, 3), np.float32), [0, 1, 2, 3]), "accuracy")


def test_every_family_is_reachable_by_id():
    names = [f.name for f in FAMILIES]
    message = f"Expected a check id whose family is one of {', '.join(names)}"
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        check_model(None, None, "nope")
