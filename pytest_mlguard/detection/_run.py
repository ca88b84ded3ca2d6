"""The detection checks' measurements (``Family.run`` of :mod:`pytest_mlguard.detection`): predictions of
the model on the evaluation data, clean, corrupted and attacked, each made once per evaluation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..checks._base import CheckSpec, Measurement
from ..checks._evaluation import stable_seed
from ..errors import NotApplicable
from . import cells
from ._corrupt import corrupt_images, performance_under_corruption
from ._metrics import detection_ece, ece_inference, mean_average_precision
from ._resample import map_interval

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation
    from ..contract._tasks import DetectionData

Detections = list[dict[str, np.ndarray]]


def _data(evaluation: Evaluation) -> DetectionData:
    """The evaluation's data, detection data (images and their boxes), else ``NotApplicable``."""
    if getattr(evaluation.data, "task", None) != "detection":
        raise NotApplicable("the detection checks need detection data (DetectionData: images and their boxes)")
    return cast("DetectionData", evaluation.data)


def _predict(evaluation: Evaluation, images: list[np.ndarray]) -> Detections:
    model: Any = evaluation.model  # a DetectionModel: the contract checked it against the task
    with model.running(evaluation.settings.device):
        return list(model.predict(images))


def _clean(evaluation: Evaluation) -> Detections:
    return evaluation.memo(("detection", "clean"), lambda: _predict(evaluation, _data(evaluation).images))


def _scored(
    evaluation: Evaluation, predictions: Detections, targets: list[Any], key: str, clean: float | None = None, scores: dict[str, float] | None = None, **details: Any
) -> Measurement:
    """A mAP measurement (``key``: ``map`` or ``map_50``) with its bootstrap interval over images."""
    found = mean_average_precision(predictions, targets) if scores is None else scores
    resamples, seed = evaluation.settings.get("detection.resamples"), stable_seed(evaluation.settings.seed, "detection", key)
    interval = map_interval(predictions, targets, key, resamples=resamples, seed=seed, confidence=evaluation.rules.check_confidence)
    return Measurement(
        value=found[key], n=len(targets), clean=clean, details={**found, **details}, interval=interval, interval_method="bootstrap", evaluations=len(targets)
    )


def _cell(evaluation: Evaluation, corruption: str, severity: int) -> Detections:
    def compute() -> Detections:
        seed = stable_seed(evaluation.settings.seed, "detection", corruption, str(severity))
        reference = evaluation.settings.get("corruption.reference")
        return _predict(evaluation, corrupt_images(_data(evaluation).images, corruption, severity, seed=seed, reference=reference))

    return evaluation.memo(("detection", corruption, severity), compute)


def _cell_map(evaluation: Evaluation, corruption: str, severity: int) -> dict[str, float]:
    """torchmetrics' mAP of one corruption cell, computed once for its check and the mPC."""
    return evaluation.memo(("detection", "map", corruption, severity), lambda: mean_average_precision(_cell(evaluation, corruption, severity), _data(evaluation).targets))


