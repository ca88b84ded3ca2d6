"""The model contract: adapters, data, pipeline, and that running a check leaves a model as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlguard import (
    CallableModel,
    EvalData,
    InvalidArgument,
    MlguardError,
    NonFiniteOutput,
    Pipeline,
    SklearnModel,
    TorchModel,
)
from pytest_mlguard.contract import as_data, as_model


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.BatchNorm1d(3))


def test_torch_model_probabilities_and_normalisation():
    net = nn.Sequential(nn.Flatten(), nn.Identity())
    model = TorchModel(net, input_shape=(2, 1, 1), n_classes=2, mean=(1.0, 0.0), std=(1.0, 2.0), output="logits")
    proba = model.predict_proba(np.array([[[[1.0]], [[4.0]]]], np.float32))
    # normalised input is (0, 2): softmax of logits (0, 2)
    expected = np.exp([0.0, 2.0]) / np.exp([0.0, 2.0]).sum()
    np.testing.assert_allclose(proba[0], expected, rtol=1e-6)


def test_running_restores_mode_requires_grad_grad_and_device():
    net = tiny_net()
    net.train()
    net[1].weight.requires_grad_(False)
    net[1].bias.grad = torch.ones(3)
    model = TorchModel(net, input_shape=(4,), n_classes=3)
    with model.running("cpu"):
        assert not net.training
        for p in net.parameters():
            p.requires_grad_(False)
            p.grad = None
        model.predict_proba(np.zeros((2, 4), np.float32))
    assert net.training and net[2].training
    assert net[1].weight.requires_grad is False and net[1].bias.requires_grad is True
    assert torch.equal(net[1].bias.grad, torch.ones(3))


def test_batch_shape_is_checked():
    model = TorchModel(tiny_net(), input_shape=(4,), n_classes=3)
    with pytest.raises(InvalidArgument, match=r"Expected a batch of shape \(N, 4\) for model 'torch' but got shape \(2, 5\)"):
        model.predict_proba(np.zeros((2, 5)))


def test_wrong_output_width_is_reported():
    model = CallableModel(lambda x: np.zeros((len(x), 4)), input_shape=(4,), n_classes=3, name="api")
    with pytest.raises(InvalidArgument, match=r"model 'api' returned outputs of shape \(2, 4\) for a batch of 2 samples: expected \(2, 3\)"):
        model.predict_proba(np.zeros((2, 4)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: TorchModel(object(), input_shape=(4,), n_classes=3), "Expected a torch.nn.Module but got module="),
        (lambda: TorchModel(tiny_net(), input_shape=(0, 4), n_classes=3), "Expected a non-empty tuple of positive ints"),
        (lambda: TorchModel(tiny_net(), input_shape=(4,), n_classes=1), "Expected an int >= 2 but got n_classes=1"),
        (lambda: TorchModel(tiny_net(), input_shape=(4,)), "Expected n_classes or class_names"),
        (lambda: TorchModel(tiny_net(), input_shape=(4,), class_names=["a", "a"]), "Expected distinct class names"),
        (lambda: TorchModel(tiny_net(), input_shape=(4,), n_classes=3, class_names=["a", "b"]), "Expected 3 class names"),
        (lambda: TorchModel(tiny_net(), input_shape=(4,), n_classes=3, value_range=(1, 0)), "low < high"),
        (lambda: TorchModel(tiny_net(), input_shape=(4,), n_classes=3, std=0.0), "Expected a positive number"),
        (
            lambda: TorchModel(tiny_net(), input_shape=(3, 2, 2), n_classes=3, mean=(0.1, 0.2)).predict_proba(np.zeros((1, 3, 2, 2))),
            "Expected 1 or 3 per-channel numbers (input_shape=(3, 2, 2) has 3 channels) but got mean=(0.1, 0.2)",
        ),
        (lambda: TorchModel(tiny_net(), input_shape=(4,), n_classes=3, device="gpu7"), "Expected a torch device such as cpu, cuda, cuda:0 or mps"),
        (lambda: TorchModel(tiny_net(), input_shape=(4,), n_classes=3, output="scores"), "but got output='scores'"),
        (lambda: CallableModel("f", input_shape=(4,), n_classes=3), "Expected a callable batch -> scores"),
        (lambda: SklearnModel(object()), "Expected an estimator with predict_proba"),
        (lambda: EvalData(np.zeros((3, 2)), [0, 1]), "Expected y of shape (3,)"),
        (lambda: EvalData(np.zeros((2, 2)), [0.5, 1]), "Expected integer class labels"),
        (lambda: EvalData(np.array([[0.0], [np.nan]]), [0, 1]), "sample 1 holds NaN or inf"),
        (lambda: EvalData(np.zeros((0, 2)), []), "N >= 1 samples"),
        (lambda: Pipeline(lambda b: 0, rejects=Exception), "declare the pipeline's own error class"),
        (lambda: Pipeline(lambda b: 0, rejects="ValueError"), "Expected Exception subclasses"),
        (lambda: Pipeline(lambda b: 0, input="video"), "but got input='video'"),
        (lambda: Pipeline(lambda r: 0, input="record"), "at least one valid record"),
        (lambda: Pipeline(lambda b: 0, decode="grey"), "Expected a callable raw image -> model input but got decode='grey'"),
        (lambda: Pipeline(lambda r: 0, input="record", examples=[{}], decode=dict), "Expected decode=None for a record pipeline"),
        (lambda: as_model(42, EvalData(np.zeros((2, 2)), [0, 1])), "but got mlguard_model=42 (type=int)"),
        (lambda: as_data("data.csv"), "but got mlguard_data='data.csv'"),
        (  # int() truncated these to 0 before
            lambda: as_data(torch.utils.data.TensorDataset(torch.zeros(2, 3), torch.tensor([0.5, 1.0]))),
            "Expected integer class labels in y but got dtype float32 with values that are not whole numbers, such as 0.5",
        ),
        (lambda: EvalData(np.zeros((2, 3)), np.eye(2)), "Expected y of shape (2,), one label per sample, but got shape (2, 2): one-hot labels? pass y.argmax(axis=1)"),
    ],
)
def test_invalid_arguments(make, message):
    with pytest.raises(InvalidArgument) as info:
        make()
    assert message in str(info.value)


def test_sklearn_model_and_label_encoding():
    from sklearn.linear_model import LogisticRegression

    est = LogisticRegression().fit([[0.0], [1.0], [0.1], [0.9]], [0, 1, 0, 1])
    model = SklearnModel(est)
    assert model.input_shape == (1,) and model.predict(np.array([[0.0], [1.0]])).tolist() == [0, 1]
    strings = LogisticRegression().fit([[0.0], [1.0]], ["cat", "dog"])
    with pytest.raises(InvalidArgument, match="LabelEncoder"):
        SklearnModel(strings)


def test_as_model_infers_spec_from_data():
    data = EvalData(np.random.default_rng(0).random((6, 4)), [0, 1, 2, 0, 1, 2])
    model = as_model(tiny_net().eval(), data)
    assert isinstance(model, TorchModel) and model.input_shape == (4,) and model.n_classes == 3
    assert model.value_range == (0.0, 1.0)
    black_box = as_model(lambda x: np.full((len(x), 3), 1 / 3), data)
    assert isinstance(black_box, CallableModel)


def test_as_data_from_tensors_dataset_and_loader():
    x, y = torch.rand(10, 1, 2, 2), torch.arange(10) % 2
    dataset = torch.utils.data.TensorDataset(x, y)
    for source in ((x, y), dataset, torch.utils.data.DataLoader(dataset, batch_size=3)):
        data = as_data(source)
        assert data.n == 10 and data.sample_shape == (1, 2, 2)
        np.testing.assert_array_equal(data.y, y.numpy())


def test_subset_is_seeded_and_ordered():
    data = EvalData(np.arange(20, dtype=np.float32)[:, None], np.arange(20) % 2)
    a, b = data.subset(5, seed=1), data.subset(5, seed=1)
    np.testing.assert_array_equal(a.x, b.x)
    assert list(a.x[:, 0]) == sorted(a.x[:, 0]) and data.subset(None, 0) is data


def test_the_digits_examples_frozen_test_split_is_scikit_learns():
    """examples/digits/digits_test.npz (loaded without scikit-learn) must be the split the weights were
    measured on; a new scikit-learn that reshuffles load_digits would show here."""
    import zoo  # puts examples/digits on sys.path, before the example's module
    import model as digits_example

    assert zoo.DIGITS.is_dir()

    frozen = digits_example.load_digits_split("test")
    fresh = digits_example.split_from_sklearn("test")
    assert frozen[0].dtype == fresh[0].dtype == np.float32 and frozen[1].dtype == fresh[1].dtype == np.int64
    assert np.array_equal(frozen[0], fresh[0]) and np.array_equal(frozen[1], fresh[1])
    assert digits_example.TEST_SPLIT.is_file() and len(frozen[1]) == 360


# -- model output: malformed outputs are contract errors, non-finite ones fail the check -----------------
@pytest.mark.parametrize(
    "output, message",
    [
        (lambda x: [np.zeros((len(x), 3))] * 2, "model 'api' returned a list of 2 items (ndarray (2, 3), ndarray (2, 3)) for a batch of 2 samples: expected an array of shape (2, 3) of logits"),
        (lambda x: (np.zeros((len(x), 3)),), "model 'api' returned a tuple of 1 item (ndarray (2, 3)) for a batch of 2 samples"),
        (lambda x: {"logits": np.zeros((len(x), 3))}, "model 'api' returned a dict with keys ['logits'] for a batch of 2 samples"),
        (lambda x: np.zeros((1, 3)), "model 'api' returned outputs of shape (1, 3) for a batch of 2 samples: expected (2, 3) (one row per sample)"),
        (lambda x: np.zeros((len(x), 3, 1)), "model 'api' returned outputs of shape (2, 3, 1) for a batch of 2 samples: expected (2, 3)"),
        (lambda x: np.zeros(len(x)), "model 'api' returned outputs of shape (2,) for a batch of 2 samples: expected (2, 3)"),
        (lambda x: np.zeros((len(x), 3), dtype=np.int64), "model 'api' returned outputs of dtype int64: expected floating-point logits"),
        (lambda x: np.full((len(x), 3), "a"), "model 'api' returned outputs of dtype <U1: expected floating-point logits"),
        (lambda x: None, "model 'api' returned None for a batch of 2 samples"),
    ],
)
def test_malformed_outputs_are_contract_errors(output, message):
    model = CallableModel(output, input_shape=(4,), n_classes=3, name="api", output="logits")
    with pytest.raises(InvalidArgument) as info:
        model.predict_proba(np.zeros((2, 4)))
    assert message in str(info.value)


def test_a_module_returning_a_list_is_a_contract_error_not_an_attribute_error():
    class TwoHeads(nn.Module):
        def forward(self, x):
            return [x, x]

    model = TorchModel(TwoHeads(), input_shape=(3,), n_classes=3, name="heads")
    with pytest.raises(InvalidArgument, match=r"model 'heads' returned a list of 2 items \(Tensor \(2, 3\), Tensor \(2, 3\)\) for a batch of 2 samples: expected an array of shape \(2, 3\) of logits"):
        model.predict_proba(np.zeros((2, 3), np.float32))


def test_non_finite_outputs_name_how_many_samples_and_which():
    def predict(x):
        proba = np.full((len(x), 2), 0.5)
        proba[x[:, 0] > 0.5] = np.nan
        return proba

    model = CallableModel(predict, input_shape=(1,), n_classes=2, name="api")
    with pytest.raises(MlguardError) as info:
        model.predict_proba(np.array([[0.0], [1.0], [0.2], [0.9]]))
    assert str(info.value).startswith("model 'api' returned NaN or inf probabilities for 2 of 4 samples: rows 1, 3")


def test_a_nan_model_fails_every_check():
    """It passed accuracy and corruption before: a NaN row's argmax is class 0."""
    import zoo

    from pytest_mlguard.checks._evaluation import Evaluation
    from pytest_mlguard.checks._registry import all_keys, family
    from pytest_mlguard.config import resolve

    settings = resolve(keys=all_keys(), environ={}, cli={"samples": "120", "attack.steps": "3", "attack.samples": "40"})
    evaluation = Evaluation(zoo.nan_model(), zoo.digits(), settings)
    for check in ("accuracy", "corruption[gaussian_noise-3]", "calibration[ece]", "attack[fgsm-linf-0.1]", "determinism[batch]"):
        name, _, rest = check.partition("[")
        result = evaluation.run(family(name), family(name).spec(rest.rstrip("]") or None, settings))
        assert not result.passed, check
        assert "model 'nan-on-bright' returned NaN or inf probabilities for" in result.message, (check, result.message)
        assert result.details["non_finite"]["count"] > 0


