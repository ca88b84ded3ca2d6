"""Object detection, the task implementation the families call for a model that declares
``task = "detection"`` (torchvision's convention: a list of images in, one ``{"boxes", "labels", "scores"}``
per image out; :class:`~pytest_mlguard.contract.TorchDetectionModel`), as :mod:`pytest_mlguard._segmentation`
is for segmentation: a detector runs the same suite as a classifier, each family measuring it in
the task's metric (docs/detection.md):

* ``accuracy[map]`` and ``accuracy[map_50]``: COCO mAP (IoU 0.5:0.95) and mAP at IoU 0.5 through torchmetrics'
  ``MeanAveragePrecision`` (:func:`mean_average_precision`), against ``accuracy.floor`` and
  ``accuracy.floor_50``, with a bootstrap interval over images (:class:`~._resample.Matches`);
* ``corruption[<name>-<severity>]``: mAP under the 19 corruptions (:func:`corrupt_images`; targets kept,
  as COCO-C keeps them), against ``corruption.floor``; the report's corruption summary gives mPC and rPC
  (Michaelis et al. 2019, :func:`performance_under_corruption`);
* ``attack[pgd-<norm>-<eps>]`` and ``attack[fgsm-linf-<eps>]``: mAP under PGD against the detector's
  training loss through ART's ``PyTorchObjectDetector`` (:func:`art_pgd`), against ``attack.floor``;
  ``attack[patch-<side>]``: mAP under ART's ``RobustDPatch``;
* ``calibration[ece]``: the ECE of the scores against being a true positive at IoU 0.5 (:func:`detection_ece`),
  debiased, with an interval that resamples images (:mod:`._ece`);
* ``contract[eval-mode]``: a detector left in train mode, box by box (:func:`box_agreement`).

Example:
    >>> from pytest_mlguard.config import resolve
    >>> from pytest_mlguard.checks._registry import all_keys, families
    >>> settings = resolve(cli={"task": "detection", "corruption.corruptions": "fog", "corruption.severities": "1,5", "attack.checks": "pgd-linf-1/255"}, environ={}, keys=all_keys())
    >>> [spec.id for family in families() if family.name in ("accuracy", "corruption", "attack", "calibration") for spec in family.planned(settings)]
    ['accuracy[map]', 'accuracy[map_50]', 'corruption[fog-1]', 'corruption[fog-5]', 'attack[pgd-linf-1/255]', 'calibration[ece]']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._attack import art_pgd as art_pgd
    from ._corrupt import corrupt_images as corrupt_images, performance_under_corruption as performance_under_corruption
    from ._metrics import box_agreement as box_agreement, detection_ece as detection_ece, mean_average_precision as mean_average_precision, true_positives as true_positives
    from ._resample import map_interval as map_interval

__all__ = [
    "art_pgd",
    "box_agreement",
    "corrupt_images",
    "detection_ece",
    "map_interval",
    "mean_average_precision",
    "performance_under_corruption",
    "true_positives",
]

# the functional core, imported on first use (numpy, torch, torchmetrics): importing the plugin stays cheap
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "art_pgd": "._attack",
        "box_agreement": "._metrics",
        "corrupt_images": "._corrupt",
        "detection_ece": "._metrics",
        "map_interval": "._resample",
        "mean_average_precision": "._metrics",
        "performance_under_corruption": "._corrupt",
        "true_positives": "._metrics",
    },
)