def _mpc(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    targets, clean = _data(evaluation).targets, _clean_map(evaluation)
    table = {cell: _cell_map(evaluation, *cell) for cell in cells(evaluation.settings)}
    summary = performance_under_corruption({cell: found["map"] for cell, found in table.items()}, clean)
    rows = [{"corruption": name, "severity": severity, **found} for (name, severity), found in table.items()]
    message = f"mPC {summary['mPC']:.4f} over {len(rows)} corruption cells, rPC {summary['rPC']} (clean mAP {clean:.4f})"
    return Measurement(value=float(summary["mPC"] or 0.0), n=len(targets), clean=clean, details={**summary, "clean_map": clean, "cells": rows}, message=message, evaluations=0)


def _clean_map(evaluation: Evaluation) -> float:
    return _clean_scores(evaluation)["map"]


def _clean_scores(evaluation: Evaluation) -> dict[str, float]:
    return evaluation.memo(("detection", "clean_scores"), lambda: mean_average_precision(_clean(evaluation), _data(evaluation).targets))


def _attacked(evaluation: Evaluation) -> tuple[Any, list[np.ndarray], list[Any]]:
    """The torch module and the images and targets an attack runs on, else ``NotApplicable``."""
    module = getattr(evaluation.model, "module", None)
    if module is None:
        raise NotApplicable(f"model {evaluation.model.name!r} is not a torch module: the attacks need the detector's training losses")
    n = evaluation.sample_limit(min(evaluation.data.n, evaluation.settings.get("detection.attack_samples")))
    images, targets = _data(evaluation).images[:n], _data(evaluation).targets[:n]
    if len({image.shape for image in images}) > 1:
        raise NotApplicable("the images differ in size: the attack runs on a batch of images of one size")
    return module, images, targets


def _patch(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """mAP under ART's RobustDPatch over the images' top-left corner; a patch of uniform noise as the control."""
    from ._attack import apply_patch, art_patch

    module, images, targets = _attacked(evaluation)
    side, steps = int(spec.param("side")), evaluation.settings.get("detection.patch_steps")
    if side >= min(images[0].shape[1:]):
        raise NotApplicable(f"a patch of {side} px does not fit in images of {images[0].shape[1]}x{images[0].shape[2]} px")
    seed = stable_seed(evaluation.settings.seed, "detection", spec.name or "")
    with evaluation.model.running(evaluation.settings.device):
        patch = art_patch(module, np.stack(images), side=side, steps=steps, seed=seed)
    noise = np.random.default_rng(seed).random(patch.shape, dtype=np.float32)
    clean = mean_average_precision(_clean(evaluation)[: len(images)], targets)["map"]
    control = mean_average_precision(_predict(evaluation, list(apply_patch(np.stack(images), noise))), targets)["map"]
    measured = _scored(evaluation, _predict(evaluation, list(apply_patch(np.stack(images), patch))), targets, "map", clean=clean, side=side, steps=steps, random_patch_map=control)
    return Measurement(**{**measured.__dict__, "evaluations": len(images) * (steps + 2)})


def _attack(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    from ._attack import art_pgd

    module, images, targets = _attacked(evaluation)
    n = len(images)
    eps, steps, norm = float(spec.param("eps")), evaluation.settings.get("detection.attack_steps"), spec.param("norm", "linf")
    seed = stable_seed(evaluation.settings.seed, "detection", spec.name or "")
    with evaluation.model.running(evaluation.settings.device):
        adversarial = art_pgd(module, np.stack(images), targets, eps=eps, eps_step=eps / 4, steps=steps, seed=seed, norm=norm)
    clean = mean_average_precision(_clean(evaluation)[:n], targets)["map"]
    measured = _scored(evaluation, _predict(evaluation, list(adversarial)), targets, "map", clean=clean, eps=eps, norm=norm, steps=steps)
    return Measurement(**{**measured.__dict__, "evaluations": n * (steps + 1)})


def _ece(evaluation: Evaluation) -> Measurement:
    """The detection ECE, debiased, with the calibration family's interval (the plug-in value alone with fewer
    than two boxes): the plug-in ECE of a few hundred boxes is biased up by its bins' noise."""
    predictions, targets = _clean(evaluation), _data(evaluation).targets
    plugin, boxes = detection_ece(predictions, targets)
    seed = stable_seed(evaluation.settings.seed, "detection", "ece")
    resamples, confidence = evaluation.settings.get("detection.resamples"), evaluation.rules.check_confidence
    found = ece_inference(predictions, targets, resamples=resamples, seed=seed, confidence=confidence)
    if found is None:
        return Measurement(value=plugin, n=len(targets), details={"boxes": boxes, "plugin": plugin}, evaluations=0)
    message = f"detection ECE {found.estimate:.4f} debiased (plug-in {plugin:.4f}, biased up by the noise of {boxes} boxes)"
    details = {"boxes": boxes, "plugin": plugin, "inference": found.details()}
    interval = (round(found.low, 6), round(found.high, 6))
    return Measurement(value=round(found.estimate, 6), n=len(targets), details=details, message=message, interval=interval, interval_method="consistency-resampling", evaluations=0)


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    targets = _data(evaluation).targets
    if spec.name in ("map", "map_50"):
        return _scored(evaluation, _clean(evaluation), targets, str(spec.name), scores=_clean_scores(evaluation))
    if spec.name == "ece":
        return _ece(evaluation)
    if spec.name == "mpc":
        return _mpc(spec, evaluation)
    if spec.param("corruption") is not None:
        predictions = _cell(evaluation, spec.param("corruption"), spec.param("severity"))
        cell = (spec.param("corruption"), spec.param("severity"))
        return _scored(evaluation, predictions, targets, "map", clean=_clean_map(evaluation), scores=_cell_map(evaluation, *cell), corruption=cell[0], severity=cell[1])
    return _attack(spec, evaluation) if spec.param("side") is None else _patch(spec, evaluation)
