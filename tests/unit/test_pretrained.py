"""The adapters of pretrained-model libraries: a transformers image classifier and a timm model predict
what the library's own preprocessing and model predict, read their preprocessing from their config, and
take the gradient attacks."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import zoo
import zoo_formats
from model import CLASS_NAMES, MEAN, STD

from pytest_mlguard import HuggingFaceModel, InvalidArgument, MissingDependency, TimmModel, check_model

SETTINGS = {"samples": 120, "attack.steps": 5}


@pytest.fixture(scope="module")
def digits():
    return zoo.digits()


def test_huggingface_model_predicts_what_its_image_processor_and_model_predict(digits):
    """The directory's processor (0..255 pixels, rescaled, normalised) and model, run by transformers, against the adapter."""
    transformers = pytest.importorskip("transformers", reason="HuggingFaceModel needs transformers: pip install pytest-mlguard[huggingface]")
    path = zoo_formats.huggingface_dir()
    processor = transformers.AutoImageProcessor.from_pretrained(path, local_files_only=True)
    net = transformers.AutoModelForImageClassification.from_pretrained(path, local_files_only=True).eval()
    pixels = processor(images=list(digits.x * 255.0), return_tensors="pt", input_data_format="channels_first")["pixel_values"]
    with torch.no_grad():
        expected = torch.softmax(net(pixel_values=pixels).logits, dim=1).numpy()
    model = zoo_formats.huggingface_model()
    assert (model.input_shape, model.n_classes, model.class_names) == ((1, 8, 8), 10, CLASS_NAMES)
    np.testing.assert_allclose(model.predict_proba(digits.x), expected, atol=1e-5)
    in_255 = HuggingFaceModel(path, value_range=(0, 255))  # the processor's own units
    np.testing.assert_allclose(in_255.predict_proba(digits.x * 255.0), expected, atol=1e-5)
    assert in_255.describe()["directory"] == str(path) and in_255.describe()["architecture"] == "ViTForImageClassification"


def test_huggingface_instance_takes_its_processor_and_resizes_other_sizes(digits):
    transformers = pytest.importorskip("transformers", reason="HuggingFaceModel needs transformers")
    path = zoo_formats.huggingface_dir()
    net = transformers.AutoModelForImageClassification.from_pretrained(path, local_files_only=True)
    from_dir = HuggingFaceModel(net)  # name_or_path is the directory: its processor is found there
    assert (from_dir.mean, from_dir.std) == ((MEAN,), (STD,))
    processor = transformers.AutoImageProcessor.from_pretrained(path, local_files_only=True)
    larger = HuggingFaceModel(net, processor=processor, input_shape=(1, 16, 16))
    x16 = np.repeat(np.repeat(digits.x, 2, axis=2), 2, axis=3)
    pixels = processor(images=list(x16 * 255.0), return_tensors="pt", input_data_format="channels_first")["pixel_values"]  # resized by the processor
    with torch.no_grad():
        expected = torch.softmax(net(pixel_values=pixels).logits, dim=1).numpy()
    np.testing.assert_allclose(larger.predict_proba(x16), expected, atol=1e-4)


def test_timm_model_reads_its_data_config_and_predicts_as_timm_normalises(digits):
    timm = pytest.importorskip("timm", reason="TimmModel needs timm: pip install pytest-mlguard[timm]")
    net = zoo_formats.timm_net()
    config = timm.data.resolve_model_data_config(net)
    normalise = timm.data.create_transform(**config).transforms[-1]  # timm's own Normalize of its eval transform
    with torch.no_grad():
        expected = torch.softmax(net(normalise(torch.from_numpy(digits.x))), dim=1).numpy()
    model = zoo_formats.timm_model()
    assert (model.input_shape, model.mean, model.std) == ((1, 8, 8), (MEAN,), (STD,))
    np.testing.assert_allclose(model.predict_proba(digits.x), expected, atol=1e-5)
    in_255 = TimmModel(net, value_range=(0, 255))
    np.testing.assert_allclose(in_255.predict_proba(digits.x * 255.0), expected, atol=1e-5)


@pytest.mark.parametrize("make", [zoo_formats.huggingface_model, zoo_formats.timm_model], ids=["huggingface", "timm"])
def test_gradient_attacks_run_and_leave_the_model_as_it_was(make, digits):
    pytest.importorskip("transformers" if "hugging" in make.__name__ else "timm")
    model = make()
    before = {name: p.detach().clone() for name, p in model.module.named_parameters()}
    (clean,) = check_model(model, digits, "accuracy", settings=SETTINGS)
    (attacked,) = check_model(model, digits, "attack[fgsm-linf-0.1]", settings=SETTINGS)
    assert attacked.metric == "robust_accuracy" and attacked.value < clean.value, attacked.message
    assert all(p.requires_grad and p.grad is None and torch.equal(p, before[name]) for name, p in model.module.named_parameters())
    assert not any(m.training for m in model.module.modules())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: HuggingFaceModel(torch.nn.Linear(2, 2)), "Expected a transformers image-classification model, or the directory it was saved in"),
        (lambda: HuggingFaceModel("no/such/dir"), "Expected a directory saved with save_pretrained"),
        (lambda: TimmModel(torch.nn.Linear(2, 2)), r"Expected a timm model \(timm.create_model\(...\)\)"),
    ],
)
def test_invalid_arguments(call, message):
    pytest.importorskip("transformers")
    with pytest.raises(InvalidArgument, match=message):
        call()


def test_huggingface_model_without_a_processor_asks_for_one():
    transformers = pytest.importorskip("transformers")
    net = transformers.ViTForImageClassification(zoo_formats.tiny_vit_config()).eval()
    with pytest.raises(InvalidArgument, match=r"Expected the model's image processor \(processor=...\) or mean= and std="):
        HuggingFaceModel(net)
    assert HuggingFaceModel(net, mean=MEAN, std=STD).input_shape == (1, 8, 8)  # the size from the config's image_size


def test_missing_libraries_name_their_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingDependency, match=r"pytest-mlguard\[huggingface\]"):
        HuggingFaceModel(str(zoo.DIGITS))
    monkeypatch.setitem(sys.modules, "timm.data", None)
    net = torch.nn.Linear(2, 2)
    net.pretrained_cfg = {}
    with pytest.raises(MissingDependency, match=r"pytest-mlguard\[timm\]"):
        TimmModel(net)