# -- labels and loaders -----------------------------------------------------------------------------------
def test_integral_float_labels_are_accepted_with_a_warning():
    with pytest.warns(UserWarning, match=r"Expected integer class labels in y but got dtype float32: the labels are whole numbers, so they are used as int64"):
        data = EvalData(np.zeros((3, 2)), np.array([0.0, 1.0, 2.0], np.float32))
    assert data.y.dtype == np.int64 and data.y.tolist() == [0, 1, 2]


def test_a_shuffling_loader_is_read_in_the_datasets_order():
    """The seeded subset followed the loader's shuffled order (accuracy 0.68 against 0.70 in a trial)."""
    x, y = torch.arange(40, dtype=torch.float32).reshape(20, 2), torch.arange(20) % 3
    dataset = torch.utils.data.TensorDataset(x, y)
    torch.manual_seed(0)
    data = as_data(torch.utils.data.DataLoader(dataset, batch_size=6, shuffle=True, drop_last=True))
    np.testing.assert_array_equal(data.x, x.numpy())
    np.testing.assert_array_equal(data.y, y.numpy())
    subset = torch.utils.data.DataLoader(dataset, batch_size=4, sampler=torch.utils.data.SubsetRandomSampler([9, 3, 15, 1]))
    np.testing.assert_array_equal(as_data(subset).y, y.numpy()[[1, 3, 9, 15]])


