"""The digits CNN of examples/digits as the formats it ships in (ONNX, TorchScript, torch.export), and
tiny Hugging Face and timm classifiers built from a config (nothing downloaded).

The files are written once per process into a temporary folder: a project's conftest.py and the unit
tests declare the same files.
"""

from __future__ import annotations

import io
import tempfile
import warnings
from functools import cache
from pathlib import Path

import torch
import zoo  # noqa: F401 - puts examples/digits on sys.path
from model import CLASS_NAMES, MEAN, STD, load_model

from pytest_mlguard import ExportedModel, OnnxModel, TorchScriptModel

SPEC = {"input_shape": (1, 8, 8), "mean": MEAN, "std": STD, "class_names": CLASS_NAMES}


@cache
def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="mlguard-formats-"))


def _example() -> torch.Tensor:
    return torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))


@cache
def onnx_bytes(dynamic: bool = True) -> bytes:
    """The digits CNN through ``torch.onnx.export`` (the TorchScript-based exporter: no onnxscript needed),
    with a dynamic batch dimension, or a fixed batch of 1."""
    buffer = io.BytesIO()
    net = load_model().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer warnings
        axes = {"x": {0: "batch"}, "logits": {0: "batch"}} if dynamic else None
        torch.onnx.export(net, (_example()[:1],), buffer, dynamo=False, input_names=["x"], output_names=["logits"], dynamic_axes=axes)
    return buffer.getvalue()


@cache
def onnx_path() -> Path:
    path = _folder() / "digits.onnx"
    path.write_bytes(onnx_bytes())
    return path


@cache
def torchscript_path() -> Path:
    path = _folder() / "digits.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated in favour of torch.export
        torch.jit.save(torch.jit.script(load_model().eval()), str(path))
    return path


@cache
def export_path() -> Path:
    path = _folder() / "digits.pt2"
    program = torch.export.export(load_model().eval(), (_example(),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(path))
    return path


def onnx_model() -> OnnxModel:
    """The digits CNN as ONNX: the same predictions as ``zoo.good_model`` to float precision."""
    return OnnxModel(onnx_path(), **SPEC, name="digits-onnx")


def torchscript_model() -> TorchScriptModel:
    return TorchScriptModel(torchscript_path(), **SPEC, name="digits-torchscript")


def exported_model() -> ExportedModel:
    return ExportedModel(export_path(), **SPEC, name="digits-export")
