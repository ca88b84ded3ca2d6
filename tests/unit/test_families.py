"""Each family's check measures the example model, and a model from the zoo fails it."""

from __future__ import annotations

import numpy as np
import pytest
import zoo

from pytest_mlguard import check_model
from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import FAMILIES, all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.errors import NotApplicable

EXAMPLE = {
    "accuracy.floor": "0.95",
    "attack.checks": "fgsm-linf-0.1,pgd-linf-0.1",
    "attack.floor": "0.4",
    "calibration.ece_ceiling": "0.05",
    "corruption.floor": "0.7*clean",
    "verdict.error_control": "none",  # one check at a time, at its own 95% (a run shares it among its checks)
}


def run(model, check_id, pipeline=None, **overrides):
    return check_model(model, zoo.digits(), check_id, settings={**EXAMPLE, **overrides}, pipeline=pipeline)[0]


@pytest.fixture(scope="module")
def good():
    return zoo.good_model()


@pytest.mark.parametrize(
    "check_id, broken",
    [
        ("accuracy", zoo.ignores_input_model),
        ("calibration[ece]", zoo.overconfident_model),
        ("attack[pgd-linf-0.1]", zoo.linear_model),
        ("attack[fgsm-linf-0.1]", zoo.linear_model),
        ("corruption[gaussian_noise-5]", zoo.linear_model),
    ],
)
def test_good_model_passes_and_broken_model_fails(good, check_id, broken):
    # ImageNet-C's noise: CIFAR-10-C's, the default at 8 px, is too gentle to break even the linear model
    overrides = {"corruption.reference": "imagenet-c"} if check_id.startswith("corruption") else {}
    assert run(good, check_id, **overrides).passed
    result = run(broken(), check_id, **overrides)
    assert not result.passed, result.verdict()


def test_accuracy_values(good):
    result = run(good, "accuracy")
    assert result.value == pytest.approx(0.9778, abs=1e-4) and result.n == 360
    assert run(zoo.ignores_input_model(), "accuracy").value == pytest.approx(0.1, abs=0.01)


def test_default_accuracy_floor_is_halfway_above_chance(good):
    settings = resolve(environ={}, keys=all_keys())
    result = Evaluation(zoo.ignores_input_model(), zoo.digits(), settings).run(family("accuracy"), family("accuracy").plan(settings)[0])
    assert result.threshold == pytest.approx(0.55) and not result.passed


def test_corruption_relative_floor_uses_clean_accuracy(good):
    result = run(good, "corruption[gaussian_noise-3]")
    assert result.threshold == pytest.approx(0.7 * 0.97777, abs=1e-4)
    assert result.details["clean_accuracy"] == pytest.approx(0.9778, abs=1e-4)
    assert run(good, "corruption[gaussian_noise-5]").value < result.value


def test_same_seed_same_values_other_seed_other_noise(good):
    full = {"verdict.early_stop": "off"}
    a = run(good, "corruption[gaussian_noise-5]", **full)
    b = run(zoo.good_model(), "corruption[gaussian_noise-5]", **full)
    c = run(zoo.good_model(), "corruption[gaussian_noise-5]", seed="1", **full)
    assert a.value == b.value
    assert (a.value, a.details["ece"]) != (c.value, c.details["ece"])


def test_attack_details_and_robust_accuracy_not_above_clean(good):
    result = run(good, "attack[pgd-linf-0.1]")
    assert result.value <= result.details["clean_accuracy"]
    assert result.details["perturbation"]["linf_max"] <= 0.1 + 1e-6
    assert len(result.details["flipped"]) == round((result.details["clean_accuracy"] - result.value) * result.n)


def test_attack_on_black_box_is_not_applicable():
    with pytest.raises(NotApplicable, match="needs the model's gradients"):
        run(zoo.black_box_model(), "attack[pgd-linf-0.1]")


def test_attack_leaves_model_as_it_was():
    model = zoo.good_model()
    model.module.train()
    before = {n: p.detach().clone() for n, p in model.module.named_parameters()}
    run(model, "attack[pgd-linf-0.1]")
    assert model.module.training
    for name, p in model.module.named_parameters():
        assert p.requires_grad and p.grad is None and p.device.type == "cpu"
        assert np.array_equal(p.detach().numpy(), before[name].numpy())


INPUTS_FAST = {"inputs.isolation": "none", "inputs.max_examples": "20"}  # the inputs tests: tests/unit/test_inputs_*.py


@pytest.mark.parametrize(
    "pipeline, passes",
    [(zoo.good_pipeline, True), (zoo.index_error_pipeline, False), (zoo.nan_pipeline, False)],
)
def test_inputs_check(good, pipeline, passes, tmp_path):
    result = run(good, "inputs[corrupt-files]", pipeline=pipeline(), output=str(tmp_path), **INPUTS_FAST)
    assert result.passed is passes
    if not passes:
        assert "saved as" in result.message
        saved = list(tmp_path.rglob("example*.png"))
        assert saved, "the failing inputs are saved"


def test_inputs_check_names_the_stray_exception(good, tmp_path):
    result = run(good, "inputs[corrupt-files]", pipeline=zoo.index_error_pipeline(), output=str(tmp_path), **INPUTS_FAST)
    assert "raised undeclared IndexError" in result.message
    assert "example0-truncated-half" in result.message


def test_every_family_plans_with_defaults():
    settings = resolve(environ={}, keys=all_keys())
    ids = [spec.id for fam in FAMILIES for spec in fam.planned(settings)]
    assert ids == [
        "contract[eval-mode]",
        "contract[input-sizes]",
        "contract[resized-copies]",
        "accuracy",
        "corruption[gaussian_noise-3]",
        "attack[fgsm-linf-2/255]",
        "attack[pgd-linf-2/255]",
        "calibration[ece]",
        "inputs[corrupt-files]",
        "inputs[odd-modes]",
        "inputs[odd-resolutions]",
        "inputs[dtypes]",
        "inputs[missing-fields]",
        "inputs[same-content]",
        "inputs[compression]",
    ]
