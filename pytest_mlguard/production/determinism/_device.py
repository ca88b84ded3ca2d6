"""The settings of torch on a CUDA device that make a model's outputs vary, named where a
``determinism`` check fails there.

On a GPU, the same inputs give other outputs when:

* cuDNN's benchmark mode is on (``torch.backends.cudnn.benchmark = True``): it times the convolution
  algorithms of each input shape and keeps the fastest, which differs between runs and batch sizes;
* non-deterministic kernels are allowed (``torch.use_deterministic_algorithms`` off,
  ``torch.backends.cudnn.deterministic = False``): reductions by atomic adds (``index_add_``,
  ``scatter_add_``, some convolution algorithms) sum in another order on every call;
* TF32 is on for matrix products or convolutions (``torch.backends.cuda.matmul.allow_tf32``,
  ``torch.backends.cudnn.allow_tf32``, the latter on by default): 10 bits of mantissa instead of 23,
  so the rounding differences of kernels chosen by batch shape grow a thousandfold, beyond what
  float32 rounding of the logits allows.

Example:
    >>> device_settings("cpu") is None  # only a CUDA device has them
    True
    >>> pitfalls({"cudnn.benchmark": True, "deterministic_algorithms": True, "cudnn.deterministic": True,
    ...           "matmul.allow_tf32": False, "cudnn.allow_tf32": False})
    ['cuDNN benchmark mode (torch.backends.cudnn.benchmark = True)']
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

#: each setting that makes outputs vary when it has this value, and how to name it
_PITFALLS = {
    "cudnn.benchmark": (True, "cuDNN benchmark mode (torch.backends.cudnn.benchmark = True)"),
    "deterministic_algorithms": (False, "non-deterministic kernels allowed (torch.use_deterministic_algorithms(False))"),
    "cudnn.deterministic": (False, "non-deterministic cuDNN algorithms (torch.backends.cudnn.deterministic = False)"),
    "matmul.allow_tf32": (True, "TF32 matrix products (torch.backends.cuda.matmul.allow_tf32 = True)"),
    "cudnn.allow_tf32": (True, "TF32 convolutions (torch.backends.cudnn.allow_tf32 = True, torch's default)"),
}
REMEDY = (
    "for the same outputs on a GPU: torch.backends.cudnn.benchmark = False, torch.use_deterministic_algorithms(True) "
    "(with CUBLAS_WORKSPACE_CONFIG=:4096:8), torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False"
)


def is_cuda(device: str) -> bool:
    return str(device).split(":")[0] == "cuda"


def device_settings(device: str) -> dict[str, bool] | None:
    """torch's settings that decide whether outputs on ``device`` repeat, or ``None`` off CUDA."""
    if not is_cuda(device):
        return None
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 2.9+ prefers fp32_precision and may warn on the old flags
        return {
            "cudnn.benchmark": bool(torch.backends.cudnn.benchmark),
            "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
            "cudnn.deterministic": bool(torch.backends.cudnn.deterministic),
            "matmul.allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            "cudnn.allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        }


def pitfalls(settings: Mapping[str, bool]) -> list[str]:
    """The settings among ``settings`` that make outputs vary, named."""
    return [name for key, (bad, name) in _PITFALLS.items() if settings.get(key) is bad]


def name_pitfalls(message: str, details: dict[str, Any], device: str) -> str:
    """On a CUDA device: torch's settings in ``details["device_settings"]``, and ``message`` (a failure)
    followed by the ones that make outputs vary; ``message`` as it is elsewhere."""
    settings = device_settings(device)
    if settings is None:
        return message
    details["device_settings"] = settings
    found = pitfalls(settings)
    if not message or not found:
        return message
    return f"{message}\non {device}, torch settings set here that can make outputs vary: {'; '.join(found)}; {REMEDY}"
