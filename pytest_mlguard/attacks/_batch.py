"""One attack on a batch through ART, and the adversarial examples of a check outside the suite.

:func:`attack_batch` is what every attack check runs (:mod:`.run`); :func:`adversarial_examples` and
:func:`load_adversarial` serve the ``mlguard.attack(...)`` helper and the saved artefacts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks._evaluation import stable_seed
from ..contract._model import Model
from ..errors import CheckError, InvalidArgument, NotApplicable
from ._build import make_attack, seeded, starting_points
from ._registry import ATTACKS, AttackDef

if TYPE_CHECKING:
    from ..checks._base import CheckSpec
    from ..config._settings import Settings
    from ._adapters import Adapter


@contextlib.contextmanager
def gradients_enabled() -> Iterator[None]:
    """Autograd on, even inside ``torch.no_grad()`` or ``torch.inference_mode()``."""
    import torch

    with torch.inference_mode(False), torch.enable_grad():
        yield


def check_applicable(definition: AttackDef, model: Model, adapter: Adapter | None = None) -> None:
    """``NotApplicable`` with the reason when ``model`` cannot be attacked by ``definition``."""
    if definition.gradients and model.kind == "callable":
        raise NotApplicable(
            f"{definition.name} needs the model's gradients; model {model.name!r} is a {model.kind} black box "
            "(use a black-box attack: square or hopskipjump)"
        )
    no_gradients = getattr(model, "no_gradients", None)  # an OnnxModel: the runtime computes none
    if definition.gradients and no_gradients:
        raise NotApplicable(
            f"{definition.name} needs the model's gradients; model {model.name!r} is an {model.kind} model and {no_gradients} "
            "(use a black-box attack: square or hopskipjump, or declare the torch model it was exported from)"
        )
    if adapter is not None and definition.gradients and not adapter.gradients:
        raise NotApplicable(f"ART has no gradients for {type(model.estimator).__name__}; use square or hopskipjump")  # type: ignore[attr-defined]
    if definition.name == "square" and (len(model.input_shape) != 3 or model.kind == "sklearn"):
        raise NotApplicable(
            f"ART's Square attack needs a neural network on images (channels, height, width); model {model.name!r} is a "
            f"{model.kind} model of inputs {model.input_shape} (use hopskipjump)"
        )


def attack_batch(
    adapter: Adapter,
    definition: AttackDef,
    norm: str,
    eps: float | None,
    params: Mapping[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Adversarial examples of ``x`` (model input shape) under one attack, through ART."""
    attack = make_attack(adapter.estimator, definition.name, norm, eps, params, batch_size=batch_size)
    x_in = adapter.to_estimator(x)
    kwargs: dict[str, Any] = {}
    if definition.name == "hopskipjump":
        kwargs["x_adv_init"] = starting_points(x_in, adapter.labels(x), rng, adapter.model.value_range)
    try:
        x_adv = attack.generate(x=x_in, y=None if definition.name == "deepfool" else y, **kwargs)
    except (RuntimeError, ValueError) as exc:
        text = str(exc)
        if any(sign in text for sign in ("does not require grad", "Gradient term in PyTorch model is `None`", "appears to not have been used")):
            raise CheckError(
                f"the output of model {adapter.model.name!r} has no gradient with respect to its input, so a gradient "
                "attack cannot evaluate it (a model that ignores its input, or one that masks its gradients with a "
                "non-differentiable step); try a black-box attack such as square"
            ) from None
        raise
    return adapter.from_estimator(x_adv)


def adversarial_examples(model: Model, spec: CheckSpec, x: np.ndarray, y: np.ndarray, settings: Settings) -> np.ndarray:
    """Adversarial examples of a fixed-epsilon or minimal attack check for ``(x, y)``, seeded as the
    check is (an attack that the check runs by chunks, :mod:`._chunks`, in chunks of ``attack.batch_size``
    seeded by their number), leaving the model as it was; for the ``mlguard.attack(...)`` helper."""
    from ._adapters import make_adapter
    from ._chunks import chunk_bounds, chunk_seed
    from ._registry import chunked

    definition = ATTACKS[spec.param("attack")]
    if not definition.minimal and spec.param("eps") is None:
        raise InvalidArgument(f"Expected an attack with an epsilon or a minimal attack but got {spec.name!r}: a sweep has no single set of adversarial examples")
    check_applicable(definition, model)
    seed, size = stable_seed(settings.seed, model.name, spec.id), spec.param("batch_size")
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y)
    chunks = list(enumerate(chunk_bounds(len(x), size))) if chunked(spec) else [(None, (0, len(x)))]
    parts = []
    with model.running(settings.device), seeded(seed), gradients_enabled():
        adapter = make_adapter(model, size)
        check_applicable(definition, model, adapter)
        adapter.freeze()
        for number, (start, stop) in chunks:
            part_seed = seed if number is None else chunk_seed(seed, number)
            with seeded(part_seed):
                rng = np.random.default_rng(part_seed)
                parts.append(attack_batch(adapter, definition, spec.param("norm"), spec.param("eps"), dict(spec.param("params")), x[start:stop], y[start:stop], batch_size=size, rng=rng))
    return np.concatenate(parts) if parts else x.copy()


def load_adversarial(directory: str | Path) -> dict[str, np.ndarray]:
    """The saved flipped samples of a check (``index``, ``x``, ``x_adv``, ``y``, ``adversarial_class``)."""
    with np.load(Path(directory) / "adversarial.npz") as saved:
        return {name: saved[name] for name in saved.files}
