"""The adapters of model files: TorchScript and torch.export programs, ONNX through ONNX Runtime. Each
predicts what the eager module predicts, leaves the program as it was, and says where gradients are out
of reach."""

from __future__ import annotations

import sys
import warnings

import cloudpickle
import numpy as np
import pytest
import torch
import zoo
import zoo_formats

from pytest_mlguard import ExportedModel, InvalidArgument, MissingDependency, NotApplicable, TorchModel, TorchScriptModel, check_model

onnxruntime = pytest.importorskip("onnxruntime", reason="OnnxModel needs onnxruntime: pip install pytest-mlguard[onnx]")

from pytest_mlguard import OnnxModel  # noqa: E402 - after the skip

SETTINGS = {"samples": 120, "attack.steps": 5}


@pytest.fixture(scope="module")
def digits():
    return zoo.digits()


@pytest.fixture(scope="module")
def eager(digits):
    return zoo.good_model().predict_proba(digits.x)


@pytest.mark.parametrize(
    "make",
    [
        lambda: zoo_formats.torchscript_model(),
        lambda: TorchScriptModel(zoo_formats.torchscript_path().read_bytes(), **zoo_formats.SPEC),
        lambda: TorchScriptModel(torch.jit.load(str(zoo_formats.torchscript_path())), **zoo_formats.SPEC),
        lambda: zoo_formats.exported_model(),
        lambda: ExportedModel(torch.export.load(str(zoo_formats.export_path())), **zoo_formats.SPEC),
        lambda: zoo_formats.onnx_model(),
        lambda: OnnxModel(zoo_formats.onnx_bytes(), **zoo_formats.SPEC),
        lambda: OnnxModel(zoo_formats.onnx_bytes(dynamic=False), **zoo_formats.SPEC, batch_size=7),
    ],
    ids=["torchscript-path", "torchscript-bytes", "torchscript-module", "export-path", "export-program", "onnx-path", "onnx-bytes", "onnx-batch-of-1"],
)
def test_each_format_predicts_what_the_eager_module_predicts(make, digits, eager):
    model = make()
    with model.running("cpu"):
        proba = model.predict_proba(digits.x)
    np.testing.assert_allclose(proba, eager, atol=1e-5)


def test_onnx_reads_its_input_shape_classes_and_fixed_batch_from_the_graph():
    fixed = OnnxModel(zoo_formats.onnx_bytes(dynamic=False))
    dynamic = OnnxModel(zoo_formats.onnx_bytes())
    assert (fixed.input_shape, fixed.n_classes, fixed.fixed_batch) == ((1, 8, 8), 10, 1)
    assert (dynamic.input_shape, dynamic.n_classes, dynamic.fixed_batch) == ((1, 8, 8), 10, None)
    assert dynamic.describe()["sha256"] == dynamic.version and dynamic.describe()["input_name"] == "x"


@pytest.mark.parametrize("make", [zoo_formats.onnx_model, zoo_formats.torchscript_model, zoo_formats.exported_model], ids=["onnx", "torchscript", "export"])
def test_each_format_survives_pickling(make, digits, eager):
    """The resources checks send the model to a measuring process: an InferenceSession, a TorchScript module
    and an exported module do not pickle as they are (before, TorchScript and export raised there)."""
    model = make()
    model.predict_proba(digits.x[:2])
    copy = cloudpickle.loads(cloudpickle.dumps(model))
    assert (copy.name, copy.describe()) == (model.name, model.describe())
    np.testing.assert_allclose(copy.predict_proba(digits.x), eager, atol=1e-5)


@pytest.mark.skipif("CUDAExecutionProvider" in onnxruntime.get_available_providers(), reason="this onnxruntime has CUDA")
def test_onnx_cuda_asked_for_and_absent_is_an_error_but_the_session_device_falls_back():
    with pytest.raises(InvalidArgument, match=r"CUDAExecutionProvider for device='cuda' but this onnxruntime has .*install onnxruntime-gpu"):
        OnnxModel(zoo_formats.onnx_bytes(), device="cuda")
    model = OnnxModel(zoo_formats.onnx_bytes())
    with model.running("cuda"):  # --mlguard-device cuda: the CPU where ONNX Runtime has no CUDA
        assert model.active_providers == ["CPUExecutionProvider"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_onnx_runs_on_cuda_where_available(digits, eager):  # pragma: no cover - on a GPU machine
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime without CUDA (pip install onnxruntime-gpu)")
    model = OnnxModel(zoo_formats.onnx_bytes(), **zoo_formats.SPEC, device="cuda")
    assert model.active_providers[0] == "CUDAExecutionProvider"
    np.testing.assert_allclose(model.predict_proba(digits.x), eager, atol=1e-4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: OnnxModel("missing.onnx"), "Expected the path of an .onnx file but got 'missing.onnx', which is not a file"),
        (lambda: OnnxModel(42), "Expected the path or bytes of an ONNX model but got model=42"),
        (lambda: OnnxModel(zoo_formats.onnx_bytes(), device="mps"), "Expected 'cpu', 'cuda' or 'cuda:N' but got device='mps'"),
        (lambda: OnnxModel(zoo_formats.onnx_bytes(), output_name="features"), r"Expected one of the model's outputs \['logits'\] but got output_name='features'"),
        (lambda: OnnxModel(zoo_formats.onnx_bytes(), input_name="image"), r"Expected one of the model's inputs \['x'\] but got input_name='image'"),
        (lambda: TorchScriptModel(b"not a program", input_shape=(1, 8, 8), n_classes=10), "Expected a TorchScript file"),
        (lambda: TorchScriptModel(torch.nn.Linear(2, 2), input_shape=(2,), n_classes=2), "Expected a torch.jit.ScriptModule"),
        (lambda: ExportedModel(b"not a program", input_shape=(1, 8, 8), n_classes=10), "Expected a torch.export file"),
        (lambda: ExportedModel(zoo_formats.export_path(), **zoo_formats.SPEC, mode="as-given"), "exported program runs in the mode it was exported in"),
        (lambda: TorchModel(torch.nn.Flatten(), input_shape=(1, 8, 8), n_classes=3, export=zoo_formats.onnx_model()), "Expected an export of input_shape"),
    ],
)
def test_invalid_arguments(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


def test_onnx_without_onnxruntime_names_the_extra(monkeypatch):
    model = OnnxModel(zoo_formats.onnx_bytes())
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependency, match=r"pytest-mlguard\[onnx\]"):
        OnnxModel(zoo_formats.onnx_bytes())
    assert model.predict_proba(np.zeros((1, 1, 8, 8), np.float32)).shape == (1, 10)  # a session made already


