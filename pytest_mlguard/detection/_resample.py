"""COCO's mAP on resampled images, for the bootstrap intervals: each image's detections are matched to its
targets once, at the ten IoU thresholds, as pycocotools' ``evaluateImg`` matches them (per label, by
descending score, each to the unmatched target box of highest IoU; at most 100 detections per image and
label); a resample of images then only repeats those matches and accumulates them as ``accumulate`` does
(101-point interpolated precision, labels without targets left out). Every image is matched at once
(:func:`_match`: the first detection of each image, then the second, ...), as an image at a time would
match it to the bit (a test holds it). The value a check reports is
torchmetrics' (:func:`~pytest_mlguard.detection._metrics.mean_average_precision`); the tests check that
this accumulation gives the same on the whole set. All the resamples are accumulated together: a resample
counts each image some number of times, and each label's precision/recall curves are cumulative sums of
those counts over the ranked detections (:func:`_weighted_ap`).

Example:
    >>> boxes = np.array([[0.0, 0.0, 10.0, 10.0]], np.float32)
    >>> matches = Matches.of([{"boxes": boxes, "labels": np.array([1]), "scores": np.array([0.9])}], [{"boxes": boxes, "labels": np.array([1])}])
    >>> matches.average_precision(np.array([0]))
    {'map': 1.0, 'map_50': 1.0}
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np

from ._metrics import Detections, _flat, bootstrap, coco_parameters

#: the detections pycocotools keeps per image and label (torchmetrics' largest ``max_detection_thresholds``)
MAX_DETECTIONS = 100


@cache
def thresholds() -> tuple[np.ndarray, np.ndarray]:
    """torchmetrics' IoU thresholds (COCO's 0.5:0.05:0.95) and its 101 recall thresholds, as it hands them
    to its COCO backend: float32 numbers (``torch.linspace``), 96 of the recall thresholds off pycocotools' own
    float64 grid, which moves a recall that lands on one (``k / positives = j / 100``) to its other side."""
    iou, recall, _ = coco_parameters()
    return iou, recall


def _kept(predictions: Sequence[Detections]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The detections pycocotools keeps, in its order: by image, label and descending score (ties in their
    order), at most :data:`MAX_DETECTIONS` of a label in an image; their image, position among the kept ones
    of their image, score, label and box."""
    image = np.repeat(np.arange(len(predictions)), [np.asarray(p["scores"]).size for p in predictions])
    scores, labels, boxes = _flat(predictions, "scores", np.float64), _flat(predictions, "labels", np.int64), _flat(predictions, "boxes", np.float32, (4,))
    order = np.lexsort((-scores, labels, image))  # stable: ties keep their order, as a mergesort of each label's
    kept = order[_rank(image[order], labels[order]) < MAX_DETECTIONS]
    return image[kept], _rank(image[kept]), scores[kept], labels[kept], boxes[kept]


def _rank(*keys: np.ndarray) -> np.ndarray:
    """Each element's position in its run of equal ``keys`` (consecutive elements)."""
    starts = np.zeros(len(keys[0]), bool)
    starts[:1] = True
    for key in keys:
        starts[1:] |= key[1:] != key[:-1]
    index = np.arange(len(starts))
    return index - np.maximum.accumulate(np.where(starts, index, 0))


