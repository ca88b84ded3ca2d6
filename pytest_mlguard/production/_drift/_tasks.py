"""The ``drift`` checks of a segmenter or a detector: the model deployed some other way against the float32
eager model on the evaluation's images, image by image with the task's agreement (pixel-level or box-level);
the value is the mean agreement over the images.

Which variants apply:

* ``bfloat16`` (autocast) and ``threads`` (1 thread against ``threads``): both tasks;
* ``torchscript`` (``torch.jit.trace``) and ``export`` (``torch.export`` with a dynamic batch): a torch
  segmenter, traced over raw inputs (normalisation included, a dict output read through ``output_key``);
  for a detector, ``torchscript`` is ``torch.jit.script`` (torchvision's detectors script; tracing a list of
  images of any size does not apply), and ``export`` does not apply;
* ``int8``: dynamic int8 quantisation of the linear layers (a detector's box head); a network without any
  does not apply.
* ``<variant>-proba``: the largest probability difference of any pixel (segmentation); a detector's scores
  are not probabilities of a class vector: it does not apply.
"""

from __future__ import annotations

import copy
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._messages import exception_text
from ...checks._base import CheckSpec, Measurement
from ..._cores import usable_cores
from ...errors import NotApplicable
from .._compare import NotDeployable, thread_count
from .._task_outputs import TaskOutputs, worst_images

if TYPE_CHECKING:
    from ...checks._evaluation import Evaluation


def _quantized(module: Any) -> Any:
    import torch

    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:  # removed from torch in favour of torchao
        raise NotApplicable(f"torch {torch.__version__} has no torch.ao.quantization.quantize_dynamic (now in torchao)") from None
    quantized = quantize_dynamic(copy.deepcopy(module).to("cpu").eval(), dtype=torch.qint8)
    if not any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in quantized.modules()):
        raise NotApplicable("dynamic int8 quantisation applies to Linear, LSTM and GRU layers; the model has none")
    return quantized


def _segmenter(model: Any, variant: str, x: np.ndarray) -> Any:
    """A copy of the torch segmenter deployed as ``variant`` (``torchscript``, ``export``, ``int8``), behind its spec."""
    import torch

    from ...contract._segmentation import CallableSegmentationModel

    raw = model.raw_module()
    device = model.active_device
    if variant == "int8":
        raw, device = _quantized(raw), "cpu"
    else:
        batch = x[: max(2, min(len(x), 4))]
        example = torch.from_numpy(np.ascontiguousarray(np.concatenate([batch, batch]) if len(batch) < 2 else batch)).to(device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning, UserWarning, torch.jit.TracerWarning))
            try:
                with torch.no_grad():
                    if variant == "torchscript":
                        raw = torch.jit.trace(raw.eval(), example, check_trace=False)
                    else:
                        raw = torch.export.export(raw.eval(), (example,), dynamic_shapes=({0: torch.export.Dim("batch")},)).module()
            except Exception as exc:  # any failure: the reason the model cannot be deployed that way
                raise NotDeployable(f"the model cannot be deployed with {variant}: {exception_text(exc)}") from exc

    def scores(batch: np.ndarray) -> Any:
        with torch.inference_mode():
            out = raw(torch.from_numpy(np.ascontiguousarray(batch)).to(device))
        return out.float().cpu().numpy() if isinstance(out, torch.Tensor) else out

    spec = {"input_shape": model.input_shape, "class_names": model.class_names, "value_range": model.value_range, "output": model.output}
    return CallableSegmentationModel(scores, **spec, name=model.name, batch_size=model.batch_size)


def _detections_of(scripted: Any) -> Any:
    """A module of the detections of a scripted torchvision detector, which returns ``(losses, detections)``."""
    import torch

    class Detections(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scripted = scripted

        def forward(self, images: list[torch.Tensor]) -> Any:
            # a scripted torchvision RCNN warns, on its first call, that it returns (losses, detections): expected
            # here, the detections are read from the tuple; only that warning, only around this call
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"RCNN always returns a \(Losses, Detections\) tuple in scripting", category=UserWarning)
                out = self.scripted(images)
            return out[1] if isinstance(out, tuple) else out

    return Detections()


