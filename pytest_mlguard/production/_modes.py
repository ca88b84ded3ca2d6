"""The determinism and drift checks on the model in each mode it may run in.

A ``TorchModel`` given with submodules in train mode that may compute something else there (batch norm,
dropout, a module's own code) runs two ways: in eval mode, where the checks of other families put it,
and in the mode given, as a service that never calls ``.eval()`` runs it. A determinism or drift check
measures both and reports the worse, with each mode's result in ``details["modes"]``.

Example:
    >>> from pytest_mlguard.contract import CallableModel
    >>> CallableModel(lambda x: x, input_shape=(2,), n_classes=2).modes()  # one mode: measured once
    (None,)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from ..checks._base import CheckSpec, Measurement
    from ..checks._evaluation import Evaluation
    from ..contract._model import Model


def mode_name(model: Model, mode: str | None) -> str:
    """``eval mode`` or ``the mode given (train mode: norm (BatchNorm2d))``."""
    if mode != "given":
        return "eval mode"
    from ..contract._modes import name_modules

    names = getattr(model, "train_mode_layers", ()) or getattr(model, "train_mode_own", ())
    return f"the mode given (train mode: {name_modules(names, model.module)})"  # type: ignore[attr-defined]


def in_mode(evaluation: Evaluation, predict: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``predict`` bound to the mode the model runs in now, for predictions made later (kept ones,
    :class:`~pytest_mlguard.production._compare.PrefixPredictions`) whatever the mode then."""
    model, mode, device = evaluation.model, evaluation.model.active_mode, evaluation.settings.device
    if mode is None:
        return predict

    def bound(batch: np.ndarray) -> np.ndarray:
        with model.running(device, mode=mode):
            return predict(batch)

    return bound


def in_each_mode(spec: CheckSpec, evaluation: Evaluation, measure: Callable[[], Measurement], *, unchanged: str) -> Measurement:
    """``measure()`` in each mode of :func:`~pytest_mlguard.contract._eval_mode.modes_to_run`, the mode
    it is served in first; the worse measurement (the lower for a floor, the higher for a ceiling), its
    message led by the mode it came from, then each other mode's (``unchanged`` where it has none).
    """
    from ..contract._eval_mode import modes_to_run

    model = evaluation.model
    modes = modes_to_run(evaluation)
    if len(modes) < 2:
        return measure()
    measured: dict[str, Measurement] = {}
    for mode in modes:
        with model.running(evaluation.settings.device, mode=mode):
            measured[str(mode)] = measure()

    def badness(mode: str) -> float:
        value = measured[mode].value
        return math.inf if math.isnan(value) else (-value if spec.kind == "floor" else value)

    worst = max(measured, key=badness)  # ties: the mode served in, the first
    order = [worst] + [mode for mode in measured if mode != worst]
    message = "\n".join(f"in {mode_name(model, mode)}: {measured[mode].message or unchanged}" for mode in order)
    details: dict[str, Any] = {
        **measured[worst].details,
        "mode": worst,
        "modes": {mode: {"value": m.value, "n": m.n, "message": m.message} for mode, m in measured.items()},
    }
    evaluations = [m.evaluations for m in measured.values() if m.evaluations is not None]
    saved = [m.evaluations_saved for m in measured.values() if m.evaluations_saved is not None]
    return dataclasses.replace(
        measured[worst],
        details=details,
        message=message,
        evaluations=sum(evaluations) if evaluations else None,
        evaluations_saved=sum(saved) if saved else None,
    )
