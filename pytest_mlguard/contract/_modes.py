"""Train and eval mode of a torch module: which submodules a service runs in train mode, and which of
them compute something else there.

A module fresh from its constructor, or from a training loop, is in train mode until ``.eval()``. For
most layers that changes nothing (a ``Linear``, a ``Conv2d``, a container); for some it changes the
outputs: batch norm with running statistics uses each batch's own statistics (and overwrites the
running ones), dropout drops. :func:`computes_otherwise_in_train_mode` knows torch's layers of that
kind; a module defined outside torch may read ``self.training`` in its own code, which only running
it in both modes can tell (``contract[eval-mode]`` does: :mod:`.eval_mode`).

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5))
    >>> [name for name, m in net.named_modules() if m.training and computes_otherwise_in_train_mode(m)]
    ['1']
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def computes_otherwise_in_train_mode(module: torch.nn.Module) -> bool:
    """Whether ``module``, one of torch's layers, computes something else in train mode than in eval
    mode: batch and instance norm with running statistics, dropout with ``p > 0``, recurrent layers and
    attention with dropout, ``RReLU``. A layer defined outside torch: ``False`` (unknown)."""
    from torch import nn

    if isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)):
        return bool(module.track_running_stats)
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return module.p > 0
    if isinstance(module, nn.RNNBase):
        return module.dropout > 0 and module.num_layers > 1  # dropout between stacked layers only
    if isinstance(module, nn.MultiheadAttention):
        return module.dropout > 0
    if isinstance(module, nn.RReLU):
        return module.lower != module.upper
    return False


def defined_outside_torch(module: torch.nn.Module) -> bool:
    """Whether ``module``'s class comes from outside torch: its own code may read ``self.training``."""
    return not type(module).__module__.startswith("torch.")


def name_modules(names: Iterable[str], module: torch.nn.Module) -> str:
    """``norm (BatchNorm2d), head.2 (Dropout)``; the module itself is ``the module itself (Net)``."""
    found = dict(module.named_modules())
    parts = []
    for name in names:
        kind = type(found[name]).__name__ if name in found else "?"
        parts.append(f"{name} ({kind})" if name else f"the module itself ({kind})")
    return ", ".join(parts)


def set_modes(module: torch.nn.Module, training: Mapping[str, bool] | None) -> None:
    """Put each submodule in the mode ``training`` gives by name (submodules it does not name in eval
    mode); ``None``: ``module.eval()``, which runs the ``train()`` overrides of modules that have one."""
    if training is None:
        module.eval()
        return
    for name, submodule in module.named_modules():
        submodule.training = bool(training.get(name, False))


@contextlib.contextmanager
def kept_buffers(module: torch.nn.Module) -> Iterator[None]:
    """Restore every buffer of ``module`` on exit: batch norm in train mode overwrites its running
    statistics on every call, even under ``torch.inference_mode()``. Buffers are restored by name,
    into the tensors the module holds on exit: ``module.to(device)`` replaces them."""
    import torch

    saved = {name: buffer.detach().clone() for name, buffer in module.named_buffers()}
    try:
        yield
    finally:
        with torch.no_grad():
            for name, buffer in module.named_buffers():
                if name in saved:
                    buffer.copy_(saved[name])

