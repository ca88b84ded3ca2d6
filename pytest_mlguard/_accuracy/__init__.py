"""Clean performance against a floor: the ``accuracy`` check, in the metric of the model's task: top-1
accuracy for classification, mIoU for segmentation (:mod:`pytest_mlguard.segmentation`).

Settings (``[tool.mlguard.accuracy]``):

* ``floor``: a number in [0, 1], or relative to chance (``"0.5*above_chance"``, the default: halfway
  from chance level (1/K) to perfect).
"""

from __future__ import annotations

from ..checks._base import CheckSpec, Family
from ..config.parse import Threshold, parse_threshold
from ..config._settings import Key, Settings


#: the clean performance of each task: its metric (detection's mAP is declared by the detection checks)
METRICS = {"classification": "accuracy", "segmentation": "miou"}


def _plan(settings: Settings) -> list[CheckSpec]:
    from ..checks._family import task_of

    metric = METRICS.get(task_of(settings))
    return [CheckSpec("accuracy", None, metric, settings.get("accuracy.floor"))] if metric else []


FAMILY = Family(
    name="accuracy",
    keys=(
        Key(
            "accuracy.floor",
            parse_threshold,
            Threshold(0.5, "above_chance"),
            "floor of clean performance (accuracy; segmentation: mIoU): a number in [0, 1] or '0.5*above_chance'",
        ),
    ),
    plan=_plan,
    run="pytest_mlguard._accuracy._tasks:run_check",
    tasks=("classification", "segmentation", "detection"),
    rank=0,
    prior_forwards=0.0,  # the clean predictions, made once for every check
    rerun=True,
    clean_reference=True,  # the clean accuracy that corruption and attack checks are scored relative to
    doc="clean performance against a floor: top-1 accuracy (classification), mIoU (segmentation)",
)
