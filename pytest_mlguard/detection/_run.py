"""The detection task's measurements for the families' checks, as the families' ``_tasks.py`` call them
(:func:`~pytest_mlguard.checks._family.run_for_task`), the way a segmentation model's are measured:

* ``accuracy[map]`` and ``accuracy[map_50]``: clean COCO mAP (IoU 0.5:0.95) and mAP at IoU 0.5 (torchmetrics);
* ``corruption[<name>-<severity>]``: mAP under the corruption (targets kept, :mod:`._corrupt`), its
  ``clean_accuracy`` the clean mAP, so that the corruption summary gives mPC and rPC over mAP;
* ``attack[pgd-<norm>-<eps>]``, ``attack[fgsm-linf-<eps>]``: robust mAP under PGD against the detector's
  training loss through ART's ``PyTorchObjectDetector`` (FGSM: one step of eps); ``attack[patch-<side>]``:
  mAP under ART's ``RobustDPatch`` over the images' top-left corner;
* a corruption or attack check below its floor saves its worst images, with their boxes (:mod:`._worst`);
* ``calibration[ece]``: the detection ECE (:func:`._metrics.detection_ece`) with an interval that resamples
  images (:func:`._ece.clustered_ece_inference`): the boxes of one image are not independent.

Every mAP carries a bootstrap interval over images (``verdict.bootstrap`` resamples; normal around the estimate less the resamples' bias, as a metric of the whole set needs).
Predictions are made once per evaluation: clean, and per corruption cell.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .._verdicts.resampled import keep_statistic
from ..checks._base import CheckSpec, Measurement
from ..checks._evaluation import stable_seed
from ..errors import NotApplicable
from ._corrupt import corrupt_images
from ._metrics import CocoTargets, mean_average_precision
from ._resample import Matches
from ._worst import keep_worst

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation
    from ..contract._tasks import DetectionData

Detections = list[dict[str, np.ndarray]]


def _data(evaluation: Evaluation) -> DetectionData:
    """The evaluation's data, detection data (images and their boxes), else ``NotApplicable``."""
    if getattr(evaluation.data, "task", None) != "detection":
        raise NotApplicable("a detection model's checks need detection data (DetectionData: images and their boxes)")
    return cast("DetectionData", evaluation.data)


def _predict(evaluation: Evaluation, images: list[np.ndarray]) -> Detections:
    model: Any = evaluation.model  # a DetectionModel: the contract checked it against the task
    with model.running(evaluation.settings.device):
        return list(model.predict(images))


def clean_predictions(evaluation: Evaluation) -> Detections:
    """The detections of the evaluation's images, made once per evaluation."""
    return evaluation.memo(("detection", "clean"), lambda: _predict(evaluation, _data(evaluation).images))


def coco_targets(evaluation: Evaluation, n: int) -> CocoTargets:
    """The first ``n`` targets of the evaluation's data in COCO's format, converted once per evaluation and ``n``:
    every mAP of the evaluation's checks on those images is scored against them."""
    return evaluation.memo(("detection", "coco_targets", n), lambda: CocoTargets(_data(evaluation).targets[:n]))


def clean_scores(evaluation: Evaluation, n: int | None = None) -> dict[str, float]:
    """torchmetrics' ``map`` and ``map_50`` of the clean detections of the first ``n`` images (all of them:
    ``None``), computed once per evaluation and ``n``: the accuracy checks report it, and the corruption and
    attack checks compare with it."""
    data = _data(evaluation)
    n = data.n if n is None else min(n, data.n)
    return evaluation.memo(("detection", "clean_scores", n), lambda: mean_average_precision(clean_predictions(evaluation)[:n], coco_targets(evaluation, n)))


def map_measurement(
    spec: CheckSpec,
    evaluation: Evaluation,
    predictions: Detections,
    *,
    key: str = "map",
    clean: float | None,
    details: dict[str, Any],
    message: str = "",
    evaluations: int | None = None,
    scores: dict[str, float] | None = None,
) -> Measurement:
    """The mAP (``key``: ``map`` or ``map_50``) of ``predictions`` of the first ``len(predictions)`` images,
    torchmetrics' value (``scores``, where it was computed already), with a bias-corrected bootstrap interval over
    images (COCO's accumulation of the matches made once, :class:`~._resample.Matches`); chance is 0."""
    targets = _data(evaluation).targets[: len(predictions)]
    found = mean_average_precision(predictions, coco_targets(evaluation, len(targets))) if scores is None else scores
    matched: list[Matches] = []  # matched once, and only where there are intervals or a gate

    def statistic(rows: np.ndarray) -> np.ndarray:  # every resample at once, (resamples, n) -> (resamples,)
        if not matched:
            matched.append(Matches.of(predictions, targets))
        return matched[0].average_precisions(rows)[key]

    interval = evaluation.bootstrap(spec, statistic, len(targets), batched=True, whole_set=True)
    keep_statistic(evaluation, spec.id, statistic, len(targets), batched=True)  # gate[robustness] pairs it with the baseline's
    return Measurement(
        value=found[key],
        n=len(targets),
        clean=clean,
        chance=0.0,
        details={**found, **details, "images": len(targets)},
        message=message,
        interval=None if interval is None else (round(interval[0], 6), round(interval[1], 6)),
        interval_method="bootstrap-images" if interval else None,
        evaluations=len(targets) if evaluations is None else evaluations,
    )


