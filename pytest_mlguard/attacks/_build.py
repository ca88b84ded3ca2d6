"""ART attack objects from the registry's presets, and seeding of the randomness ART uses.

Every attack is built quiet (``verbose=False`` where ART has the flag) with the check's batch size.
ART's attacks draw their randomness from numpy's and Python's global generators (and torch's for
the PyTorch implementations): :func:`seeded` seeds all three for the duration of an attack and puts
the user's generator states back afterwards.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ._art import import_art
from ._registry import ATTACKS


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed numpy's, Python's and torch's global generators; restore their states on exit."""
    import torch

    np_state, py_state, torch_state = np.random.get_state(), random.getstate(), torch.random.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    np.random.seed(seed)
    random.seed(seed)
    torch.random.default_generator.manual_seed(seed)  # torch.manual_seed would initialise every backend
    if cuda_states is not None:
        torch.cuda.manual_seed_all(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
        torch.random.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def hopskipjump_schedule(queries: int, init_eval: int) -> tuple[int, int, int]:
    """``(max_iter, max_eval, init_eval)`` of HopSkipJump that spend at most about ``queries`` per sample.

    Iteration ``i`` (from 1) estimates the gradient with ``min(init_eval * sqrt(i), max_eval)``
    queries, and spends about 25 more on its binary and step-size searches.
    """
    overhead = 25
    init_eval = max(1, min(init_eval, queries - overhead))
    max_eval = max(init_eval, queries // 4)
    spent, iterations = 0, 0
    while True:
        cost = min(int(init_eval * math.sqrt(iterations + 1)), max_eval) + overhead
        if iterations and spent + cost > queries:
            break
        spent += cost
        iterations += 1
    return iterations, max_eval, init_eval


def _art_norm(norm: str) -> Any:
    return np.inf if norm == "linf" else 2


def _fgsm(evasion: Any, estimator: Any, norm: str, eps: Any, params: Mapping[str, Any], batch_size: int) -> Any:
    return evasion.FastGradientMethod(estimator, norm=_art_norm(norm), eps=eps, eps_step=eps, batch_size=batch_size)


def _pgd(evasion: Any, estimator: Any, norm: str, eps: Any, params: Mapping[str, Any], batch_size: int) -> Any:
    return evasion.ProjectedGradientDescent(
        estimator,
        norm=_art_norm(norm),
        eps=eps,
        eps_step=params["step_size"] * eps,
        max_iter=params["steps"],
        num_random_init=params["restarts"],
        batch_size=batch_size,
        verbose=False,
    )


#: how the ``autoattack`` preset departs from the reference AutoAttack and from ART's own default list
#: (art/attacks/evasion/auto_attack.py, ART 1.20.1), in each check's details
AUTOATTACK_NOTE = (
    "ART's AutoAttack given pytest-mlguard's components, untargeted: not the reference AutoAttack (Croce and Hein, "
    "2020, version 'standard': APGD-CE, APGD-T, FAB-T, Square with 5000 queries), whose targeted APGD-T and FAB-T do not "
    "run, nor ART's default list (APGD-CE and APGD-DLR with 5 restarts each, DeepFool in place of FAB, Square with 5000 "
    "queries and 5 restarts); each component attacks only the samples the ones before it left robust"
)


def autoattack_components(params: Mapping[str, Any]) -> list[str]:
    """The component attacks of the ``autoattack`` preset, in the order they run (:func:`_autoattack` builds them)."""
    restarts = f"{params['restarts']} random start{'s' if params['restarts'] != 1 else ''}"
    return [
        f"APGD-CE (cross-entropy loss, {params['steps']} steps, {restarts})",
        f"APGD-DLR (difference-of-logits-ratio loss, {params['steps']} steps, {restarts})",
        f"Square ({params['queries']} queries, 1 restart)",
    ]


def _autoattack(evasion: Any, estimator: Any, norm: str, eps: Any, params: Mapping[str, Any], batch_size: int) -> Any:
    step = 2 * eps / 10 if norm == "linf" else eps / 4
    apgd = [
        evasion.AutoProjectedGradientDescent(
            estimator,
            norm=_art_norm(norm),
            eps=eps,
            eps_step=step,
            max_iter=params["steps"],
            targeted=False,
            nb_random_init=params["restarts"],
            batch_size=batch_size,
            loss_type=loss,
            verbose=False,
        )
        for loss in ("cross_entropy", "difference_logits_ratio")
    ]
    square = evasion.SquareAttack(
        estimator, norm=_art_norm(norm), eps=eps, max_iter=params["queries"], nb_restarts=1, batch_size=batch_size, verbose=False
    )
    return evasion.AutoAttack(estimator, norm=_art_norm(norm), eps=eps, eps_step=step, attacks=[*apgd, square], batch_size=batch_size)


def _cw(evasion: Any, estimator: Any, norm: str, eps: Any, params: Mapping[str, Any], batch_size: int) -> Any:
    return evasion.CarliniL2Method(
        estimator,
        confidence=params["confidence"],
        learning_rate=params["learning_rate"],
        binary_search_steps=params["search_steps"],
        max_iter=params["steps"],
        batch_size=batch_size,
        verbose=False,
    )


def _deepfool(evasion: Any, estimator: Any, norm: str, eps: Any, params: Mapping[str, Any], batch_size: int) -> Any:
    return evasion.DeepFool(
        estimator,
        max_iter=params["steps"],
        epsilon=params["overshoot"],
        nb_grads=min(params["candidates"], estimator.nb_classes),
        batch_size=batch_size,
        verbose=False,
    )


def _square(evasion: Any, estimator: Any, norm: str, eps: Any, params: Mapping[str, Any], batch_size: int) -> Any:
    return evasion.SquareAttack(
        estimator,
        norm=_art_norm(norm),
        eps=eps,
        max_iter=params["queries"],
        p_init=params["p_init"],
        nb_restarts=params["restarts"],
        batch_size=batch_size,
        verbose=False,
    )


def _hopskipjump(evasion: Any, estimator: Any, norm: str, eps: Any, params: Mapping[str, Any], batch_size: int) -> Any:
    max_iter, max_eval, init_eval = hopskipjump_schedule(params["queries"], params["init_eval"])
    return evasion.HopSkipJump(
        estimator,
        norm=_art_norm(norm),
        max_iter=max_iter,
        max_eval=max_eval,
        init_eval=init_eval,
        init_size=100,
        batch_size=batch_size,
        verbose=False,
    )


#: registry preset -> ``(art.attacks.evasion, estimator, norm, eps, params, batch_size) -> ART attack``
_BUILDERS: dict[str, Callable[[Any, Any, str, Any, Mapping[str, Any], int], Any]] = {
    "fgsm": _fgsm,
    "pgd": _pgd,
    "autoattack": _autoattack,
    "cw": _cw,
    "deepfool": _deepfool,
    "square": _square,
    "hopskipjump": _hopskipjump,
}


def make_attack(estimator: Any, attack: str, norm: str, eps: float | None, params: Mapping[str, Any], *, batch_size: int) -> Any:
    """The ART attack object for a registry preset, its parameters and epsilon."""
    build = _BUILDERS.get(attack)
    if build is None:
        raise ValueError(f"unknown attack {attack!r}; expected one of {', '.join(ATTACKS)}")
    import_art()
    from art.attacks import evasion

    return build(evasion, estimator, norm, eps, params, batch_size)


def starting_points(x: np.ndarray, labels: np.ndarray, rng: np.random.Generator, value_range: tuple[float, float]) -> np.ndarray:
    """A seeded starting point for each sample of a decision-based attack: the nearest (L2) other
    sample predicted as another class, or uniform noise where every sample has the same prediction."""
    flat = x.reshape(len(x), -1)
    squared = np.einsum("ij,ij->i", flat, flat, dtype=np.float64)
    nearest = np.zeros(len(x), dtype=np.int64)
    alone = np.zeros(len(x), dtype=bool)
    for start_row in range(0, len(x), 256):
        rows = slice(start_row, start_row + 256)
        distances = squared[rows, None] + squared[None, :] - 2 * (flat[rows] @ flat.T).astype(np.float64)
        distances[labels[rows, None] == labels[None, :]] = np.inf
        nearest[rows] = distances.argmin(axis=1)
        alone[rows] = ~np.isfinite(distances.min(axis=1))
    start = x[nearest].copy()
    if alone.any():
        start[alone] = rng.uniform(*value_range, size=(int(alone.sum()), *x.shape[1:])).astype(x.dtype)
    return start
