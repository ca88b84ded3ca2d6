"""``shift[embedding]``: a kernel two-sample test (MMD) on the model's own representation of its inputs.

The embedding is the input of the module's last ``Linear`` layer (the penultimate layer of a
classifier), or the output of the layer ``shift.layer`` names. The test is the maximum mean discrepancy
with a Gaussian kernel whose bandwidth is the median pairwise distance of the pooled samples (Gretton
et al. 2012), with a permutation null: its p-value is the share of random relabellings of the pooled
samples whose MMD is at least the observed one.

Example:
    >>> rng = np.random.default_rng(0)
    >>> mmd_test(rng.normal(size=(100, 4)), rng.normal(size=(100, 4)), permutations=200, rng=rng).p_value > 0.05
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import NotApplicable
from .statistics import TwoSample, null_summary


def _biased_mmd2(kernel: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """MMD² (the V-statistic) of each row of ``signs`` (1/n for one sample, -1/m for the other)."""
    return np.einsum("bi,bi->b", signs @ kernel, signs)


def mmd_test(reference: np.ndarray, production: np.ndarray, *, permutations: int, rng: np.random.Generator) -> TwoSample:
    """MMD two-sample test of two samples of vectors ``(n, d)`` and ``(m, d)``, with a permutation null."""
    ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    prod = np.asarray(production, dtype=np.float64).reshape(len(production), -1)
    pooled = np.concatenate([ref, prod])
    squared = np.sum(pooled**2, axis=1)
    distances = np.maximum(squared[:, None] + squared[None, :] - 2 * pooled @ pooled.T, 0.0)
    positive = distances[np.triu_indices(len(pooled), 1)]
    positive = positive[positive > 0]
    bandwidth = float(np.median(positive)) if len(positive) else 1.0
    kernel = np.exp(-distances / bandwidth)
    n, m = len(ref), len(prod)
    observed_signs = np.r_[np.full(n, 1.0 / n), np.full(m, -1.0 / m)]
    observed = float(_biased_mmd2(kernel, observed_signs[None])[0])
    shuffled = np.stack([observed_signs[rng.permutation(n + m)] for _ in range(permutations)])
    null = _biased_mmd2(kernel, shuffled)
    p_value = (1 + int(np.sum(null >= observed - 1e-12))) / (permutations + 1)
    what = f"MMD² {observed:.4f} against a permutation null of median {np.median(null):.4f}"
    summaries = ({"n": n, "dimensions": ref.shape[1]}, {"n": m, "dimensions": prod.shape[1]})
    return TwoSample("embedding", "mmd", observed, p_value, observed, "mmd²", what, reference=summaries[0], production=summaries[1], null=null_summary(null, observed))


def _layer(module: Any, name: str | None) -> tuple[Any, bool]:
    """The layer whose representation is compared, and whether its input (not its output) is."""
    import torch

    layers = dict(module.named_modules())
    if name is not None:
        if name not in layers:
            known = [n for n in layers if n][:30]
            raise NotApplicable(f"shift.layer {name!r} is no submodule of the model; expected one of {known}")
        return layers[name], False
    linear = [layer for layer in layers.values() if isinstance(layer, torch.nn.Linear)]
    if not linear:
        raise NotApplicable("the model has no Linear layer whose input is its penultimate representation: name one in shift.layer")
    return linear[-1], True


def embed(model: Any, x: np.ndarray, layer: str | None = None) -> np.ndarray:
    """The representation ``(n, d)`` of ``x`` at the embedding layer of ``model`` (a ``TorchModel``)."""
    module = getattr(model, "module", None)
    if module is None or not hasattr(module, "named_modules"):
        raise NotApplicable(f"shift[embedding] needs a TorchModel; model {model.name!r} is a {model.kind} model")
    target, use_input = _layer(module, layer)
    captured: list[np.ndarray] = []

    def keep(_: Any, inputs: Any, output: Any) -> None:
        value = inputs[0] if use_input else output
        captured.append(value.detach().float().cpu().reshape(len(value), -1).numpy())

    handle = target.register_forward_hook(keep)
    try:
        model.predict_proba(x)
    finally:
        handle.remove()
    return np.concatenate(captured) if captured else np.zeros((0, 0))
