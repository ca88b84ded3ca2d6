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
from typing import Any

import torch
import zoo  # noqa: F401 - puts examples/digits on sys.path
from model import CLASS_NAMES, MEAN, STD, load_model

from pytest_mlguard import ExportedModel, HuggingFaceModel, OnnxModel, TimmModel, TorchScriptModel

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


def onnx_model(name: str = "digits-onnx") -> OnnxModel:
    """The digits CNN as ONNX: the same predictions as ``zoo.good_model`` to float precision."""
    return OnnxModel(onnx_path(), **SPEC, name=name)


def torchscript_model(name: str = "digits-torchscript") -> TorchScriptModel:
    return TorchScriptModel(torchscript_path(), **SPEC, name=name)


def exported_model(name: str = "digits-export") -> ExportedModel:
    return ExportedModel(export_path(), **SPEC, name=name)


def tiny_vit_config() -> Any:
    """A transformers ViT for 8x8 digits (29k parameters), randomly initialised from a seed."""
    from transformers import ViTConfig

    labels = dict(enumerate(CLASS_NAMES))
    return ViTConfig(image_size=8, patch_size=2, num_channels=1, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, num_labels=10, id2label=labels, label2id={v: k for k, v in labels.items()})


@cache
def huggingface_dir() -> Path:
    """A directory as ``save_pretrained`` writes it: the tiny ViT and its image processor (digits in 0..255
    pixels, rescaled to [0, 1], normalised with the digits' mean and std)."""
    from transformers import ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    path = _folder() / "hf-vit"
    ViTForImageClassification(tiny_vit_config()).eval().save_pretrained(path)
    ViTImageProcessor(size={"height": 8, "width": 8}, image_mean=[MEAN], image_std=[STD]).save_pretrained(path)
    return path


def huggingface_model() -> HuggingFaceModel:
    return HuggingFaceModel(huggingface_dir(), name="digits-hf-vit")


def timm_net() -> torch.nn.Module:
    """A timm ViT for 8x8 digits (27k parameters), randomly initialised from a seed, whose data config
    (pretrained_cfg) is the digits' size, mean and std."""
    import timm

    torch.manual_seed(0)
    overlay = {"input_size": (1, 8, 8), "mean": (MEAN,), "std": (STD,), "interpolation": "bilinear"}
    net = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, pretrained_cfg_overlay=overlay, img_size=8, patch_size=2, in_chans=1, num_classes=10, embed_dim=32, depth=2, num_heads=2
    )
    return net.eval()


def timm_model() -> TimmModel:
    return TimmModel(timm_net(), class_names=CLASS_NAMES, name="digits-timm-vit")