# -- the declaration as a whole ---------------------------------------------------------------------------
def test_the_declaration_is_checked_shape_first():
    """A 1-channel input_shape for 3-channel data blamed mean=(...) before."""
    from pytest_mlguard.contract._declaration import check_declaration
    from pytest_mlguard.errors import ContractError

    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    model = TorchModel(net, input_shape=(1, 2, 2), n_classes=3, mean=(0.485, 0.456, 0.406))
    data = EvalData(np.zeros((4, 3, 2, 2)), [0, 1, 2, 0])
    with pytest.raises(ContractError) as info:
        check_declaration(model, data)
    assert str(info.value) == (
        "mlguard_model and mlguard_data: Expected evaluation samples of the model's input shape (1, 2, 2) but "
        "mlguard_data holds samples of shape (3, 2, 2): check input_shape=(C, H, W) of the model, whose C=1, "
        "against the data's 3 channels"
    )
    channels_last = EvalData(np.zeros((4, 2, 2, 3)), [0, 1, 2, 0])
    with pytest.raises(ContractError, match=r"channels last\? give the samples channels first"):
        check_declaration(TorchModel(net, input_shape=(3, 2, 2), n_classes=3), channels_last)
    with pytest.raises(ContractError, match=r"^mlguard_model: Expected 1 or 1 per-channel numbers \(input_shape=\(1, 2, 2\) has 1 channel\) but got mean="):
        check_declaration(model, EvalData(np.zeros((4, 1, 2, 2)), [0, 1, 2, 0]))
    with pytest.raises(ContractError, match=r"^mlguard_model and mlguard_data: Expected labels in 0..2 for model 'torch' but mlguard_data holds label 5"):
        check_declaration(TorchModel(net, input_shape=(3, 2, 2), n_classes=3), EvalData(np.zeros((2, 3, 2, 2)), [0, 5]))


