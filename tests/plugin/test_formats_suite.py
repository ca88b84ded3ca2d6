"""Model files through the suite as a user runs it: the digits CNN exported to ONNX, TorchScript and
torch.export measures what the torch model measures; a small Hugging Face and a timm model run every
family, gradient attacks included."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import zoo
import zoo_formats
from conftest import FAST, TESTS, run_pytest

pytest.importorskip("onnxruntime", reason="OnnxModel needs onnxruntime: pip install pytest-mlguard[onnx]")

# four corruptions of each kind; one attack of each norm budget is enough to see gradients reach the program
FORMATS = FAST.replace("[tool.mlguard.corruption]", '[tool.mlguard.corruption]\ncorruptions = ["gaussian_noise", "defocus_blur", "contrast", "jpeg_compression"]')
# every test sample (360), so that the accuracy can be compared with the library's own on the same samples
PRETRAINED = FAST.replace("samples = 120", "samples = 360")


def write_project(pytester: pytest.Pytester, settings: str, models: list[str] | None = None) -> None:
    """A conftest.py whose mlguard_model returns ``zoo_formats.<model>()`` for each of ``models`` (a
    parametrised fixture), or, without ``models``, the model that ``$DIGITS_FORMAT`` names, as 'digits'."""
    pytester.makeconftest(
        textwrap.dedent(
            f"""
            import os, sys
            sys.path.insert(0, {str(TESTS)!r})
            import pytest
            import zoo, zoo_formats

            @pytest.fixture(scope="session", params={models or ["digits"]!r})
            def mlguard_model(request):
                if request.param != "digits":
                    return getattr(zoo_formats, request.param)()
                form = os.environ["DIGITS_FORMAT"]
                return zoo.good_model() if form == "torch" else getattr(zoo_formats, form + "_model")(name="digits")

            @pytest.fixture(scope="session")
            def mlguard_data():
                return zoo.digits()
            """
        )
    )
    pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n" + settings)


def values(pytester: pytest.Pytester) -> dict[str, dict[str, dict]]:
    import json

    report = json.loads((pytester.path / "mlguard-report" / "report.json").read_text())
    by_model: dict[str, dict[str, dict]] = {}
    for check in report["checks"]:
        by_model.setdefault(check["model"], {})[check["id"]] = check
    return by_model


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.mark.slow
def test_digits_exported_to_onnx_and_torchscript_measure_what_the_torch_model_measures(pytester, monkeypatch):
    """The same accuracy and corruption values to 1e-4; the gradient attacks run on the TorchScript
    program and are not applicable to ONNX, saying why."""
    write_project(pytester, FORMATS)
    checks, outputs = {}, {}
    for form in ("torch", "onnx", "torchscript", "exported"):  # one run each, the model named 'digits': the same seeds
        monkeypatch.setenv("DIGITS_FORMAT", form)
        outputs[form] = run_pytest(pytester, "--mlguard", "-rs", "-k", "not inputs").stdout.str()
        checks[form] = values(pytester)["digits"]
    measured = [c for c in checks["torch"] if c == "accuracy" or c.startswith("corruption")]
    assert len(measured) == 5, sorted(checks["torch"])
    for form in ("onnx", "torchscript", "exported"):
        for check in measured:
            assert checks[form][check]["value"] == pytest.approx(checks["torch"][check]["value"], abs=1e-4), (form, check)
    for check in ("attack[fgsm-linf-0.1]", "attack[pgd-linf-0.1]"):
        for form in ("torchscript", "exported"):
            assert checks[form][check]["value"] == pytest.approx(checks["torch"][check]["value"], abs=1e-4), (form, check)
        assert check not in checks["onnx"]
    assert "fgsm needs the model's gradients; model 'digits' is an onnx model and ONNX Runtime computes no gradients" in outputs["onnx"]
    assert all(c["value"] is not None for form in checks.values() for c in form.values())


@pytest.mark.slow
def test_a_small_huggingface_and_timm_model_run_every_family(pytester):
    """Every check measured (none skipped or errored), gradient attacks included, and the accuracy the
    suite reports is the models' own on the 360 samples (tests/unit/test_pretrained.py compares their
    predictions with the library's own preprocessing)."""
    pytest.importorskip("transformers", reason="HuggingFaceModel needs transformers")
    pytest.importorskip("timm", reason="TimmModel needs timm")
    write_project(pytester, PRETRAINED, ["huggingface_model", "timm_model"])
    result = run_pytest(pytester, "--mlguard", "-k", "not inputs")
    checks = values(pytester)
    assert set(checks) == {"digits-hf-vit", "digits-timm-vit"}
    data = zoo.digits()
    for name, make in (("digits-hf-vit", zoo_formats.huggingface_model), ("digits-timm-vit", zoo_formats.timm_model)):
        model = checks[name]
        assert {"attack[fgsm-linf-0.1]", "attack[pgd-linf-0.1]", "calibration[ece]", "accuracy"} <= set(model), sorted(model)
        assert all(c["value"] is not None and c["n"] > 0 for c in model.values()), name
        accuracy = float(np.mean(make().predict(data.x) == data.y))
        assert model["accuracy"]["value"] == pytest.approx(accuracy, abs=1e-4)
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) == 0 and outcomes.get("error", 0) == 0, outcomes
