"""A failing corruption or attack check of a segmentation model saves its worst images
(:mod:`pytest_mlguard.checks._worst`): the lowest mIoU of the image alone against its mask, with that mask
and the predicted one. An attack runs batch by batch and keeps only the worst images seen so far
(:class:`WorstSoFar`), not every adversarial image."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..checks._worst import WORST, below_floor, per_image, save_worst, with_worst, worst_order
from .checks import clean_confusions, confusions
from .metrics import miou_of_images

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation
    from ..checks._spec import CheckSpec, Measurement


def image_mious(matrices: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Each image's mIoU from its confusion matrix ``(N, K, K)``, ``nan`` for an image without a counted pixel.

    Example:
        >>> image_mious(np.array([[[3, 0], [0, 1]], [[0, 2], [2, 0]], [[0, 0], [0, 0]]])).tolist()
        [1.0, 0.0, nan]
    """
    found = per_image(miou_of_images(matrices), len(matrices), chunk)
    return np.where(matrices.reshape(len(matrices), -1).sum(axis=1) > 0, found, np.nan)


def _clean_scores(evaluation: Evaluation) -> np.ndarray:
    return evaluation.memo(("segmentation", "clean-image-mious"), lambda: image_mious(clean_confusions(evaluation)))


class WorstSoFar:
    """The adversarial images of the worst images an attack has made so far, batch by batch (:meth:`offer`)."""

    def __init__(self, evaluation: Evaluation) -> None:
        self.evaluation = evaluation
        self.images: dict[int, np.ndarray] = {}
        self.scores: dict[int, float] = {}

    def offer(self, start: int, adversarial: np.ndarray, pred: np.ndarray) -> None:
        """The batch of images ``start:start + len(pred)``: their adversarial inputs and predicted masks."""
        target = self.evaluation.data.y[start : start + len(pred)]
        scores = image_mious(confusions(self.evaluation, pred, target))
        self.scores.update({start + i: float(s) for i, s in enumerate(scores)})
        self.images.update({start + i: image for i, image in enumerate(adversarial)})
        ids = np.array(sorted(self.images))
        keep = ids[worst_order(np.array([self.scores[i] for i in ids]), _clean_scores(self.evaluation)[ids], WORST)]
        self.images = {int(i): np.array(self.images[int(i)]) for i in keep}  # copies: not views that keep whole batches

    def __call__(self, ids: list[int]) -> np.ndarray:
        return np.stack([self.images[i] for i in ids])


def keep_worst(evaluation: Evaluation, spec: CheckSpec, measurement: Measurement, images: Callable[[list[int]], np.ndarray], pred: np.ndarray) -> Measurement:
    """``measurement``, and where it falls below its floor, its worst images saved (``images(indices)``: the
    shifted inputs the model saw; ``pred``: its masks of the first ``len(pred)`` images) and named in its details."""
    if not below_floor(spec, measurement):
        return measurement
    target = evaluation.data.y[: len(pred)]
    scores, clean_scores = image_mious(confusions(evaluation, pred, target)), _clean_scores(evaluation)[: len(pred)]
    worst = [int(i) for i in worst_order(scores, clean_scores)]
    if not worst:
        return measurement
    arrays = {"index": np.array(worst), "score": scores[worst], "clean_score": clean_scores[worst], "x": images(worst), "target_mask": target[worst], "pred_mask": pred[worst]}
    ignore = getattr(evaluation.data, "ignore_index", None)
    if ignore is not None:
        arrays["ignore_index"] = np.array(ignore)
    return with_worst(measurement, save_worst(evaluation, spec, arrays, "mIoU"))
