"""Detection metrics from the ecosystem: COCO mAP through torchmetrics' ``MeanAveragePrecision``, the
detection ECE through torchmetrics' binary calibration error, the mAP with intervals by bootstrap over images,
the ECE's estimate and interval by resampling images in :mod:`._ece`.

Data follow torchvision's detection convention, as numpy arrays: a prediction is
``{"boxes": (k, 4) x1y1x2y2, "labels": (k,), "scores": (k,)}`` per image, a target the same without scores.

Example:
    >>> boxes = np.array([[0.0, 0.0, 10.0, 10.0]], np.float32)
    >>> target = {"boxes": boxes, "labels": np.array([1])}
    >>> prediction = {**target, "scores": np.array([0.9], np.float32)}
    >>> mean_average_precision([prediction], [target])
    {'map': 1.0, 'map_50': 1.0}
    >>> true_positives(prediction, target).tolist()
    [True]
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, Literal

import numpy as np

from ..errors import InvalidArgument, MissingDependency

Detections = Mapping[str, np.ndarray]
#: the COCO matching threshold of a true positive, for the detection ECE and box-level agreement
IOU_MATCH = 0.5


def _tensors(items: Sequence[Detections]) -> list[dict[str, Any]]:
    import torch

    out = []
    for item in items:
        converted = {"boxes": torch.as_tensor(np.asarray(item["boxes"], np.float32)).reshape(-1, 4), "labels": torch.as_tensor(np.asarray(item["labels"], np.int64)).reshape(-1)}
        if "scores" in item:
            converted["scores"] = torch.as_tensor(np.asarray(item["scores"], np.float32)).reshape(-1)
        out.append(converted)
    return out


def _flat(items: Sequence[Detections], key: str, dtype: type, shape: tuple[int, ...] = ()) -> np.ndarray:
    """``items``' ``key`` arrays (each reshaped to ``(-1, *shape)``) one after the other, as ``dtype``."""
    return np.concatenate([np.zeros((0, *shape), dtype), *(np.asarray(item[key], dtype).reshape(-1, *shape) for item in items)])


@cache
def coco_backend() -> Literal["faster_coco_eval", "pycocotools"]:
    """The COCO evaluation torchmetrics' mAP runs on: faster-coco-eval where it is installed (the detection
    extra's, on the platforms it has wheels for), a C++ ``evaluateImg`` and ``accumulate`` whose every value
    equals pycocotools' (tests/unit/test_detection_scoring.py) in a quarter of the time; else pycocotools."""
    try:
        import faster_coco_eval  # noqa: F401  # only whether it imports
    except ImportError:
        return "pycocotools"
    return "faster_coco_eval"


def coco_metric(**options: Any) -> Any:
    """torchmetrics' ``MeanAveragePrecision(iou_type="bbox", **options)`` on :func:`coco_backend`."""
    try:
        from torchmetrics.detection import MeanAveragePrecision

        return MeanAveragePrecision(iou_type="bbox", backend=coco_backend(), **options)
    except ImportError:  # pragma: no cover - torchmetrics and a COCO backend are test and detection dependencies
        raise MissingDependency("torchmetrics", "the detection checks' mAP, with pycocotools or faster-coco-eval (pip install pytest-mlguard[detection])") from None


@cache
def coco_parameters() -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """The IoU thresholds, recall thresholds and numbers of detections kept per image that torchmetrics'
    ``MeanAveragePrecision`` hands its COCO backend (float64 arrays of its float32 ``torch.linspace``), read
    off the metric; read-only."""
    metric = coco_metric()
    iou, recall = np.array(metric.iou_thresholds, np.float64), np.array(metric.rec_thresholds, np.float64)
    iou.flags.writeable = recall.flags.writeable = False
    return iou, recall, tuple(metric.max_detection_thresholds)


def _coco_classes(backend: str) -> tuple[Any, Any]:
    """The COCO dataset and evaluation classes torchmetrics' ``MeanAveragePrecision`` runs on ``backend``."""
    try:
        if backend == "faster_coco_eval":
            from faster_coco_eval import COCO, COCOeval_faster

            return COCO, COCOeval_faster
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        return COCO, COCOeval
    except ImportError:  # pragma: no cover - a COCO backend is a test and detection dependency
        raise MissingDependency(backend.replace("_", "-"), "the detection checks' mAP, torchmetrics' COCO backend") from None


