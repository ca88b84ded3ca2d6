"""The model as deployed, not as tidied: submodules left in train mode, and image sizes other than the
declared one reaching the model itself.

Each broken model of the zoo fails the check built to catch it and passes the others here.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import zoo
from torch import nn

from pytest_mlguard import CallableModel, InvalidArgument, TorchModel, check_model
from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.errors import ConfigError, NotApplicable
from pytest_mlguard.production._compare import thread_count


@pytest.fixture(autouse=True)
def one_torch_thread():
    with thread_count(1):
        yield


def settings(**cli):
    return resolve(cli={k.replace("__", "."): v for k, v in cli.items()}, environ={}, keys=all_keys())


def run(model, check_id, samples="120", **cli):
    values = {"samples": samples, **cli}
    return check_model(model, zoo.digits(), check_id, settings={k.replace("__", "."): v for k, v in values.items()})[0]


def quiet(make):
    """``make()`` with the train-mode warning of the declaration silenced (tested on its own)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make()


# -- train mode: recorded at declaration ------------------------------------------------------------------
def test_declaration_records_train_mode_and_warns_naming_the_layers():
    with pytest.warns(UserWarning, match=r"model 'train-mode': norm \(BatchNorm2d\) is in train mode") as caught:
        model = zoo.train_mode_model()
    assert model.train_mode_layers == ("norm",)
    assert {"", "norm", "net"} <= set(model.train_mode)
    message = str(caught[0].message)
    assert "call .eval()" in message and "mode='as-given'" in message
    assert model.describe()["train_mode"] == sorted(model.train_mode)


def test_eval_mode_modules_and_harmless_train_mode_wrappers_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        good, wrapper = zoo.good_model(), zoo.thread_unsafe_model()  # KeepsRequestOnSelf is never .eval()'d
        TorchModel(nn.Linear(4, 3), input_shape=(4,), n_classes=3)  # a new Linear is in train mode: it changes nothing
    assert good.train_mode == () and good.train_mode_layers == ()
    assert wrapper.train_mode == ("",) and wrapper.train_mode_layers == ()


@pytest.mark.parametrize(
    "layer, named",
    [
        (nn.Dropout(0.5), "Dropout"),
        (nn.BatchNorm1d(4), "BatchNorm1d"),
        (nn.InstanceNorm1d(4, track_running_stats=True), "InstanceNorm1d"),
        (nn.LSTM(4, 4, num_layers=2, dropout=0.2), "LSTM"),
    ],
)
def test_layers_that_compute_otherwise_in_train_mode_are_named(layer, named):
    module = nn.Sequential(nn.Linear(4, 4), layer).eval()
    layer.train()
    with pytest.warns(UserWarning, match=rf"model 'torch': 1 \({named}\) is in train mode"):
        model = TorchModel(module, input_shape=(4,), n_classes=4)
    assert model.train_mode == model.train_mode_layers == ("1",)


@pytest.mark.parametrize("harmless", [nn.Dropout(0.0), nn.BatchNorm1d(4, track_running_stats=False), nn.LSTM(4, 4, dropout=0.0)])
def test_layers_that_compute_the_same_in_train_mode_are_not(harmless):
    module = nn.Sequential(nn.Linear(4, 4), harmless).eval()
    harmless.train()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TorchModel(module, input_shape=(4,), n_classes=4).train_mode_layers == ()


def test_mode_must_be_eval_or_as_given():
    with pytest.raises(InvalidArgument, match=r"Expected 'eval' or 'as-given' but got mode='train' \(type=str\)"):
        TorchModel(nn.Linear(4, 3), input_shape=(4,), n_classes=3, mode="train")


# -- train mode: contract[eval-mode] ---------------------------------------------------------------------
def test_eval_mode_check_fails_a_batch_norm_left_in_train_mode_naming_it():
    result = run(quiet(zoo.train_mode_model), "contract[eval-mode]")
    assert not result.passed and result.metric == "train_mode_layers" and result.kind == "ceiling" and result.value == 1
    assert "norm (BatchNorm2d" in result.message and "call .eval()" in result.message
    assert "the top-1 class of requests of one sample agreed with eval mode on" in result.message
    assert result.details["train_mode_layers"] == ["norm"] and result.details["max_proba_diff"] > 0.1


@pytest.mark.parametrize("make", [zoo.good_model, zoo.thread_unsafe_model, zoo.batch_dependent_model, zoo.odd_size_nan_model])
def test_eval_mode_check_passes_models_whose_train_mode_changes_nothing(make):
    result = run(make(), "contract[eval-mode]")
    assert result.passed and result.value == 0, result.message


