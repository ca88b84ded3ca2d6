"""``contract[eval-mode]``: submodules left in train mode that change what the model computes.

A submodule in train mode is named when it is one of torch's layers that computes something else there
(:func:`~pytest_mlguard.contract._modes.computes_otherwise_in_train_mode`), or, where there is none, a
module defined outside torch whose outputs change with the mode (its own code reads ``self.training``):
the model runs on the evaluation samples in both modes and the two are compared.

Example:
    >>> import torch
    >>> from pytest_mlguard.contract import TorchModel
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3))  # a new module is in train mode: Linear ignores it
    >>> in_eval, given = outputs_in_both_modes(TorchModel(net, input_shape=(4,), n_classes=3), np.ones((2, 4), np.float32))
    >>> bool(np.array_equal(in_eval, given))
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._messages import exception_text
from ..checks._base import CheckSpec, Measurement
from ..errors import NotApplicable
from ..production._compare import per_sample_diff, top1_agreement
from ._modes import name_modules

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation
    from ._model import Model


#: a probability difference between the modes below this is rounding, not another computation
SAME_OUTPUTS = 1e-4


def outputs_in_both_modes(
    model: Model, x: np.ndarray, device: str | None = None, seed: int = 0, batch_size: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a :class:`~pytest_mlguard.contract._model.TorchModel` on ``x`` in eval mode and in
    the mode given, both as requests of ``batch_size`` samples (one, as a service answers a request, by
    default: the same batches, so that only the mode differs); torch's random state is seeded for the
    run in the mode given (dropout draws) and restored after."""
    import torch

    with model.running(device, mode="eval"):
        in_eval = model.predict_proba(x, batch_size=batch_size)
    with torch.random.fork_rng(devices=[]), model.running(device, mode="given"):
        torch.manual_seed(seed)
        given = model.predict_proba(x, batch_size=batch_size)
    return in_eval, given


def compare_modes(evaluation: Evaluation) -> dict[str, Any]:
    """The model on the evaluation samples (``contract.samples`` of them, requests of one sample) in eval
    mode and in the mode given, once per evaluation: top-1 agreement, the largest probability
    difference, the error a request raised in the mode given, and whether the outputs change."""
    model = evaluation.model

    def compare() -> dict[str, Any]:
        n = evaluation.sample_limit(min(evaluation.data.n, evaluation.settings.get("contract.samples")))
        try:
            in_eval, given = outputs_in_both_modes(model, evaluation.data.x[:n], evaluation.settings.device, evaluation.settings.seed)
        except Exception as exc:  # noqa: BLE001 - batch norm over one value per channel raises in train mode
            return {"compared": n, "agreement": 0.0, "max_proba_diff": None, "error": exception_text(exc), "changes": True}
        largest = float(per_sample_diff(in_eval, given).max())
        return {
            "compared": n,
            "agreement": top1_agreement(in_eval, given),
            "max_proba_diff": largest if np.isfinite(largest) else None,
            "error": None,
            "changes": not largest <= SAME_OUTPUTS,
        }

    return evaluation.memo(("contract", "modes"), compare)


def modes_to_run(evaluation: Evaluation) -> tuple[str | None, ...]:
    """The modes the determinism and drift checks run the model in: :meth:`~pytest_mlguard.contract._model.Model.modes`,
    less the mode given where only modules defined outside torch are in train mode and the outputs do
    not change with the mode (:func:`compare_modes`): a wrapper never put in eval mode is measured once."""
    from ._model import TorchModel

    model = evaluation.model
    modes = model.modes()
    if len(modes) < 2 or (isinstance(model, TorchModel) and model.train_mode_layers):
        return modes
    return modes if compare_modes(evaluation)["changes"] else modes[:1]


def eval_mode_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """``contract[eval-mode]``: the submodules left in train mode that change what the model computes."""
    from ._model import TorchModel

    model = evaluation.model
    if getattr(model, "task", None) == "detection":  # boxes, not class vectors: compared box by box
        from ..detection._eval_mode import eval_mode_check as detection_eval_mode_check

        return detection_eval_mode_check(spec, evaluation)
    if not isinstance(model, TorchModel):
        raise NotApplicable(f"model {model.name!r} is a {model.kind} model: it has no train or eval mode to check")
    layers, own = model.train_mode_layers, model.train_mode_own
    details: dict[str, Any] = {
        "declared": model.mode,
        "train_mode": list(model.train_mode),
        "train_mode_layers": list(layers),
        "train_mode_own": list(own),
    }
    if len(model.modes()) < 2:  # nothing in train mode that may compute otherwise there
        return Measurement(value=0.0, n=0, details=details, evaluations=0)
    compared = compare_modes(evaluation)
    details.update({key: value for key, value in compared.items() if key != "changes"})
    culprits = () if model.mode == "as-given" else layers or (own if compared["changes"] else ())
    details["culprits"] = list(culprits)
    message = ""
    if culprits:
        verb = "is" if len(culprits) == 1 else "are"
        why = (
            "where torch computes it otherwise (batch statistics, dropout)"
            if layers
            else f"and {'its' if len(culprits) == 1 else 'their'} own code computes something else there (it reads self.training)"
        )
        n, largest = compared["compared"], compared["max_proba_diff"]
        effect = (
            f"a request of one sample raised {compared['error']}"
            if compared["error"]
            else f"the top-1 class of requests of one sample agreed with eval mode on {compared['agreement']:.4f} of {n} samples "
            f"(probabilities differ by up to {'NaN' if largest is None else f'{largest:.3g}'})"
        )
        message = (
            f"{name_modules(culprits, model.module)} {verb} in train mode, {why}: in the mode given, {effect}. "
            "The other checks ran the module in eval mode, the service runs it as given: call .eval() on the module "
            "before serving and declaring it, or declare TorchModel(..., mode='as-given') if it is served so on purpose"
        )
    return Measurement(value=float(len(culprits)), n=compared["compared"], details=details, message=message, evaluations=2 * compared["compared"])