def _coco_annotations(items: Sequence[Detections], what: str, *, scored: bool) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``items`` (``what``: predictions or targets) as the COCO annotations torchmetrics' ``MeanAveragePrecision``
    makes of them (its ``update``, then ``_get_coco_format``): image by image, ids from 1, the box as float32
    x, y, w, h (torchvision's ``box_convert`` of the float32 x1, y1, x2, y2), its area w * h, not crowd, the label
    and, ``scored``, the float32 score; with the items' labels, one after the other."""
    keys = ("boxes", "labels", "scores") if scored else ("boxes", "labels")
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or any(key not in item for key in keys):
            raise InvalidArgument.expected(f"a dict with {', '.join(map(repr, keys))}", f"{what}[{index}]", item)
    counts = np.array([[np.asarray(item[key]).size for key in keys] for item in items], int).reshape(-1, len(keys))
    wrong = np.flatnonzero((counts[:, 0] != 4 * counts[:, 1]) | (counts[:, -1] != counts[:, 1]))
    if len(wrong):
        index = int(wrong[0])
        given = ", ".join(f"{key} of {count} values" for key, count in zip(keys, counts[index].tolist()))
        raise InvalidArgument(f"Expected {what}[{index}] with one label{' and score' if scored else ''} per box (4 values each) but got {given}")
    boxes = _flat(items, "boxes", np.float32, (4,))
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).tolist()
    labels = _flat(items, "labels", np.int64)
    images = np.repeat(np.arange(len(items)), counts[:, 1]).tolist()
    found = zip(images, xywh, labels.tolist())
    annotations = [{"id": k, "image_id": image, "area": box[2] * box[3], "category_id": label, "iscrowd": 0, "bbox": box} for k, (image, box, label) in enumerate(found, 1)]
    if scored:
        for annotation, score in zip(annotations, _flat(items, "scores", np.float32).tolist()):
            annotation["score"] = score
    return annotations, labels


class CocoTargets:
    """Targets in COCO's format (:func:`_coco_annotations`), converted once: what :func:`mean_average_precision`
    scores each set of detections of the same images against. The detection checks keep one per evaluation
    (its data) and number of images."""

    def __init__(self, targets: Sequence[Detections]) -> None:
        self.annotations, self.labels = _coco_annotations(targets, "targets", scored=False)
        self.n = len(targets)

    def __len__(self) -> int:
        return self.n


def _coco_stats(truth: CocoTargets, detections: list[dict[str, Any]], labels: np.ndarray) -> tuple[float, float]:
    """``map`` and ``map_50`` of ``detections`` (annotations of ``labels``) against ``truth``, unrounded, as
    torchmetrics' ``_calculate_map_with_coco`` finds them: both datasets of every image and of the labels of
    either, its parameters (:func:`coco_parameters`), ``evaluate`` and ``accumulate`` on :func:`coco_backend`, and
    ``summarize``'s mean of the precisions above -1 (at every IoU threshold, and at 0.5). Only the area range and
    the detection limit those two are read from are evaluated ("all", the largest limit): COCO evaluates and
    accumulates each range and limit on its own, and the other nine of the metric's numbers are not reported
    (the same numbers to the bit, a fifth less time)."""
    coco, cocoeval = _coco_classes(coco_backend())
    categories = [{"id": label, "name": str(label)} for label in np.unique(np.concatenate([labels, truth.labels])).tolist()]
    ground_truth, detected = coco(), coco()
    # copies: COCO's evaluation writes flags into the annotations of the ground truth ("ignore")
    ground_truth.dataset = {"images": [{"id": i} for i in range(truth.n)], "annotations": [dict(a) for a in truth.annotations], "categories": categories}
    detected.dataset = {"images": [{"id": i} for i in range(truth.n)], "annotations": detections, "categories": categories}
    iou, recall, most = coco_parameters()
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth.createIndex()
        detected.createIndex()
        evaluation = cocoeval(ground_truth, detected, iouType="bbox")
        params = evaluation.params
        params.iouThrs, params.recThrs, params.maxDets = iou.copy(), recall.copy(), [most[-1]]
        params.areaRng, params.areaRngLbl = params.areaRng[:1], params.areaRngLbl[:1]  # "all"
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"][..., 0, 0]  # IoU thresholds x recall thresholds x labels

    def summarized(values: np.ndarray) -> float:
        return float(np.mean(values[values > -1])) if (values > -1).any() else -1.0

    return summarized(precision), summarized(precision[iou == 0.5])


def mean_average_precision(predictions: Sequence[Detections], targets: Sequence[Detections] | CocoTargets) -> dict[str, float]:
    """COCO-style ``map`` (IoU 0.5:0.95) and ``map_50`` of ``predictions`` against ``targets``, one of each
    per image: torchmetrics' ``MeanAveragePrecision(iou_type="bbox")`` values (float32, rounded to 6 places),
    computed as the metric computes them (:func:`_coco_stats`) with the targets' conversion made once where they
    are :class:`CocoTargets` (tests/unit/test_detection_scoring.py holds every value equal to the metric's)."""
    truth = targets if isinstance(targets, CocoTargets) else CocoTargets(targets)
    if len(predictions) != len(truth):
        raise InvalidArgument.expected(f"one prediction per target ({len(truth)})", "len(predictions)", len(predictions))
    detections, labels = _coco_annotations(predictions, "predictions", scored=True)
    if not len(truth):  # torchmetrics' value without images
        return {"map": -1.0, "map_50": -1.0}
    found = _coco_stats(truth, detections, labels)
    return {"map": round(float(np.float32(found[0])), 6), "map_50": round(float(np.float32(found[1])), 6)}