def test_own_layer_that_reads_self_training_is_caught_by_its_outputs():
    class NoiseWhileTraining(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + torch.randn_like(x) if self.training else x

    module = nn.Sequential(NoiseWhileTraining(), zoo.load_model())
    module[1].eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing known to depend on the mode: no warning at declaration
        model = TorchModel(module, input_shape=(1, 8, 8), mean=zoo.MEAN, std=zoo.STD, n_classes=10, name="own-noise")
    result = run(model, "contract[eval-mode]")
    assert not result.passed and result.value == 1 and "0 (NoiseWhileTraining)" in result.message, result.message


def test_train_mode_declared_on_purpose_passes_and_every_check_runs_in_it():
    module = zoo.InputBatchNorm(zoo.load_model()).train()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = TorchModel(module, input_shape=(1, 8, 8), class_names=zoo.CLASS_NAMES, name="as-given", mode="as-given")
    result = run(model, "contract[eval-mode]")
    assert result.passed and result.value == 0 and result.details["declared"] == "as-given"
    with model.running():
        assert module.norm.training  # the module as the service runs it
    assert not run(model, "determinism[batch]").passed


def test_eval_mode_check_does_not_apply_to_a_black_box():
    with pytest.raises(NotApplicable, match=r"model 'black-box' is a callable model: it has no train or eval mode"):
        run(zoo.black_box_model(), "contract[eval-mode]")


# -- train mode: determinism and drift run the module in the mode given as well as in eval mode -----------------
def test_determinism_batch_fails_in_the_mode_given_and_passes_in_eval_mode():
    result = run(quiet(zoo.train_mode_model), "determinism[batch]")
    assert not result.passed
    assert result.details["modes"]["eval"]["value"] == 1.0 and result.details["modes"]["given"]["value"] < 1.0
    assert result.message.startswith("in the mode given (train mode: norm (BatchNorm2d)): ")
    assert "in eval mode: every sample matched" in result.message


@pytest.mark.parametrize("check", ["determinism[repeat]", "determinism[threads]", "drift[bfloat16]", "drift[threads]", "drift[int8]", "drift[torchscript]"])
def test_train_mode_model_passes_the_other_production_checks_in_both_modes(check):
    result = run(quiet(zoo.train_mode_model), check)
    assert result.passed, result.message
    assert set(result.details["modes"]) == {"eval", "given"}


def test_running_in_the_mode_given_leaves_the_module_as_it_was():
    model = quiet(zoo.train_mode_model)
    norm = model.module.norm
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    for check in ("determinism[batch]", "drift[torchscript]", "drift[int8]", "contract[eval-mode]"):
        run(model, check)
    assert all(torch.equal(before[k], v) for k, v in model.module.state_dict().items())  # running statistics untouched
    assert norm.training and model.module.training


def test_a_module_all_in_eval_mode_is_measured_once():
    result = run(zoo.good_model(), "determinism[batch]")
    assert result.passed and "modes" not in result.details


# -- input sizes at the model ----------------------------------------------------------------------------
def test_sizes_fed_to_the_model_follow_the_declared_size():
    from pytest_mlguard.contract._sizes import other_sizes

    assert other_sizes((3, 224, 224)) == {
        "1x1": (1, 1),
        "odd-width": (224, 225),
        "odd-height": (225, 224),
        "odd": (225, 225),
        "wide": (112, 896),
        "tall": (896, 112),
        "2x": (448, 448),
    }
    assert other_sizes((1, 7, 9))["odd"] == (9, 11) and other_sizes((1, 7, 9))["odd-width"] == (7, 11)


@pytest.mark.parametrize("check", ["contract[input-sizes]", "contract[resized-copies]"])
def test_a_model_of_one_size_only_is_probed_once_and_skipped(check):
    with pytest.raises(NotApplicable, match=r"model 'digits' takes only its declared size 8x8: a 16x16 input raised RuntimeError"):
        run(zoo.good_model(), check)


def test_a_model_that_takes_any_size_passes_both():
    model = zoo.adaptive_model()
    sizes = run(model, "contract[input-sizes]", samples="200")
    assert sizes.passed and sizes.value == 1.0 and sizes.n == 7 * 200, sizes.message
    copies = run(model, "contract[resized-copies]", samples="200")
    assert copies.passed and copies.metric == "agreement" and copies.n == 200, copies.message
    assert set(copies.details["agreement_by_size"]) == {"8x9", "9x8", "9x9", "16x16"}
    assert copies.value == min(copies.details["agreement_by_size"].values())


def test_nan_on_odd_sizes_fails_input_sizes_naming_the_sizes():
    model = zoo.odd_size_nan_model()
    result = run(model, "contract[input-sizes]")
    assert not result.passed and result.value == pytest.approx(3 / 7)
    assert "returned NaN or inf at 1x1, 8x9, 9x8, 9x9 (120 of 120 samples each)" in result.message, result.message
    assert result.details["by_size"]["9x9"] == {"size": [9, 9], "n": 120, "non_finite": 120, "raised": 0, "error": None}
    assert run(model, "contract[resized-copies]").passed  # the valid copies (2x) keep their class


def test_a_model_raising_on_some_sizes_fails_input_sizes_with_the_error():
    def predict(batch: np.ndarray) -> np.ndarray:
        if min(batch.shape[-2:]) < 4:
            raise ValueError(f"image of {batch.shape[-2]}x{batch.shape[-1]} is smaller than the 4x4 kernel")
        return np.full((len(batch), 10), 0.1)

    model = CallableModel(predict, input_shape=(1, 8, 8), n_classes=10, name="needs-4x4")
    result = run(model, "contract[input-sizes]")
    assert not result.passed and result.value == pytest.approx(6 / 7)
    assert "raised at 1x1: ValueError: image of 1x1 is smaller than the 4x4 kernel" in result.message, result.message


def test_cropping_instead_of_resizing_fails_resized_copies_naming_the_size():
    model = zoo.crops_to_size_model()
    result = run(model, "contract[resized-copies]", samples="200")
    assert not result.passed and result.value < 0.3, result.message
    assert result.message.startswith("a copy of the same picture at 16x16 got another class than at 8x8 for")
    assert run(model, "contract[input-sizes]").passed


def test_the_odd_size_nan_service_resizes_so_its_inputs_checks_pass(tmp_path):
    s = resolve(cli={"output": str(tmp_path), "samples": "30", "inputs.isolation": "none", "inputs.max_examples": "15"}, environ={}, keys=all_keys())
    evaluation = Evaluation(zoo.odd_size_nan_model(), zoo.digits(), s, pipeline=zoo.odd_size_nan_pipeline())
    inputs = family("inputs")
    for check in ("odd-resolutions", "odd-modes"):
        result = evaluation.run(inputs, inputs.spec(check, s))
        assert result.passed, result.message


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("contract.checks", "eval-mode,speed", "expected one of 'eval-mode', 'input-sizes', 'resized-copies'"),
        ("contract.sizes", "1x1,3x3", "expected one of '1x1', 'odd-width', 'odd-height', 'odd', 'wide', 'tall', '2x'"),
        ("contract.samples", "0", "expected an integer in [1, 100000]"),
        ("contract.agreement_floor", "1.5", "expected a number in [0, 1]"),
    ],
)
def test_invalid_settings_name_key_value_and_place(key, value, message):
    with pytest.raises(ConfigError, match=rf"for '{re.escape(key)}(\[\d\])?' in command line.*{re.escape(message)}"):
        settings(**{key.replace(".", "__"): value})


