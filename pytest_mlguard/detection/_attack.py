"""PGD (L-inf or L2) and a patch (RobustDPatch) against a detector's training loss, through ART's
``PyTorchObjectDetector``, and an independent PGD loop in plain torch that the tests compare it with.

The detector follows torchvision's convention: in eval mode ``model(images)`` returns one
``{"boxes", "labels", "scores"}`` per image; in train mode ``model(images, targets)`` returns its losses.
The attack maximises the sum of the losses named in ``losses`` (Faster R-CNN's four by default) against the
ground-truth targets, with batch norm and dropout kept in eval mode (ART's estimator does the same), from the
clean image (ART runs no random start for detectors). Proposal sampling in the training losses draws from
torch's generator: both implementations seed it, so that they draw the same proposals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ._metrics import Detections

FASTER_RCNN_LOSSES = ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")
Norm = Literal["linf", "l2"]


def detector_estimator(model: Any, images: np.ndarray, losses: tuple[str, ...]) -> Any:
    """ART's ``PyTorchObjectDetector`` of ``model`` on the device its parameters are on (``--mlguard-device``:
    the check runs inside ``model.running(device)``), not ART's default CPU."""
    from art.estimators.object_detection import PyTorchObjectDetector

    from ..attacks._art import art_device, place_estimator

    device_type, device = art_device(model)
    estimator = PyTorchObjectDetector(model, input_shape=images.shape[1:], clip_values=(0.0, 1.0), channels_first=True, attack_losses=losses, device_type=device_type)
    return place_estimator(estimator, device)


def art_pgd(model: Any, images: np.ndarray, targets: Sequence[Detections], *, eps: float, eps_step: float, steps: int, batch_size: int = 16, losses: tuple[str, ...] = FASTER_RCNN_LOSSES, seed: int = 0, norm: Norm = "linf") -> np.ndarray:
    """Adversarial ``images`` (float (N, C, H, W) in [0, 1]) by ART's ``ProjectedGradientDescent`` on
    ``PyTorchObjectDetector(model)``, in the ``norm`` ball (L-inf or L2 over each whole image) of radius
    ``eps``, ``steps`` steps of ``eps_step``."""
    import torch
    from art.attacks.evasion import ProjectedGradientDescent

    estimator = detector_estimator(model, images, losses)
    attack = ProjectedGradientDescent(estimator, norm=np.inf if norm == "linf" else 2, eps=eps, eps_step=eps_step, max_iter=steps, targeted=False, num_random_init=0, batch_size=batch_size, verbose=False)
    labels = [{"boxes": np.asarray(t["boxes"], np.float32), "labels": np.asarray(t["labels"], np.int64)} for t in targets]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            adversarial = attack.generate(images.astype(np.float32), y=labels)
        finally:
            model.eval()
    return np.asarray(adversarial, np.float32)


def _eval_normalisation(model: Any) -> None:
    import torch

    for module in model.modules():
        if isinstance(module, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.Dropout, torch.nn.MultiheadAttention)):
            module.eval()


def reference_pgd(model: Any, images: np.ndarray, targets: Sequence[Detections], *, eps: float, eps_step: float, steps: int, batch_size: int = 16, losses: tuple[str, ...] = FASTER_RCNN_LOSSES, seed: int = 0, norm: Norm = "linf") -> np.ndarray:
    """The same attack as :func:`art_pgd`, written out: for each step and each batch, the gradient of the
    summed losses, a step of ``eps_step`` along its sign (L-inf) or along it scaled to unit L2 norm per image
    (L2), clipped to [0, 1] and projected on the ball (clamped, or scaled back to radius ``eps``)."""
    import torch

    clean = torch.from_numpy(np.asarray(images, np.float32))
    adversarial = clean.clone()
    labels = [{"boxes": torch.as_tensor(np.asarray(t["boxes"], np.float32)).reshape(-1, 4), "labels": torch.as_tensor(np.asarray(t["labels"], np.int64))} for t in targets]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            for _ in range(steps):
                for start in range(0, len(clean), batch_size):
                    model.train()
                    _eval_normalisation(model)
                    batch = adversarial[start : start + batch_size].clone().requires_grad_(True)
                    found = model(batch, labels[start : start + batch_size])
                    loss = sum(found[name] for name in losses if name in found)
                    (gradient,) = torch.autograd.grad(loss, batch)
                    stepped = torch.clamp(batch.detach() + eps_step * _direction(gradient, norm), 0.0, 1.0)
                    origin = clean[start : start + batch_size]
                    adversarial[start : start + batch_size] = origin + _project(stepped - origin, eps, norm)
        finally:
            model.eval()
    return adversarial.numpy()


def _direction(gradient: Any, norm: Norm) -> Any:
    """The steepest-ascent direction of unit ``norm``: the gradient's sign, or the gradient over its L2 norm."""
    if norm == "linf":
        return gradient.sign()
    length = gradient.flatten(1).norm(dim=1).reshape(-1, *[1] * (gradient.dim() - 1))
    return gradient / length.clamp_min(1e-12)


def _project(delta: Any, eps: float, norm: Norm) -> Any:
    """``delta`` brought back into the ``norm`` ball of radius ``eps``: clamped, or scaled down per image."""
    import torch

    if norm == "linf":
        return torch.clamp(delta, -eps, eps)
    length = delta.flatten(1).norm(dim=1).reshape(-1, *[1] * (delta.dim() - 1))
    return delta * torch.clamp(eps / length.clamp_min(1e-12), max=1.0)


#: the step of the patch's pixels at each iteration of RobustDPatch (along the gradient's sign, in [0, 1] units)
PATCH_LEARNING_RATE = 0.05


def art_patch(model: Any, images: np.ndarray, *, side: int, steps: int, batch_size: int = 16, seed: int = 0) -> np.ndarray:
    """A universal square patch ``(C, side, side)`` for the top-left corner of ``images`` (float (N, C, H, W) in
    [0, 1]) by ART's untargeted ``RobustDPatch`` on ``PyTorchObjectDetector(model)``: ``steps`` iterations of
    :data:`PATCH_LEARNING_RATE` that raise the detector's training losses against its own detections."""
    import torch
    from art.attacks.evasion import RobustDPatch

    estimator = detector_estimator(model, images, FASTER_RCNN_LOSSES)
    state = np.random.get_state()  # ART draws the initial patch from numpy's global generator
    with torch.random.fork_rng(devices=[]):
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            attack = RobustDPatch(estimator, patch_shape=(images.shape[1], side, side), patch_location=(0, 0), max_iter=steps, learning_rate=PATCH_LEARNING_RATE, batch_size=batch_size, verbose=False)
            patch = attack.generate(images.astype(np.float32))
        finally:
            np.random.set_state(state)
            model.eval()
    return np.asarray(patch, np.float32)


def apply_patch(images: np.ndarray, patch: np.ndarray) -> np.ndarray:
    """``images`` (N, C, H, W) with ``patch`` (C, h, w) pasted over their top-left corner."""
    patched = np.array(images, np.float32, copy=True)
    patched[:, :, : patch.shape[1], : patch.shape[2]] = patch
    return patched
