"""The adapters of pretrained-model libraries' image classifiers: :class:`HuggingFaceModel` (transformers'
``AutoModelForImageClassification``) and :class:`TimmModel`. Each reads its preprocessing (input size,
rescaling, mean and std) from the model's own config and is a :class:`~pytest_mlguard.contract.TorchModel`
over the network with that preprocessing folded in, so gradient attacks run on it.

transformers and timm are imported only to load a model from a directory (``pip install
pytest-mlguard[huggingface]``) and to read a timm model's data config (``pytest-mlguard[timm]``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument, MissingDependency
from ._torch_model import TorchModel

if TYPE_CHECKING:
    import torch

_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}  # PIL's codes, which transformers' processors store


def _classifier(net: Any, size: tuple[int, int] | None, interpolation: str, logits: bool) -> torch.nn.Module:
    """``net`` behind a resize of each batch to ``size`` (where it has another size), returning the
    logits tensor (``logits``: the ``.logits`` of a transformers output)."""
    import torch
    import torch.nn.functional as F

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.training = net.training  # the wrapper in the mode of the network: nothing of its own to put in eval mode

        def forward(self, x: torch.Tensor) -> Any:
            if size is not None and tuple(x.shape[-2:]) != size:
                mode = interpolation if interpolation in ("bilinear", "bicubic") else "nearest"
                aligned = {"align_corners": False, "antialias": True} if mode != "nearest" else {}
                x = F.interpolate(x, size=size, mode=mode, **aligned)
            out = self.net(pixel_values=x) if logits else self.net(x)
            return out.logits if logits else out

    return Classifier()


def _scaled(value_range: tuple[float, float], scale: float, mean: Sequence[float], std: Sequence[float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The ``mean`` and ``std`` over raw inputs in ``value_range`` of a network that takes
    ``(x01 * scale - mean) / std``, where ``x01`` is the raw input mapped to [0, 1]: folded into one
    normalisation ``(x - mean') / std'``."""
    low, high = (float(v) for v in value_range)
    factor = scale / (high - low)  # x01 * scale = (x - low) * factor
    return tuple(m / factor + low for m in mean), tuple(s / factor for s in std)


def _size_of(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else getattr(value, key, None)


def _processor_spec(processor: Any) -> dict[str, Any]:
    """Input size, resize interpolation, the scale of [0, 1] pixels and mean/std from a transformers image processor."""
    mean, std = getattr(processor, "image_mean", None), getattr(processor, "image_std", None)
    if not getattr(processor, "do_normalize", True) or mean is None or std is None:
        mean = std = None
    size = getattr(processor, "crop_size", None) if getattr(processor, "do_center_crop", False) else None
    size = size or getattr(processor, "size", None)
    hw: tuple[int, int] | None = None
    if size is not None:
        height, width, edge = _size_of(size, "height"), _size_of(size, "width"), _size_of(size, "shortest_edge")
        hw = (int(height), int(width)) if height and width else (int(edge), int(edge)) if edge else None
    rescale = float(processor.rescale_factor) * 255.0 if getattr(processor, "do_rescale", False) else 1.0
    resample = getattr(processor, "resample", 2)
    return {"size": hw, "interpolation": _RESAMPLE.get(int(resample) if resample is not None else 2, "bilinear"), "scale": rescale, "mean": mean, "std": std}


def _load_transformers(path: str) -> tuple[Any, Any]:
    """The model and (where its directory has one) the image processor saved in ``path``, offline."""
    try:
        from transformers import AutoImageProcessor, AutoModelForImageClassification
    except ImportError:
        raise MissingDependency("transformers", "HuggingFaceModel (pip install pytest-mlguard[huggingface])") from None
    if not os.path.isdir(path):
        raise InvalidArgument(f"Expected a directory saved with save_pretrained() but got {path!r}, which is not a directory")
    model = AutoModelForImageClassification.from_pretrained(path, local_files_only=True)
    has_processor = os.path.isfile(os.path.join(path, "preprocessor_config.json"))
    return model, AutoImageProcessor.from_pretrained(path, local_files_only=True) if has_processor else None


def _class_names(id2label: Any, n: int) -> tuple[str, ...] | None:
    """The config's label names in id order, unless transformers' defaults (``LABEL_0``...)."""
    if not id2label or len(id2label) != n:
        return None
    names = tuple(str(id2label[i] if i in id2label else id2label[str(i)]) for i in range(n))
    return None if names == tuple(f"LABEL_{i}" for i in range(n)) else names


class HuggingFaceModel(TorchModel):
    """A transformers image classifier: an ``AutoModelForImageClassification`` instance, or the local
    directory it was saved in (``save_pretrained``; loaded offline, with its image processor where the
    directory holds one).

    Args:
        model: the model, or the path of its directory.
        processor: its image processor (``AutoImageProcessor``); ``None``: the directory's, else the
            one in the model's own ``name_or_path`` directory. It gives the input size, the rescaling
            and the normalisation.
        input_shape: shape of one sample ``(C, H, W)``; ``None``: the processor's size with the
            model's ``num_channels``. Samples of another size are resized to the processor's size
            (the processor's interpolation, antialiased; its crop is not applied) inside the model.
        value_range: range of raw inputs: ``(0, 1)``, or ``(0, 255)`` as the processor takes them.
        mean, std: override the processor's normalisation (in ``value_range`` units).
        **spec: :class:`~pytest_mlguard.contract.TorchModel`'s other arguments (``device``,
            ``name``, ``batch_size``, ``mode``...). The number of classes and their names come from
            the model's config (``num_labels``, ``id2label``) unless given.

    Example:
        >>> from transformers import ViTConfig, ViTForImageClassification
        >>> config = ViTConfig(image_size=8, patch_size=4, num_channels=1, hidden_size=16, num_hidden_layers=1,
        ...                    num_attention_heads=2, intermediate_size=32, num_labels=10)
        >>> HuggingFaceModel(ViTForImageClassification(config).eval(), mean=0.5, std=0.5).input_shape
        (1, 8, 8)
    """

    kind = "huggingface"

    def __init__(self, model: Any, *, processor: Any = None, input_shape: Sequence[int] | None = None, value_range: tuple[float, float] = (0.0, 1.0), mean: Any = None, std: Any = None, **spec: Any) -> None:
        import torch

        self.origin = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
        if self.origin is not None:
            model, found = _load_transformers(self.origin)
            processor = processor if processor is not None else found
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
            raise InvalidArgument.expected("a transformers image-classification model, or the directory it was saved in", "model", model)
        config: Any = model.config
        saved_in = str(getattr(model, "name_or_path", "") or "")
        if processor is None and saved_in and os.path.isfile(os.path.join(saved_in, "preprocessor_config.json")):
            processor = _load_transformers(saved_in)[1]
        pre: dict[str, Any] = _processor_spec(processor) if processor is not None else {"size": None, "interpolation": "bilinear", "scale": 1.0, "mean": None, "std": None}
        if pre["mean"] is None and mean is None:
            raise InvalidArgument(f"Expected the model's image processor (processor=...) or mean= and std=: model {spec.get('name') or self.kind!r} has no normalisation to read")
        if mean is None:
            mean, std = _scaled(value_range, pre["scale"], pre["mean"], pre["std"])
        size = pre["size"]
        if size is None and getattr(config, "image_size", None):
            size = (int(config.image_size),) * 2
        if input_shape is None:
            if size is None:
                raise InvalidArgument("Expected input_shape: neither the processor nor the model's config gives an input size")
            input_shape = (int(getattr(config, "num_channels", 3)), *size)
        n = int(config.num_labels)
        spec.setdefault("class_names", _class_names(getattr(config, "id2label", None), n))
        spec.setdefault("n_classes", None if spec["class_names"] else n)
        self.processor = processor
        super().__init__(_classifier(model, size, pre["interpolation"], logits=True), input_shape=input_shape, value_range=value_range, mean=mean, std=std, **spec)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "architecture": type(self.module.net).__name__, "directory": self.origin}


