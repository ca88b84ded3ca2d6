"""A failing corruption or attack check of a detector saves its worst images (:mod:`pytest_mlguard.checks._worst`):
the lowest mAP of the image alone against its target boxes, with those boxes and the detections the
model made on it (the highest-scoring :data:`KEPT`, from a score of :data:`MIN_SCORE`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks._worst import below_floor, per_image, save_worst, with_worst, worst_order
from ._resample import Matches

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation
    from ..checks._spec import CheckSpec, Measurement

Detections = list[dict[str, np.ndarray]]
KEPT, MIN_SCORE = 100, 0.05


def image_maps(predictions: Detections, targets: Detections, chunk: int = 256) -> np.ndarray:
    """Each image's mAP (IoU 0.5:0.95) of its own boxes, ``nan`` for an image without target boxes.

    Example:
        >>> box = np.array([[0.0, 0.0, 10.0, 10.0]])
        >>> targets = [{"boxes": box, "labels": np.array([1])}] * 2
        >>> found = [{"boxes": box, "labels": np.array([1]), "scores": np.array([0.9])}, {"boxes": box + 20, "labels": np.array([1]), "scores": np.array([0.9])}]
        >>> image_maps(found, targets).tolist()
        [1.0, 0.0]
    """
    matches = Matches.of(predictions, targets)
    found = per_image(lambda images: matches.average_precisions(images)["map"], len(targets), chunk)
    return np.where(found < 0, np.nan, found)


def _flat_boxes(items: Sequence[dict[str, np.ndarray]], prefix: str, scored: bool) -> dict[str, np.ndarray]:
    boxes, labels, scores, counts = [], [], [], []
    for item in items:
        box, label = np.asarray(item["boxes"], np.float32).reshape(-1, 4), np.asarray(item["labels"], np.int64).reshape(-1)
        score = np.asarray(item["scores"], np.float32).reshape(-1) if scored else np.ones(len(label), np.float32)
        keep = np.argsort(-score, kind="stable")[:KEPT]
        keep = keep[score[keep] >= MIN_SCORE]
        boxes.append(box[keep])
        labels.append(label[keep])
        scores.append(score[keep])
        counts.append(len(keep))
    flat = {f"{prefix}_boxes": np.concatenate([np.zeros((0, 4), np.float32), *boxes]), f"{prefix}_labels": np.concatenate([np.zeros(0, np.int64), *labels])}
    if scored:
        flat[f"{prefix}_scores"] = np.concatenate([np.zeros(0, np.float32), *scores])
    return {**flat, f"{prefix}_counts": np.array(counts, np.int64)}


def _stacked(images: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Images (C, H, W) of any sizes as one batch, padded with zeros at the right and bottom, and their sizes."""
    height, width = max(i.shape[1] for i in images), max(i.shape[2] for i in images)
    batch = np.zeros((len(images), images[0].shape[0], height, width), np.float32)
    for row, image in zip(batch, images):
        row[:, : image.shape[1], : image.shape[2]] = image
    return {"x": batch, "sizes": np.array([image.shape[1:] for image in images], np.int64)}


def keep_worst(
    evaluation: Evaluation,
    spec: CheckSpec,
    measurement: Measurement,
    images: Callable[[list[int]], list[np.ndarray]],
    predictions: Detections,
    clean: Detections,
    targets: Detections,
) -> Measurement:
    """``measurement``, and where it falls below its floor, its :data:`~pytest_mlguard.checks._worst.WORST`
    worst images saved (``images(indices)``: the shifted images the model saw) and named in its details."""
    if not below_floor(spec, measurement):
        return measurement
    # the clean scores are the same for every failing check of these images: computed once
    clean_scores = evaluation.memo(("detection", "clean-image-maps", len(targets)), lambda: image_maps(clean, targets))
    scores = image_maps(predictions, targets)
    worst = [int(i) for i in worst_order(scores, clean_scores)]
    if not worst:
        return measurement
    arrays: dict[str, Any] = {"index": np.array(worst), "score": scores[worst], "clean_score": clean_scores[worst], **_stacked(images(worst))}
    arrays.update(_flat_boxes([targets[i] for i in worst], "target", scored=False))
    arrays.update(_flat_boxes([predictions[i] for i in worst], "pred", scored=True))
    return with_worst(measurement, save_worst(evaluation, spec, arrays, "mAP"))