def test_running_leaves_a_program_as_it_was():
    """An exported program raises on .eval(): the adapter runs it without; a TorchScript module keeps its modes."""
    exported, scripted = zoo_formats.exported_model(), zoo_formats.torchscript_model()
    scripted.module.train()
    before = {name: m.training for name, m in scripted.module.named_modules()}
    for model in (exported, scripted):
        with model.running("cpu"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_model(model, zoo.digits(), "attack[fgsm-linf-0.1]", settings=SETTINGS)
        assert all(p.requires_grad for p in model.module.parameters()) and all(p.grad is None for p in model.module.parameters())
    assert {name: m.training for name, m in scripted.module.named_modules()} == before
    assert exported.modes() == (None,) and exported.train_mode == ()


@pytest.mark.parametrize("make", [zoo_formats.torchscript_model, zoo_formats.exported_model], ids=["torchscript", "export"])
def test_gradient_attacks_run_on_programs_as_on_the_eager_module(make):
    digits = zoo.digits()
    (eager,) = check_model(zoo.good_model(), digits, "attack[fgsm-linf-0.1]", settings=SETTINGS)
    (program,) = check_model(make(), digits, "attack[fgsm-linf-0.1]", settings=SETTINGS)
    assert program.value == pytest.approx(eager.value, abs=1e-4) and program.value < 0.9


def test_gradient_attacks_do_not_apply_to_onnx_and_say_why():
    with pytest.raises(NotApplicable, match=r"fgsm needs the model's gradients; model 'digits-onnx' is an onnx model and ONNX Runtime computes no gradients"):
        check_model(zoo_formats.onnx_model(), zoo.digits(), "attack[fgsm-linf-0.1]", settings=SETTINGS)


def test_drift_export_compares_the_declared_onnx_export():
    """drift[export] of a TorchModel that declares its ONNX export compares that file, and fails one of another network."""
    digits = zoo.digits()
    same = TorchModel(zoo.load_model(), **zoo_formats.SPEC, name="digits", export=zoo_formats.onnx_model())
    (result,) = check_model(same, digits, "drift[export]", settings=SETTINGS)
    assert result.passed and result.value == 1.0 and result.details["compared"] == "onnx model 'digits-onnx' (export) against float32 eager"
    other = OnnxModel(zoo_formats.onnx_bytes(), input_shape=(1, 8, 8), n_classes=10, name="unnormalised")  # mean and std forgotten
    wrong = TorchModel(zoo.load_model(), **zoo_formats.SPEC, name="digits", export=other)
    (result,) = check_model(wrong, digits, "drift[export]", settings=SETTINGS)
    assert not result.passed and result.value < 0.9, result.message


@pytest.mark.parametrize(
    ("make", "variant", "reason"),
    [
        (zoo_formats.torchscript_model, "export", "a torchscript program: torch.export does not export a torch.jit.ScriptModule"),
        (zoo_formats.torchscript_model, "int8", "a torchscript program: dynamic int8 quantisation swaps torch.nn.Linear"),
        (zoo_formats.exported_model, "int8", "a torch-export program: dynamic int8 quantisation swaps torch.nn.Linear"),
    ],
)
def test_drift_variants_a_program_cannot_become_are_not_applicable_with_the_reason(make, variant, reason):
    """Before, drift[export] of a TorchScript program failed as an error (torch.export's ValueError)."""
    with pytest.raises(NotApplicable, match=f"drift\\[{variant}\\] does not apply to model '.*', {reason}"):
        check_model(make(), zoo.digits(), f"drift[{variant}]", settings=SETTINGS)


@pytest.mark.parametrize("make", [zoo_formats.torchscript_model, zoo_formats.exported_model], ids=["torchscript", "export"])
def test_drift_variants_of_programs_run(make):
    results = check_model(make(), zoo.digits(), ["drift[bfloat16]", "drift[torchscript]", "drift[threads]"], settings=SETTINGS)
    assert [r.value for r in results] == [1.0, 1.0, 1.0], [r.message for r in results]