class TimmModel(TorchModel):
    """A timm model (``timm.create_model(...)``), its preprocessing from its data config
    (``timm.data.resolve_model_data_config``: ``input_size``, ``interpolation``, ``mean``, ``std``).

    Args:
        model: the timm model.
        input_shape: shape of one sample; ``None``: the config's ``input_size``. Samples of another
            size are resized to ``input_size`` (the config's interpolation, antialiased) inside the model.
        value_range: range of raw inputs; timm's mean and std are for [0, 1] and are scaled to it.
        mean, std: override the config's (in ``value_range`` units).
        **spec: :class:`~pytest_mlguard.contract.TorchModel`'s other arguments; ``n_classes`` is the
            model's ``num_classes`` unless given.

    Example:
        >>> import timm
        >>> net = timm.create_model("resnet10t", pretrained=False, num_classes=3).eval()
        >>> TimmModel(net).input_shape
        (3, 176, 176)
    """

    kind = "timm"

    def __init__(self, model: Any, *, input_shape: Sequence[int] | None = None, value_range: tuple[float, float] = (0.0, 1.0), mean: Any = None, std: Any = None, **spec: Any) -> None:
        import torch

        if not isinstance(model, torch.nn.Module) or not hasattr(model, "pretrained_cfg"):
            raise InvalidArgument.expected("a timm model (timm.create_model(...))", "model", model)
        try:
            from timm.data import resolve_model_data_config
        except ImportError:
            raise MissingDependency("timm", "TimmModel (pip install pytest-mlguard[timm])") from None
        config = resolve_model_data_config(model)
        self.data_config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}
        size = tuple(int(v) for v in config["input_size"][1:])
        if mean is None:
            mean, std = _scaled(value_range, 1.0, config["mean"], config["std"])
        spec.setdefault("n_classes", None if spec.get("class_names") else int(getattr(model, "num_classes", 0)))
        network = _classifier(model, (size[0], size[1]), str(config.get("interpolation", "bilinear")), logits=False)
        super().__init__(network, input_shape=input_shape or tuple(config["input_size"]), value_range=value_range, mean=mean, std=std, **spec)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "architecture": type(self.module.net).__name__, "data_config": self.data_config}
