"""The ``attack`` check's measurement: robust accuracy under an ART attack.

The user's model goes through ART's ``PyTorchClassifier`` (a ``torch.nn.Module``) or
``SklearnClassifier`` (an estimator). Normalisation is folded into the module, so ART sees raw
inputs and clips to the model's value range; the parameters are frozen for the attack (ART would
otherwise compute every weight's gradient), and ``TorchModel.running`` restores the module as it
was afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks.base import CheckSpec, Measurement
from ..checks.evaluation import stable_seed
from ..contract.model import Model, SklearnModel, TorchModel
from ..errors import CheckError, NotApplicable
from ._art import import_art
from .registry import ATTACKS

if TYPE_CHECKING:
    from ..checks.evaluation import Evaluation

__all__ = ["art_classifier", "make_attack", "robustness", "run_check"]


def art_classifier(model: Model) -> Any:
    """The ART estimator for ``model`` (inside ``model.running(...)`` for a torch model)."""
    import_art()
    if isinstance(model, TorchModel):
        import torch
        from art.estimators.classification import PyTorchClassifier

        module = model.raw_module()
        if model.output != "logits":
            module = _LogOf(module, model.output)
        for parameter in model.module.parameters():
            parameter.requires_grad_(False)
        device = torch.device(model.active_device)
        return PyTorchClassifier(
            model=module,
            loss=torch.nn.CrossEntropyLoss(),
            input_shape=model.input_shape,
            nb_classes=model.n_classes,
            clip_values=model.value_range,
            device_type="gpu" if device.type == "cuda" else "cpu",
        )
    if isinstance(model, SklearnModel):
        from art.estimators.classification import SklearnClassifier

        return SklearnClassifier(model=model.estimator, clip_values=model.value_range)
    raise NotApplicable(f"gradient attacks need a TorchModel or SklearnModel; model {model.name!r} is a {model.kind} black box")


def _LogOf(module: Any, output: str) -> Any:  # noqa: N802 - a module factory
    import torch

    class LogOf(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.inner(x)
            return out if output == "log_probabilities" else torch.log(out.clamp_min(1e-12))

    return LogOf()


def make_attack(classifier: Any, attack: str, norm: str, eps: float, *, steps: int, step_size: float, batch_size: int) -> Any:
    """The ART attack object for a registry name."""
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent

    art_norm = np.inf if norm == "linf" else 2
    if attack == "fgsm":
        return FastGradientMethod(classifier, norm=art_norm, eps=eps, eps_step=eps, batch_size=batch_size)
    if attack == "pgd":
        return ProjectedGradientDescent(
            classifier,
            norm=art_norm,
            eps=eps,
            eps_step=step_size * eps,
            max_iter=steps,
            num_random_init=0,
            batch_size=batch_size,
            verbose=False,
        )
    raise ValueError(f"unknown attack {attack!r}; expected one of {sorted(ATTACKS)}")


def robustness(model: Model, x: np.ndarray, y: np.ndarray, x_adv: np.ndarray) -> dict[str, Any]:
    """Robust accuracy and what flipped: a sample is robust if it is right clean and adversarially."""
    clean_pred = model.predict(x)
    adv_pred = model.predict(x_adv)
    clean_ok = clean_pred == y
    robust = clean_ok & (adv_pred == y)
    flipped = clean_ok & ~robust
    delta = (x_adv - x).reshape(len(x), -1)
    return {
        "robust_accuracy": float(robust.mean()),
        "clean_accuracy": float(clean_ok.mean()),
        "success_rate": float(flipped.sum() / max(1, clean_ok.sum())),
        "linf": np.abs(delta).max(axis=1),
        "l2": np.linalg.norm(delta, axis=1),
        "flipped": np.flatnonzero(flipped),
        "adv_pred": adv_pred,
    }


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    model = evaluation.model
    attack, norm, eps = spec.param("attack"), spec.param("norm"), spec.param("eps")
    if ATTACKS[attack].gradients and not isinstance(model, (TorchModel, SklearnModel)):
        raise NotApplicable(
            f"{attack} needs the model's gradients; model {model.name!r} is a {model.kind} black box"
        )
    data = evaluation.data.subset(spec.param("samples"), stable_seed(evaluation.settings.seed, "attack-samples"))
    import torch

    torch.manual_seed(stable_seed(evaluation.settings.seed, evaluation.model_id, spec.id))
    classifier = art_classifier(model)
    if not hasattr(classifier, "loss_gradient"):
        raise NotApplicable(f"ART has no gradients for {type(model.estimator).__name__}")  # type: ignore[attr-defined]
    art_attack = make_attack(
        classifier,
        attack,
        norm,
        eps,
        steps=spec.param("steps"),
        step_size=spec.param("step_size"),
        batch_size=spec.param("batch_size"),
    )
    try:
        x_adv = art_attack.generate(x=data.x, y=data.y).astype(np.float32)
    except RuntimeError as exc:
        if "does not require grad" not in str(exc):
            raise
        raise CheckError(
            f"the output of model {model.name!r} has no gradient with respect to its input, so a gradient attack "
            "cannot evaluate it (a model that ignores its input, or one that masks its gradients with a "
            "non-differentiable step)"
        ) from None
    outcome = robustness(model, data.x, data.y, x_adv)
    flipped = outcome["flipped"]
    details = {
        "attack": attack,
        "norm": norm,
        "eps": eps,
        "clean_accuracy": outcome["clean_accuracy"],
        "success_rate": outcome["success_rate"],
        "perturbation": {
            "linf_max": float(outcome["linf"].max()),
            "l2_median": float(np.median(outcome["l2"])),
        },
        "flipped": [
            {"index": int(i), "label": int(data.y[i]), "adversarial_class": int(outcome["adv_pred"][i])} for i in flipped
        ],
    }
    return Measurement(value=outcome["robust_accuracy"], n=data.n, clean=outcome["clean_accuracy"], details=details)