def run_accuracy(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """``accuracy[map]`` (COCO mAP) or ``accuracy[map_50]`` of the clean detections."""
    key = "map_50" if spec.name == "map_50" else "map"
    scores = clean_scores(evaluation)
    measured = map_measurement(spec, evaluation, clean_predictions(evaluation), key=key, clean=None, details={"metric": key}, scores=scores)
    label = "mAP@0.5" if key == "map_50" else "mAP (IoU 0.5:0.95)"
    message = f"clean {label} {scores[key]:.4f} over {measured.n} images (mAP {scores['map']:.4f}, mAP@0.5 {scores['map_50']:.4f})"
    return dataclasses.replace(measured, message=message)


def _corrupted(evaluation: Evaluation, corruption: str, severity: int, ids: list[int]) -> list[np.ndarray]:
    """The images ``ids`` of the data under the corruption, each as it is in the whole corrupted set."""
    seed = stable_seed(evaluation.settings.seed, "detection", corruption, str(severity))
    reference, scale = evaluation.settings.get("corruption.reference"), evaluation.settings.get("corruption.scale")
    images = _data(evaluation).images
    return corrupt_images([images[i] for i in ids], corruption, severity, seed=seed, scale=scale, reference=reference, ids=ids)


def _cell(evaluation: Evaluation, corruption: str, severity: int, n: int) -> Detections:
    return evaluation.memo(("detection", corruption, severity, n), lambda: _predict(evaluation, _corrupted(evaluation, corruption, severity, list(range(n)))))


def run_corruption(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """mAP under the check's corruption (targets kept), relative to the clean mAP of the same images."""
    from ..corruptions._registry import get

    name, severity = spec.param("corruption"), spec.param("severity")
    n = evaluation.sample_limit(_data(evaluation).n)
    clean = clean_scores(evaluation, n)["map"]
    details = {"corruption": name, "group": get(name).group, "severity": severity, "metric": "map", "clean_accuracy": clean, "clean_map": clean}
    measured = map_measurement(spec, evaluation, _cell(evaluation, name, severity, n), clean=clean, details=details)
    value = measured.value
    relative = value / clean if clean > 0 else None
    message = f"under {name} at severity {severity}: mAP {value:.4f}, clean {clean:.4f} (relative {'n/a' if relative is None else f'{relative:.3f}'}) over {n} images"
    measured = dataclasses.replace(measured, details={**measured.details, "relative_robustness": relative, "error": 1.0 - value}, message=message)
    targets, predictions = _data(evaluation).targets[:n], _cell(evaluation, name, severity, n)
    return keep_worst(evaluation, spec, measured, lambda ids: _corrupted(evaluation, name, severity, ids), predictions, clean_predictions(evaluation)[:n], targets)


def _attacked(spec: CheckSpec, evaluation: Evaluation) -> tuple[Any, list[np.ndarray], list[Any]]:
    """The torch module and the images and targets an attack runs on, else ``NotApplicable``."""
    module = getattr(evaluation.model, "module", None)
    if module is None:
        raise NotApplicable(f"model {evaluation.model.name!r} is not a torch module: the attacks need the detector's training losses")
    data = _data(evaluation)
    n = evaluation.sample_limit(min(data.n, spec.param("samples") or data.n))
    images, targets = data.images[:n], data.targets[:n]
    if len({image.shape for image in images}) > 1:
        raise NotApplicable("the images differ in size: the attack runs on a batch of images of one size")
    return module, images, targets


def _robust(spec: CheckSpec, evaluation: Evaluation, images: list[np.ndarray], attacked: np.ndarray, forwards: int, message: Callable[[Measurement], str], **details: Any) -> Measurement:
    """The robust mAP of the ``attacked`` images, its ``message``, and where it falls below the floor, the worst images saved."""
    clean = clean_scores(evaluation, len(images))["map"]
    details = {**details, "metric": "robust_map", "clean_accuracy": clean, "clean_map": clean}
    predictions = _predict(evaluation, list(attacked))
    measured = map_measurement(spec, evaluation, predictions, clean=clean, details=details, evaluations=forwards * len(images))
    measured = dataclasses.replace(measured, message=message(measured))
    n = len(images)
    return keep_worst(evaluation, spec, measured, lambda ids: [attacked[i] for i in ids], predictions, clean_predictions(evaluation)[:n], _data(evaluation).targets[:n])


def _patch(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """mAP under ART's RobustDPatch over the images' top-left corner; a patch of uniform noise as the control."""
    from ._attack import apply_patch, art_patch

    module, images, targets = _attacked(spec, evaluation)
    side, steps = int(spec.param("side")), int(spec.param("steps"))
    if side >= min(images[0].shape[1:]):
        raise NotApplicable(f"a patch of {side} px does not fit in images of {images[0].shape[1]}x{images[0].shape[2]} px")
    seed = stable_seed(evaluation.settings.seed, evaluation.model_id, spec.id)
    with evaluation.model.running(evaluation.settings.device):
        patch = art_patch(module, np.stack(images), side=side, steps=steps, seed=seed)
    noise = np.random.default_rng(seed).random(patch.shape, dtype=np.float32)
    control = mean_average_precision(_predict(evaluation, list(apply_patch(np.stack(images), noise))), coco_targets(evaluation, len(targets)))["map"]

    def message(measured: Measurement) -> str:
        return f"RobustDPatch {side}x{side} px: robust mAP {measured.value:.4f}, clean {measured.clean:.4f}, a patch of noise {control:.4f} over {measured.n} images"

    return _robust(spec, evaluation, images, apply_patch(np.stack(images), patch), steps + 2, message, attack="patch", side=side, steps=steps, random_patch_map=control)


def run_attack(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """Robust mAP under ART's PGD (FGSM: one step of eps from the clean image), or under a patch."""
    from ._attack import art_pgd

    if spec.param("attack") == "patch":
        return _patch(spec, evaluation)
    if spec.param("attack") not in ("pgd", "fgsm") or spec.param("eps") is None:
        raise NotApplicable(f"attack[{spec.name}] does not apply to a detection model: its attacks are pgd-linf-<eps>, pgd-l2-<eps>, fgsm-linf-<eps> and patch-<side>")
    module, images, targets = _attacked(spec, evaluation)
    params = dict(spec.param("params") or ())
    fgsm = spec.param("attack") == "fgsm"
    eps, norm = float(spec.param("eps")), spec.param("norm")
    steps = 1 if fgsm else int(params.get("steps", 10))
    step = 1.0 if fgsm else float(params.get("step_size") or 2.5 / steps)
    seed = stable_seed(evaluation.settings.seed, evaluation.model_id, spec.id)
    with evaluation.model.running(evaluation.settings.device):
        adversarial = art_pgd(module, np.stack(images), targets, eps=eps, eps_step=step * eps, steps=steps, seed=seed, norm=norm, batch_size=int(spec.param("batch_size") or 16))

    def message(measured: Measurement) -> str:
        return f"{str(spec.param('attack')).upper()} {norm} eps={eps:g}: robust mAP {measured.value:.4f}, clean {measured.clean:.4f} over {measured.n} images"

    return _robust(spec, evaluation, images, adversarial, steps + 1, message, attack=spec.param("attack"), eps=eps, norm=norm, steps=steps, step_size=step)


def run_calibration(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """``calibration[ece]``: the detection ECE of the clean detections, debiased, with an interval that
    resamples images (:func:`._ece.clustered_ece_inference`); the debiased estimate alone where ``verdict.bootstrap``
    is below 2 (intervals off), the plug-in value with fewer than two boxes or images."""
    from ._ece import clustered_ece_inference, debiased_ece, image_bins
    from ._metrics import detection_ece, scores_and_hits

    if spec.name != "ece":
        raise NotApplicable(f"calibration[{spec.name}] does not apply to a detection model: its calibration check is the detection ece")
    predictions, targets = clean_predictions(evaluation), _data(evaluation).targets
    bins = int(spec.param("bins", 15))
    plugin, boxes = detection_ece(predictions, targets, n_bins=bins)
    resamples = evaluation.settings.get("verdict.bootstrap")
    seed = stable_seed(evaluation.settings.seed, evaluation.model_id, spec.id, "bootstrap")
    found = clustered_ece_inference(predictions, targets, bins, resamples=resamples, seed=seed, confidence=evaluation.rules.check_confidence) if resamples >= 2 else None
    details: dict[str, Any] = {"metric": "detection_ece", "bins": bins, "boxes": boxes, "plugin": plugin}
    if found is None:  # intervals off, or too few boxes or images to resample
        value = round(debiased_ece(image_bins(*scores_and_hits(predictions, targets), bins)), 6) if boxes >= 2 and len(targets) >= 2 else plugin
        return Measurement(value=value, n=len(targets), details=details, evaluations=0)
    details.update(inference=found.details(), reliability=found.reliability)
    message = f"detection ECE {found.estimate:.4f} debiased (plug-in {plugin:.4f}) over {boxes} boxes of {len(targets)} images; interval by resampling images"
    interval = (round(found.low, 6), round(found.high, 6))
    return Measurement(value=round(found.estimate, 6), n=len(targets), details=details, message=message, interval=interval, interval_method="bootstrap-images", evaluations=0)
