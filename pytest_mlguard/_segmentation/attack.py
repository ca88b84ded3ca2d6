"""PGD against a segmentation model: the per-pixel cross-entropy, maximised within an L-inf or L2 ball.

ART's attacks take classifiers (one class vector per input) and object detectors; none takes
per-pixel outputs, so the loop is here, in the form of Madry et al. (2018) as ART runs it for
classifiers:

1. start at the clean image; each of ``restarts`` further runs starts at a uniform draw from the ball
   (L-inf) or from its sphere scaled by ``U(0, 1)`` (L2), clipped to the value range;
2. ``steps`` times: the gradient ``g`` of the summed cross-entropy over every pixel not labelled
   ``ignore_index`` (torch's ``cross_entropy(..., ignore_index=...)``); a step of ``step_size * eps``
   along ``sign(g)`` (L-inf) or ``g / ||g||_2`` per image (L2); projection back onto the ball around
   the clean image, then onto the value range;
3. with restarts, each image keeps the run whose adversarial image has the fewest correct pixels.

FGSM is one L-inf step of size ``eps`` from the clean image. ``tests/unit/test_segmentation.py``
checks the robust mIoU of this loop against a separately written PGD on the example's model.

Example:
    >>> import torch
    >>> net = torch.nn.Conv2d(1, 2, 1)
    >>> x = np.zeros((1, 1, 4, 4), np.float32); y = np.zeros((1, 4, 4), np.int64)
    >>> pgd(net, x, y, eps=0.1, norm="linf", steps=2, step_size=0.5).shape
    (1, 1, 4, 4)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _project(adv: Any, clean: Any, eps: float, norm: str, low: float, high: float) -> Any:
    import torch

    delta = adv - clean
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        size = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
        delta = delta * (eps / size).clamp(max=1.0).view(-1, *([1] * (delta.dim() - 1)))
    return torch.clamp(clean + delta, low, high)


def _start(clean: Any, eps: float, norm: str, generator: Any) -> Any:
    import torch

    if norm == "linf":
        return clean + (torch.rand(clean.shape, generator=generator) * 2 - 1) * eps
    direction = torch.randn(clean.shape, generator=generator)
    direction = direction / direction.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (clean.dim() - 1)))
    return clean + direction * eps * torch.rand(len(clean), generator=generator).view(-1, *([1] * (clean.dim() - 1)))


def _run(net: Any, clean: Any, target: Any, adv: Any, *, eps: float, norm: str, steps: int, step: float, ignore_index: int, bounds: tuple[float, float]) -> Any:
    import torch
    import torch.nn.functional as tf

    adv = _project(adv, clean, eps, norm, *bounds)
    for _ in range(steps):
        adv = adv.detach().requires_grad_(True)
        loss = tf.cross_entropy(net(adv), target, ignore_index=ignore_index, reduction="sum")
        (grad,) = torch.autograd.grad(loss, adv)
        if norm == "linf":
            move = grad.sign()
        else:
            move = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (grad.dim() - 1)))
        adv = _project(adv.detach() + step * move, clean, eps, norm, *bounds)
    return adv.detach()


def pgd(
    net: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps: float,
    norm: str = "linf",
    steps: int = 10,
    step_size: float = 0.25,
    restarts: int = 0,
    ignore_index: int = 255,
    value_range: tuple[float, float] = (0.0, 1.0),
    seed: int = 0,
    device: str = "cpu",
) -> np.ndarray:
    """Adversarial images for ``net`` (a module over raw inputs returning logits ``(N, C, H, W)``) on
    images ``x`` ``(N, C, H, W)`` with masks ``y`` ``(N, H, W)``; ``step_size`` is a fraction of ``eps``;
    ``steps=1, step_size=1`` from the clean image is FGSM (L-inf)."""
    import torch

    if norm not in ("linf", "l2"):
        raise ValueError(f"expected norm 'linf' or 'l2', got {norm!r}")
    clean = torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(device)
    target = torch.from_numpy(np.asarray(y, np.int64)).to(device)
    options: dict[str, Any] = {"eps": eps, "norm": norm, "steps": steps, "step": step_size * eps, "ignore_index": ignore_index, "bounds": value_range}
    with torch.enable_grad():
        best = _run(net, clean, target, clean.clone(), **options)
        if restarts <= 0:
            return best.cpu().numpy()
        generator = torch.Generator().manual_seed(seed)
        best_correct = _correct_pixels(net, best, target, ignore_index)
        for _ in range(restarts):
            adv = _run(net, clean, target, _start(clean.cpu(), eps, norm, generator).to(device), **options)
            correct = _correct_pixels(net, adv, target, ignore_index)
            better = correct < best_correct
            best[better], best_correct[better] = adv[better], correct[better]
    return best.cpu().numpy()


def _correct_pixels(net: Any, adv: Any, target: Any, ignore_index: int) -> Any:
    import torch

    with torch.no_grad():
        predicted = net(adv).argmax(dim=1)
    return ((predicted == target) & (target != ignore_index)).flatten(1).sum(dim=1)