@pytest.mark.parametrize(
    "fn, message",
    [
        (lambda x: [np.zeros((len(x), 3))] * 2, "mlguard_model: model 'api' returned a list of 2 items"),
        (lambda x: np.zeros((3, 3)), "mlguard_model: model 'api' returned outputs of shape (3, 3) for a batch of 2 samples"),
        (lambda x: 1 / 0, "mlguard_model: model 'api' raised ZeroDivisionError at test_contract.py:"),
    ],
)
def test_the_declaration_calls_the_model_once(fn, message):
    from pytest_mlguard.contract._declaration import check_declaration
    from pytest_mlguard.errors import ContractError

    model = CallableModel(fn, input_shape=(4,), n_classes=3, name="api", output="logits")
    with pytest.raises(ContractError) as info:
        check_declaration(model, EvalData(np.zeros((6, 4)), [0, 1, 2, 0, 1, 2]))
    assert str(info.value).startswith(message), str(info.value)


def test_nan_at_the_declaration_is_left_to_the_checks():
    from pytest_mlguard.contract._declaration import check_declaration

    model = CallableModel(lambda x: np.full((len(x), 2), np.nan), input_shape=(1,), n_classes=2)
    adapted, data = check_declaration(model, EvalData(np.zeros((4, 1)), [0, 1, 0, 1]))
    assert adapted is model and data.n == 4


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine with a GPU has the device")
def test_a_device_this_machine_lacks_is_named_before_any_check():
    from pytest_mlguard.contract._declaration import check_declaration
    from pytest_mlguard.errors import ContractError

    model = TorchModel(tiny_net(), input_shape=(4,), n_classes=3)
    with pytest.raises(ContractError, match=r"^mlguard_model: device 'cuda:0' \(from command line \(--mlguard-device\)\) is not available on this machine"):
        check_declaration(model, EvalData(np.zeros((4, 4)), [0, 1, 2, 0]), device="cuda:0", device_source="command line (--mlguard-device)")


