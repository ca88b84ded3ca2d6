"""COCO's mAP on resampled images, for the bootstrap intervals: each image's detections are matched to its
targets once, at the ten IoU thresholds, as pycocotools' ``evaluateImg`` matches them (per label, by
descending score, each to the unmatched target box of highest IoU; at most 100 detections per image and
label); a resample of images then only repeats those matches and accumulates them as ``accumulate`` does
(101-point interpolated precision, labels without targets left out). The value a check reports is
torchmetrics' (:func:`~pytest_mlguard.detection._metrics.mean_average_precision`); the tests check that
this accumulation gives the same on the whole set.

Example:
    >>> boxes = np.array([[0.0, 0.0, 10.0, 10.0]], np.float32)
    >>> matches = Matches.of([{"boxes": boxes, "labels": np.array([1]), "scores": np.array([0.9])}], [{"boxes": boxes, "labels": np.array([1])}])
    >>> matches.average_precision(np.array([0]))
    {'map': 1.0, 'map_50': 1.0}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ._metrics import Detections, bootstrap

#: COCO's IoU thresholds, 0.5:0.05:0.95, and its 101 recall thresholds
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100


def _match(prediction: Detections, target: Detections) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, labels and true-positive flags (thresholds x detections) of one image's kept detections."""
    from torchvision.ops import box_iou
    import torch

    scores, labels = np.asarray(prediction["scores"], np.float64).reshape(-1), np.asarray(prediction["labels"]).reshape(-1)
    boxes = np.asarray(prediction["boxes"], np.float32).reshape(-1, 4)
    target_boxes, target_labels = np.asarray(target["boxes"], np.float32).reshape(-1, 4), np.asarray(target["labels"]).reshape(-1)
    kept: list[int] = []
    for label in np.unique(labels):
        of_label = np.flatnonzero(labels == label)
        kept += of_label[np.argsort(-scores[of_label], kind="mergesort")][:MAX_DETECTIONS].tolist()
    kept_index = np.asarray(kept, int)
    hits = np.zeros((len(IOU_THRESHOLDS), len(kept_index)), bool)
    if len(kept_index) and len(target_boxes):
        overlaps = box_iou(torch.from_numpy(boxes[kept_index]), torch.from_numpy(target_boxes)).double().numpy()
        overlaps[labels[kept_index][:, None] != target_labels[None, :]] = -1.0
        for t, threshold in enumerate(IOU_THRESHOLDS):
            free = np.ones(len(target_boxes), bool)
            for row in range(len(kept_index)):  # within a label, ``kept`` is in descending score
                candidates = np.where(free, overlaps[row], -1.0)
                best = int(np.argmax(candidates))
                if candidates[best] >= min(threshold, 1 - 1e-10):
                    hits[t, row], free[best] = True, False
    return scores[kept_index], labels[kept_index], hits


@dataclass(frozen=True)
class Matches:
    """Every image's matched detections, flat: the image of each detection, its score, label and hits."""

    image: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    hits: np.ndarray  # (thresholds, detections)
    target_counts: dict[int, np.ndarray]  # label -> targets of that label in each image
    n_images: int

    @classmethod
    def of(cls, predictions: Sequence[Detections], targets: Sequence[Detections]) -> Matches:
        found = [_match(p, t) for p, t in zip(predictions, targets)]
        image = np.concatenate([np.full(len(f[0]), i) for i, f in enumerate(found)] or [np.zeros(0, int)]).astype(int)
        target_labels = [np.asarray(t["labels"]).reshape(-1) for t in targets]
        every = np.unique(np.concatenate([*target_labels, np.zeros(0, int)])).astype(int)
        counts = {int(label): np.array([int((labels == label).sum()) for labels in target_labels]) for label in every}
        return cls(
            image,
            np.concatenate([f[0] for f in found] or [np.zeros(0)]),
            np.concatenate([f[1] for f in found] or [np.zeros(0, int)]).astype(int),
            np.concatenate([f[2] for f in found], axis=1) if found else np.zeros((len(IOU_THRESHOLDS), 0), bool),
            counts,
            len(targets),
        )

    @cached_property
    def _ranked(self) -> dict[int, np.ndarray]:
        """Each label's detections by descending score (ties in their order): a resample repeats each in
        place, which keeps the order a stable sort of the repeated detections gives."""
        ranked = {}
        for label in self.target_counts:
            rows = np.flatnonzero(self.labels == label)
            ranked[label] = rows[np.argsort(-self.scores[rows], kind="mergesort")]
        return ranked

    def average_precision(self, images: np.ndarray) -> dict[str, float]:
        """``map`` and ``map_50`` over ``images``, indices of images, repeats counted as copies."""
        weights = np.bincount(images, minlength=self.n_images)
        per_label = []
        for label, counts in self.target_counts.items():
            positives = int((counts * weights).sum())
            if positives == 0:
                continue
            rows = self._ranked[label]
            rows = np.repeat(rows, weights[self.image[rows]])
            per_label.append(_interpolated_ap(self.hits[:, rows], positives))
        if not per_label:
            return {"map": -1.0, "map_50": -1.0}
        table = np.asarray(per_label)
        return {"map": round(float(table.mean()), 6), "map_50": round(float(table[:, 0].mean()), 6)}


def _interpolated_ap(hits: np.ndarray, positives: int) -> np.ndarray:
    """COCO's 101-point interpolated precision of ranked detections, one per row of ``hits`` (thresholds x detections)."""
    count = hits.shape[1]
    if count == 0:
        return np.zeros(len(hits))
    true = np.cumsum(hits, axis=1)
    recall = true / positives
    precision = true / np.maximum(true + np.cumsum(~hits, axis=1), np.finfo(np.float64).eps)
    precision = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    at = np.stack([np.searchsorted(row, RECALL_THRESHOLDS, side="left") for row in recall])
    found = np.take_along_axis(precision, np.minimum(at, count - 1), axis=1)
    return np.where(at < count, found, 0.0).mean(axis=1)


def map_interval(
    predictions: Sequence[Detections], targets: Sequence[Detections], key: str = "map", *, resamples: int = 200, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """A percentile bootstrap interval over images of ``key`` (``map`` or ``map_50``), from the matches made once."""
    matches = Matches.of(predictions, targets)
    return bootstrap(lambda rows: matches.average_precision(np.asarray(rows, int))[key], len(targets), resamples=resamples, seed=seed, confidence=confidence)
