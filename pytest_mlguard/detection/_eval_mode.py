"""``contract[eval-mode]`` for a torch detector: submodules left in train mode that change its boxes.

A torch layer that computes otherwise in train mode (batch norm, dropout) counts whenever it is in train
mode; a module of torchvision's or the project's own (``GeneralizedRCNN`` reads ``self.training``: in train
mode it wants targets and returns losses) counts where the detections of the first ``contract.samples``
images, one image a request, change between eval mode and the mode given. The agreement of the two runs
is box-level: confident boxes (score >= 0.5) matched with their label at IoU 0.5
(:func:`~pytest_mlguard.detection._metrics.box_agreement`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._messages import exception_text
from ..checks._base import CheckSpec, Measurement
from ..contract._modes import computes_otherwise_in_train_mode, defined_outside_torch, kept_buffers, name_modules, set_modes
from ..errors import NotApplicable
from ._metrics import box_agreement
from ._run import _data

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation


def detections_in_both_modes(module: Any, images: list[np.ndarray], train_mode: tuple[str, ...]) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]] | str]:
    """The module's detections of ``images``, one a request, in eval mode and with the submodules
    ``train_mode`` names in train mode (or the error that raised); modes and buffers (batch norm's running
    statistics) are restored after."""
    import torch

    def run() -> list[dict[str, np.ndarray]]:
        device = next(iter(module.parameters())).device
        with torch.no_grad():
            return [{k: v.cpu().numpy() for k, v in module([torch.from_numpy(image).to(device)])[0].items()} for image in images]

    modes = [(m, m.training) for m in module.modules()]
    try:
        with kept_buffers(module):
            module.eval()
            in_eval = run()
            set_modes(module, dict.fromkeys(train_mode, True))
            try:
                given: list[dict[str, np.ndarray]] | str = run()
            except Exception as exc:  # noqa: BLE001 - a torchvision detector in train mode asserts it has targets
                given = exception_text(exc)
        return in_eval, given
    finally:
        for m, training in modes:
            m.training = training


def eval_mode_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The submodules of a torch detector left in train mode that change its detections."""
    model: Any = evaluation.model
    module = getattr(model, "module", None)
    if module is None:
        raise NotApplicable(f"model {model.name!r} is a {model.kind} detection model: it has no train or eval mode to check")
    declared = set(getattr(model, "train_mode", ()))
    training = [(name, m) for name, m in module.named_modules() if name in declared]
    layers = [name for name, m in training if computes_otherwise_in_train_mode(m)]
    own = [name for name, m in training if defined_outside_torch(m)]
    details: dict[str, Any] = {"train_mode": [name for name, _ in training], "train_mode_layers": layers, "train_mode_own": own}
    if not training:
        return Measurement(value=0.0, n=0, details={**details, "culprits": []}, evaluations=0)
    n = evaluation.sample_limit(min(evaluation.data.n, evaluation.settings.get("contract.samples")))
    in_eval, given = detections_in_both_modes(module, _data(evaluation).images[:n], tuple(declared))
    agreement = 0.0 if isinstance(given, str) else box_agreement(in_eval, given)
    details.update({"compared": n, "agreement": agreement, "error": given if isinstance(given, str) else None})
    culprits = layers or (own if agreement < 1.0 else [])
    details["culprits"] = culprits
    message = ""
    if culprits:
        effect = f"a request of one image raised {given}" if isinstance(given, str) else f"the confident boxes of requests of one image agreed with eval mode on {agreement:.4f} (matched with their label at IoU 0.5), {n} images"
        message = (
            f"{name_modules(culprits, module)} {'is' if len(culprits) == 1 else 'are'} in train mode: in the mode given, {effect}. "
            "The other checks ran the detector in eval mode, the service runs it as given: call .eval() on the module before serving and declaring it"
        )
    return Measurement(value=float(len(culprits)), n=n, details=details, message=message, evaluations=2 * n)