def _in_bfloat16(model: Any, device_type: str) -> Any:
    """The torch detector under bfloat16 autocast (its adapter reads bfloat16 boxes and scores as float32)."""
    import torch

    from ...contract._detection import TorchDetectionModel

    class Autocast(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model.module

        def forward(self, images: list[torch.Tensor]) -> Any:
            with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
                return self.inner(images)

    return TorchDetectionModel(Autocast(), device=model.device, class_names=model.class_names, value_range=model.value_range, name=model.name, batch_size=model.batch_size)


def _detector(model: Any, variant: str) -> Any:
    """A copy of the torch detector deployed as ``variant`` (``torchscript``, ``int8``), behind its spec."""
    import torch

    from ...contract._detection import TorchDetectionModel

    if variant == "export":
        raise NotApplicable("drift[export] of a detector does not apply: torch.export of a list of images of any size is not measured")
    module = model.module
    if variant == "int8":
        deployed = _quantized(module)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning, UserWarning))
            try:
                deployed = _detections_of(torch.jit.script(copy.deepcopy(module).eval()))
            except Exception as exc:  # any failure: the reason the model cannot be deployed that way
                raise NotDeployable(f"the detector cannot be deployed with torchscript (torch.jit.script): {exception_text(exc)}") from exc
    return TorchDetectionModel(deployed, class_names=model.class_names, value_range=model.value_range, name=model.name, batch_size=model.batch_size)


def _deployed(outputs: TaskOutputs, variant: str, threads: int, samples: Any) -> Any:
    """The outputs of the variant on ``samples``."""
    import torch

    model = outputs.model
    if variant == "threads":
        with thread_count(threads):
            return outputs.run(samples)
    if getattr(model, "module", None) is None:
        raise NotApplicable(f"drift[{variant}] needs a torch model; model {model.name!r} is a {model.kind} model")
    if variant == "bfloat16":
        device = getattr(model, "active_device", None) or getattr(model, "device", None) or "cpu"
        if outputs.task == "detection":
            return outputs.run(samples, model=_in_bfloat16(model, torch.device(device).type))
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
            return outputs.run(samples)
    other = _detector(model, variant) if outputs.task == "detection" else _segmenter(model, variant, samples)
    return outputs.run(samples, model=other)


def measure(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The drift check ``spec`` of a segmenter or a detector (one mode; ``in_each_mode`` runs it in each)."""
    variant = str(spec.param("variant"))
    outputs = TaskOutputs(evaluation.model, evaluation.data)
    if spec.metric == "max_proba_diff" and outputs.task == "detection":
        raise NotApplicable(f"drift[{spec.name}] does not apply to a detector: its scores are not a probability vector per pixel or image")
    threads = spec.param("threads") if spec.param("threads") and spec.param("threads") > 1 else max(2, usable_cores())
    index = np.arange(evaluation.sample_limit(outputs.n))
    samples = outputs.samples(index)
    if variant == "threads":
        with thread_count(1):
            reference = outputs.run(samples)
    else:
        reference = outputs.run(samples)
    deployed = _deployed(outputs, variant, threads, samples)
    found = outputs.agree(reference, deployed, index)
    against = f"1 thread against {threads}" if variant == "threads" else f"{variant} against float32 eager"
    level = "pixel-level" if outputs.unit == "pixels" else "box-level"
    worst = worst_images(found)
    details: dict[str, Any] = {"variant": variant, "compared": against, "agreement_of": outputs.unit, "agreement": float(found.mean()), "min_agreement": float(found.min()), "changed": worst}
    if outputs.task == "segmentation":
        details["max_proba_diff"] = float(np.nanmax(np.abs(np.asarray(reference) - np.asarray(deployed)))) if len(index) else 0.0
    message = f"{against}: {level} agreement {found.mean():.4f} over {len(found)} images"
    if worst:
        message += "; lowest: " + ", ".join(f"image {w['index']} ({w['agreement']:.3f})" for w in worst[:5])
    if spec.metric == "max_proba_diff":
        largest = details["max_proba_diff"]
        return Measurement(value=largest, n=len(found), details=details, message=f"{message}; probabilities differ by up to {largest:.3g}")
    return Measurement(value=float(found.mean()), n=len(found), details=details, message=message, evaluations=2 * len(found))
