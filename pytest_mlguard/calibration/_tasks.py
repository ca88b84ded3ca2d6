"""The ``calibration`` checks of each task: :mod:`._run` for a classifier; for a segmentation model,
``calibration[ece]`` is the pixel-level ECE: torchmetrics' L1 calibration error of the top class over
every pixel not labelled ``ignore_index`` (``calibration.bins`` equal-width bins), with a percentile
bootstrap interval over images (pixels of one image are not independent), resampled from each image's
bin sums (:func:`~pytest_mlguard._segmentation.metrics.pixel_bins`), and the reliability diagram of
those bins. The other calibration
checks assume one class vector per input and are not planned for it. A detector's ``calibration[ece]``
is the detection ECE (:func:`pytest_mlguard.detection._run.run_calibration`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..checks._base import CheckSpec, Measurement
from ..checks._family import run_for_task
from ..errors import NotApplicable

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The check's measurement for the model's task."""
    return run_for_task(spec, evaluation, {"classification": "pytest_mlguard.calibration._run:run_check", "segmentation": run_segmentation, "detection": "pytest_mlguard.detection._run:run_calibration"})


def run_segmentation(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """Pixel-level ECE of the clean predictions."""
    from .._segmentation.metrics import pixel_bins, pixel_ece, pixel_ece_of_images

    if spec.name != "ece":
        raise NotApplicable(f"calibration[{spec.name}] does not apply to a segmentation model: its calibration check is the pixel-level ece")
    proba, data = evaluation.clean_proba, evaluation.data
    bins = int(spec.param("bins", 15))
    ignore = data.ignore_index  # type: ignore[attr-defined]
    value = pixel_ece(proba, data.y, ignore, bins)
    binned = pixel_bins(proba, data.y, ignore, bins)
    interval = evaluation.bootstrap(spec, pixel_ece_of_images(binned), data.n)
    count, confidence, correct = binned.sum(axis=0).sum(axis=1)
    details = {
        "metric": "pixel_ece",
        "bins": bins,
        "reliability": reliability(binned.sum(axis=0)),
        "mean_confidence": float(confidence / max(count, 1)),
        "pixel_accuracy": float(correct / max(count, 1)),
    }
    message = f"pixel-level ECE {value:.4f} over {int(count)} pixels of {data.n} images (mean confidence {details['mean_confidence']:.4f}, pixel accuracy {details['pixel_accuracy']:.4f})"
    return Measurement(value=value, n=data.n, details=details, message=message, interval=interval, interval_method="bootstrap-images" if interval else None)


def reliability(summed: np.ndarray) -> dict[str, object]:
    """The reliability diagram's bins (the calibration family's figure) from summed bins ``(3, bins)``."""
    count, confidence, correct = summed
    safe = np.maximum(count, 1.0)
    return {
        "binning": "equal-width",
        "edges": np.linspace(0, 1, summed.shape[1] + 1).tolist(),
        "count": count.tolist(),
        "accuracy": (correct / safe).tolist(),
        "confidence": (confidence / safe).tolist(),
    }