def average_precision_per_class(predictions: Sequence[Detections], targets: Sequence[Detections], class_names: Sequence[str]) -> dict[str, float | None]:
    """Each class's AP at IoU 0.5:0.95 over every image: torchmetrics' ``MeanAveragePrecision(class_metrics=True)``
    (``None`` for a class no image holds; classes neither predicted nor in the targets are left out)."""
    metric = coco_metric(class_metrics=True)
    metric.update(_tensors(predictions), _tensors(targets))
    found = metric.compute()
    scores = dict(zip(np.atleast_1d(found["classes"].numpy()).tolist(), np.atleast_1d(found["map_per_class"].numpy()).tolist()))
    return {name: (None if scores.get(k, -1.0) < 0 else round(float(scores[k]), 6)) for k, name in enumerate(class_names) if k in scores}


def true_positives(prediction: Detections, target: Detections, iou: float = IOU_MATCH) -> np.ndarray:
    """Whether each predicted box is a true positive: COCO's greedy matching, boxes by descending score,
    each to the unmatched target box of its label with the highest IoU, at least ``iou``."""
    from torchvision.ops import box_iou

    scores = np.asarray(prediction["scores"], np.float32).reshape(-1)
    hits = np.zeros(len(scores), bool)
    if not len(scores) or not len(target["labels"]):
        return hits
    tensors = _tensors([prediction, target])
    overlaps = box_iou(tensors[0]["boxes"], tensors[1]["boxes"]).numpy()
    same = np.asarray(prediction["labels"]).reshape(-1, 1) == np.asarray(target["labels"]).reshape(1, -1)
    overlaps = np.where(same, overlaps, -1.0)
    free = np.ones(overlaps.shape[1], bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = np.where(free, overlaps[i], -1.0)
        best = int(np.argmax(candidates))
        if candidates[best] >= iou:
            hits[i], free[best] = True, False
    return hits


def _calibration_error(scores: list[np.ndarray], hits: list[np.ndarray], n_bins: int) -> float:
    import torch
    from torchmetrics.functional.classification import binary_calibration_error

    flat_scores, flat_hits = np.concatenate([np.zeros(0, np.float32), *scores]), np.concatenate([np.zeros(0, bool), *hits])
    if not len(flat_scores):
        return 0.0
    ece = binary_calibration_error(torch.from_numpy(flat_scores), torch.from_numpy(flat_hits.astype(np.int64)), n_bins=n_bins, norm="l1")
    return round(float(ece), 6)


def scores_and_hits(predictions: Sequence[Detections], targets: Sequence[Detections]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per image, the scores of its boxes and whether each is a true positive (:func:`true_positives`)."""
    return [np.asarray(p["scores"], np.float32).reshape(-1) for p in predictions], [true_positives(p, t) for p, t in zip(predictions, targets)]


def detection_ece(predictions: Sequence[Detections], targets: Sequence[Detections], n_bins: int = 15) -> tuple[float, int]:
    """Expected calibration error of the detection scores against being a true positive at IoU 0.5
    (:func:`true_positives`), over every predicted box, in ``n_bins`` equal-width bins (torchmetrics'
    ``binary_calibration_error``, L1; 15 by default, as ``calibration.bins``, so that it is the plug-in value of
    ``calibration[ece]``); returns the ECE and the number of boxes (0.0 with none)."""
    scores, hits = scores_and_hits(predictions, targets)
    return _calibration_error(scores, hits, n_bins), int(sum(len(s) for s in scores))


def bootstrap(
    statistic: Callable[[np.ndarray], Any], n: int, *, resamples: int = 200, seed: int = 0, confidence: float = 0.95, batched: bool = False
) -> tuple[float, float]:
    """Interval of ``statistic`` (a function of the images' indices, the mAP) over ``resamples`` draws of ``n``
    images with replacement: studentized (bootstrap-t) from the resamples' influence values, within [0, 1]
    (:func:`pytest_mlguard._verdicts.intervals.debiased_bootstrap_interval`, as the checks' intervals of mAP;
    ``batched``: ``statistic`` takes every resample's indices at once and returns their values)."""
    from .._verdicts.intervals import debiased_bootstrap_interval

    low, high = debiased_bootstrap_interval(statistic, n, confidence, resamples=resamples, rng=np.random.default_rng(seed), batched=batched, bounds=(0.0, 1.0))
    return round(low, 6), round(high, 6)


def box_agreement(first: Sequence[Detections], second: Sequence[Detections], min_score: float = 0.5) -> float:
    """The fraction of confident boxes (score at least ``min_score``) of either run that the other matches
    with its label at IoU 0.5 (1.0 where neither has any): box-level agreement of two runs on the same images."""
    matched = total = 0
    for a, b in zip(first, second):
        for one, other in ((a, b), (b, a)):
            keep = np.asarray(one["scores"]) >= min_score
            kept = {key: np.asarray(value)[keep] for key, value in one.items()}
            other_boxes = {"boxes": np.asarray(other["boxes"])[np.asarray(other["scores"]) >= min_score], "labels": np.asarray(other["labels"])[np.asarray(other["scores"]) >= min_score]}
            matched += int(true_positives(kept, other_boxes).sum())
            total += int(keep.sum())
    return 1.0 if total == 0 else matched / total