def test_contract_checks_are_planned_by_default_and_sizes_can_be_narrowed():
    fam = family("contract")
    assert [spec.id for spec in fam.planned(settings())] == ["contract[eval-mode]", "contract[input-sizes]", "contract[resized-copies]"]
    result = run(zoo.odd_size_nan_model(), "contract[input-sizes]", contract__sizes="wide,tall,2x")
    assert result.passed and result.n == 3 * 120


def test_the_gate_compares_robustness_not_the_contract(tmp_path):
    s = settings(samples="60", output=str(tmp_path), gate__checks="robustness", attack__checks="fgsm-linf-0.1", attack__steps="5")
    gate = family("gate")
    evaluation = Evaluation(zoo.linear_model(), zoo.digits(), s).with_extras({"baseline_model": zoo.good_model()})
    result = evaluation.run(gate, gate.spec("robustness", s))
    compared = [m["id"] for m in result.details["metrics"]] + result.details["skipped"]
    assert compared and not [entry for entry in compared if "contract" in entry], compared


def test_buffers_are_restored_by_name_even_where_moving_the_module_replaced_them():
    from pytest_mlguard.contract._modes import kept_buffers

    module = zoo.InputBatchNorm(zoo.load_model()).train()
    before = module.norm.running_mean.clone()
    with kept_buffers(module):
        module.to(torch.float64).to(torch.float32)  # as .to(device) does, a new tensor for every buffer
        module(torch.rand(4, 1, 8, 8))  # train mode: overwrites the running statistics
        assert not torch.equal(module.norm.running_mean, before)
    assert torch.equal(module.norm.running_mean, before)