def _iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """The IoU of each box (n, 4) with each of its row of ``others`` (n, m, 4), x1y1x2y2: torchvision's
    ``box_iou`` to the bit (the same float32 operations in the same order), then as float64."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    other_area = (others[..., 2] - others[..., 0]) * (others[..., 3] - others[..., 1])
    wh = np.maximum(np.minimum(boxes[:, None, 2:], others[..., 2:]) - np.maximum(boxes[:, None, :2], others[..., :2]), np.float32(0))
    inter = wh[..., 0] * wh[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):  # empty boxes: NaN, as torch gives
        return (inter / (area[:, None] + other_area - inter)).astype(np.float64)


def _match(predictions: Sequence[Detections], targets: Sequence[Detections]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The image, score, label and true-positive flags (thresholds x detections) of the images' kept
    detections: per image and label, by descending score, each to the free target box of its label with the
    highest IoU (the first of equals) at each threshold, as pycocotools' ``evaluateImg``; every image at
    once, a detection's position among its image's kept ones at a time."""
    image, position, scores, labels, boxes = _kept(predictions)
    counts = [np.asarray(t["labels"]).size for t in targets]
    width, iou_thresholds = max(counts, default=0), thresholds()[0]
    hits = np.zeros((len(iou_thresholds), len(image)), bool)
    if not width or not len(image):
        return image, scores, labels, hits
    owner = np.repeat(np.arange(len(targets)), counts)
    slot = _rank(owner)
    target_boxes, target_labels = np.zeros((len(targets), width, 4), np.float32), np.full((len(targets), width), -1, np.int64)
    target_boxes[owner, slot], target_labels[owner, slot] = _flat(targets, "boxes", np.float32, (4,)), _flat(targets, "labels", np.int64)
    valid = np.zeros((len(targets), width), bool)
    valid[owner, slot] = True
    overlaps = np.where(valid[image] & (labels[:, None] == target_labels[image]), _iou(boxes, target_boxes[image]), -1.0)
    limits = np.minimum(iou_thresholds, 1 - 1e-10)
    free = np.ones((len(targets), len(limits), width), bool)
    matching = np.flatnonzero(overlaps.max(axis=1) >= limits.min())  # the others match nothing at any threshold
    matching = matching[np.argsort(position[matching], kind="stable")]
    # each image's detections in their order: the first of every image at once, then the second, ...
    for rows in np.split(matching, np.flatnonzero(np.diff(position[matching])) + 1):
        candidates = np.where(free[image[rows]], overlaps[rows][:, None, :], -1.0)  # rows x thresholds x targets
        best = candidates.argmax(axis=2)
        hit = np.take_along_axis(candidates, best[..., None], axis=2)[..., 0] >= limits
        hits[:, rows] = hit.T
        row, threshold = np.nonzero(hit)
        free[image[rows][row], threshold, best[row, threshold]] = False
    return image, scores, labels, hits


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
        sizes = np.array([np.asarray(t["labels"]).size for t in targets], int)
        owner, target_labels = np.repeat(np.arange(len(targets)), sizes), _flat(targets, "labels", np.int64)
        counts = {int(label): np.bincount(owner[target_labels == label], minlength=len(targets)) for label in np.unique(target_labels)}
        # images in chunks of about CHUNK detection-target pairs, each matched at once
        pairs = np.cumsum([np.asarray(p["scores"]).size * max(int(sizes.max(initial=0)), 1) for p in predictions])
        bounds = [0, *(np.flatnonzero(np.diff(pairs // CHUNK)) + 1).tolist(), len(targets)]
        found = [(start, _match(predictions[start:stop], targets[start:stop])) for start, stop in itertools.pairwise(bounds)]
        return cls(
            np.concatenate([np.zeros(0, np.int64), *(part[0] + start for start, part in found)]),
            np.concatenate([np.zeros(0), *(part[1] for _, part in found)]),
            np.concatenate([np.zeros(0, np.int64), *(part[2] for _, part in found)]),
            np.concatenate([np.zeros((len(thresholds()[0]), 0), bool), *(part[3] for _, part in found)], axis=1),
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
        return {key: float(values[0]) for key, values in self.average_precisions(np.asarray(images, int)[None]).items()}

    def average_precisions(self, resamples: np.ndarray) -> dict[str, np.ndarray]:
        """``map`` and ``map_50`` of each row of ``resamples`` (resamples x images, indices of images, repeats
        counted as copies), rounded as torchmetrics' value is (:func:`~._metrics.mean_average_precision`)."""
        found = self._unrounded(np.atleast_2d(np.asarray(resamples, int)))
        return {key: np.array([round(value, 6) for value in values.tolist()]) for key, values in found.items()}

    def _unrounded(self, resamples: np.ndarray) -> dict[str, np.ndarray]:
        """A resample is a count of each image (its weights): a label's precision/recall curve over its ranked
        detections counts each detection as often as its image, every resample's curve a weighted cumulative
        sum (:func:`_weighted_ap`); labels without targets in a resample are left out of its mean."""
        count = len(resamples)
        offsets = self.n_images * np.arange(count)[:, None]
        weights = np.bincount((resamples + offsets).ravel(), minlength=count * self.n_images).reshape(count, self.n_images)
        by_image = np.array(weights.T, np.int32, order="C")  # images x resamples: a detection's row is its image's
        total, labels = np.zeros((count, len(self.hits))), np.zeros(count)
        for label, counts in self.target_counts.items():
            positives = weights @ counts
            rows = self._ranked[label]
            scored = positives > 0
            if scored.all():
                total += _weighted_ap(by_image[self.image[rows]], self.hits[:, rows], positives)
            elif scored.any():
                total[scored] += _weighted_ap(by_image[self.image[rows]][:, scored], self.hits[:, rows], positives[scored])
            labels += scored
        none = labels == 0
        divisor = np.where(none, 1.0, labels)
        return {
            "map": np.where(none, -1.0, total.sum(axis=1) / (divisor * len(self.hits))),
            "map_50": np.where(none, -1.0, total[:, 0] / divisor),
        }


#: how many values one step of the accumulation holds at most: resamples x the larger of a label's detections
#: and IoU thresholds x the most of its true positives, its targets in a resample and the recall thresholds
#: (1 << 18: float64 steps of 2 MiB; at 1 << 19, 4 MiB, a process whose allocator returns such blocks to the system
#: maps each afresh: 8,400 page faults a check of the detection example against 1,900; docs/detection.md); and about how many
#: detection-target pairs the matching takes at once (:meth:`Matches.of`: images in chunks)
CHUNK = 1 << 18
#: the fewest values of a slice that the running sums take one slice at a time (:func:`_running`)
SLICE = 256


def _weighted_ap(weights: np.ndarray, hits: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """COCO's 101-point interpolated precision (resamples x IoU thresholds) of one label's ranked detections
    (``hits``: thresholds x detections) counted ``weights`` times each (detections x resamples), against
    ``positives`` (> 0) targets in each resample; in chunks of resamples that hold :data:`CHUNK` values.

    The interpolated precision at a recall threshold is the highest precision of the curve's points at that
    recall or above. A resample's curve repeats each detection in place; the highest precisions are at its
    true positives (a false positive only lowers the precision of the point before it), and of a run of
    copies of a true positive at the last copy (precision rises along the run): the points a cumulative sum
    of the weights over the true positives gives, the other detections counted into each point's total.
    The precisions are the same numbers. A recall threshold's precision is then the highest from the first
    of those points whose count of true positives reaches it on, so the 101 thresholds' mean is a sum over the
    points: the highest precision from each on, times the thresholds its count reaches that the count before
    it did not (:func:`_recall_thresholds_reached`). The values equal a curve of repeated detections to
    rounding (1e-15: the sum goes in another order).
    """
    reached = _recall_thresholds_reached(positives)
    keys = [row.tobytes() for row in hits]  # thresholds that match alike (often the lowest few): once
    distinct = list(dict.fromkeys(keys))
    hits, each = hits[[keys.index(key) for key in distinct]], np.array([distinct.index(key) for key in keys])
    step = max(1, CHUNK // max(len(hits) * max(int(hits.sum(axis=1).max()), reached.shape[1], len(thresholds()[1])), len(weights)))
    seen = _running(np.array(weights, np.int32), np.add)  # the detections counted at each, once for every resample
    chunks = [_weighted_ap_chunk(weights[:, i : i + step], seen[:, i : i + step], hits, reached[i : i + step]) for i in range(0, weights.shape[1], step)]
    return np.concatenate(chunks)[:, each]


def _weighted_ap_chunk(weights: np.ndarray, seen: np.ndarray, hits: np.ndarray, reached: np.ndarray) -> np.ndarray:
    # each threshold's true positives in rank order, padded to the longest with ones of no weight; laid out
    # true positives x thresholds x resamples, so that the running sums go slice by slice
    count = hits.sum(axis=1)
    longest = int(count.max())
    if longest == 0:
        return np.zeros((weights.shape[1], len(hits)))
    order = np.argsort(~hits, axis=1, kind="stable")[:, :longest].T
    padding = np.arange(longest)[:, None] >= count
    drawn = weights[order]
    drawn[padding] = 0
    true = _running(drawn, np.add)  # the true positives counted at each, in place
    precision = np.maximum(seen, 1).astype(np.float64)[order]  # floats: the quotients of the counts, in place
    np.divide(true, precision, out=precision)
    precision[padding] = 0.0  # below every precision: left out of the highest ones below
    # COCO's interpolated precision at a recall threshold is the highest of the points at that recall or above:
    # the highest from the first true positive whose count reaches it on (a point that repeats the count before
    # it, of no weight, is never higher than that one); each point the recall thresholds its count reaches
    # that the count before it did not
    highest = _running(precision[::-1], np.maximum)[::-1]
    true += np.arange(0, reached.size, reached.shape[1], dtype=np.int32)  # each resample's row of ``reached``
    gained = np.diff(np.take(reached.reshape(-1), true), axis=0, prepend=reached.dtype.type(0))  # take: int32 indices as they are
    return np.einsum("ktr,ktr->rt", highest, gained) / len(thresholds()[1])


def _running(values: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """``ufunc.accumulate`` along the first axis, in place a slice at a time where the slices are large
    (numpy's goes element by element: ten times slower on the detection example, along the last axis too)."""
    if values[0].size < SLICE:
        return ufunc.accumulate(values, axis=0)
    for i in range(1, len(values)):
        ufunc(values[i - 1], values[i], out=values[i])
    return values


def _true_positives_needed(positives: np.ndarray) -> np.ndarray:
    """For each resample's ``positives`` and each recall threshold, the fewest true positives ``k`` whose
    recall ``k / positives`` (in floating point, as COCO computes it) reaches the threshold."""
    recall = thresholds()[1]
    total = positives.astype(np.float64)[:, None]
    needed = np.clip(np.ceil(recall * total), 0, total)
    while (lower := (needed > 0) & ((needed - 1) / total >= recall)).any():
        needed -= lower
    while (higher := needed / total < recall).any():
        needed += higher
    return needed.astype(np.int64)


def _recall_thresholds_reached(positives: np.ndarray) -> np.ndarray:
    """For each resample's ``positives`` (> 0), how many recall thresholds ``k`` true positives reach, for
    ``k`` from 0 to the most positives: (resamples, most positives + 1); worked out once for each count."""
    counts, index = np.unique(positives, return_inverse=True)
    width = int(counts[-1]) + 1
    needed = _true_positives_needed(counts) + width * np.arange(len(counts))[:, None]
    return np.cumsum(np.bincount(needed.reshape(-1), minlength=width * len(counts)).reshape(-1, width), axis=1, dtype=np.min_scalar_type(needed.shape[1]))[index.reshape(-1)]


def map_interval(
    predictions: Sequence[Detections], targets: Sequence[Detections], key: str = "map", *, resamples: int = 200, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """A bootstrap interval over images (normal, bias-corrected: :func:`._metrics.bootstrap`) of ``key`` (``map`` or ``map_50``), from the matches made once."""
    matches = Matches.of(predictions, targets)
    return bootstrap(lambda rows: matches.average_precisions(rows)[key], len(targets), resamples=resamples, seed=seed, confidence=confidence, batched=True)
