"""Clean performance against a floor: the ``accuracy`` check, in the metric of the model's task: top-1
accuracy for classification, mIoU for segmentation (:mod:`pytest_mlguard._segmentation`), COCO mAP
(IoU 0.5:0.95) for detection (:mod:`pytest_mlguard.detection`): ``accuracy[map]``, with ``accuracy[map_50]``,
the mAP at IoU 0.5.

Settings (``[tool.mlguard.accuracy]``):

* ``floor``: a number in [0, 1], or relative to chance (``"0.5*above_chance"``, the default: halfway
  from chance level (1/K; 0 for mAP) to perfect);
* ``floor_50`` (detection only): the floor of ``accuracy[map_50]``, in the same form.
"""

from __future__ import annotations

from ..checks._base import CheckSpec, Family
from ..config.parse import Threshold, parse_threshold
from ..config._settings import Key, Settings


#: the clean performance of each task: its metric
METRICS = {"classification": "accuracy", "segmentation": "miou", "detection": "map"}


def _plan(settings: Settings) -> list[CheckSpec]:
    from ..checks._family import task_of

    task = task_of(settings)
    metric = METRICS.get(task)
    if task == "detection":  # COCO's mAP and the mAP at IoU 0.5, two checks (detection/_run.py)
        return [CheckSpec("accuracy", "map", "map", settings.get("accuracy.floor")), CheckSpec("accuracy", "map_50", "map_50", settings.get("accuracy.floor_50"))]
    return [CheckSpec("accuracy", None, metric, settings.get("accuracy.floor"))] if metric else []


FAMILY = Family(
    name="accuracy",
    keys=(
        Key(
            "accuracy.floor",
            parse_threshold,
            Threshold(0.5, "above_chance"),
            "floor of clean performance (accuracy; segmentation: mIoU; detection: COCO mAP): a number in [0, 1] or '0.5*above_chance'",
        ),
        Key("accuracy.floor_50", parse_threshold, Threshold(0.5, "above_chance"), "detection only: floor of accuracy[map_50], the clean mAP at IoU 0.5"),
    ),
    plan=_plan,
    run="pytest_mlguard._accuracy._tasks:run_check",
    tasks=("classification", "segmentation", "detection"),
    shard=lambda spec: "clean",
    rank=0,
    prior_forwards=0.0,  # the clean predictions, made once for every check
    rerun=True,
    clean_reference=True,  # the clean accuracy that corruption and attack checks are scored relative to
    doc="clean performance against a floor: top-1 accuracy (classification), mIoU (segmentation), mAP and mAP@0.5 (detection)",
)