def test_range_warning_beyond_one_percent_of_the_range():
    from pytest_mlguard.contract._declaration import range_warning

    model = CallableModel(lambda x: np.full((len(x), 2), 0.5), input_shape=(1,), n_classes=2, name="api")
    assert range_warning(model, EvalData(np.array([[0.0], [1.005]]), [0, 1])) is None
    text = range_warning(model, EvalData(np.array([[-2.1], [2.6]]), [0, 1], name="normalised"))
    assert text.startswith("mlguard_data 'normalised' holds values in [-2.1, 2.6], outside the value_range (0, 1) of mlguard_model 'api': attacks clip")


@pytest.mark.parametrize("check", ["attack[fgsm-linf-0.1]", "attack[pgd-linf-sweep]"])  # one attack call, and chunks (a sweep)
def test_an_attack_names_the_nan_samples_of_mlguard_data(check):
    """It named ``rows 22, 29, ...``, places in its shuffled subset, with ``samples: null`` in the report."""
    import zoo

    from pytest_mlguard.checks._evaluation import Evaluation
    from pytest_mlguard.checks._registry import all_keys, family
    from pytest_mlguard.config import resolve

    settings = resolve(keys=all_keys(), environ={}, cli={"samples": "120", "attack.steps": "3", "attack.samples": "40"})
    evaluation = Evaluation(zoo.nan_model(), zoo.digits(), settings)
    name, _, rest = check.partition("[")
    result = evaluation.run(family(name), family(name).spec(rest.rstrip("]"), settings))
    found = result.details["non_finite"]
    model, x = zoo.nan_model(), zoo.digits().x
    assert found["samples"] and len(found["samples"]) == found["count"], found
    with pytest.raises(NonFiniteOutput) as info:  # what the clean predictions name for those samples
        model.predict_proba(x[found["samples"]])
    assert len(info.value.rows) == len(found["samples"]), found
    assert f"mlguard_data samples {', '.join(map(str, found['samples'][:10]))}" in result.message, result.message
