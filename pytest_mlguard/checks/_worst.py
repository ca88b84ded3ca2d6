"""The worst images of a failing detection or segmentation check (corruption or attack), saved for report.html.

A check whose value falls below its floor saves its :data:`WORST` worst images in ``worst.npz`` in its
artefact directory, written whole or not at all (:func:`~pytest_mlguard.reporting._atomic.write_files`).
*Worst* is the lowest score of the image alone against its target, in the check's metric: a detector's
mAP of that image's boxes (images without target boxes have no score and come last), a segmenter's mIoU of
its mask; among equal scores (several at 0, say) the image that scored higher when clean comes first, so that
what the shift broke is shown before what the model never got right.

The file holds ``x`` (the images the model saw, shifted, in its input layout), ``index`` (their places in
the data), ``score`` and ``clean_score``, and the task's arrays: a detector's ``target_*`` and ``pred_*``
boxes, labels (and scores), flat, with ``*_counts`` per image; a segmenter's ``target_mask`` and
``pred_mask``; and the model's ``class_names``. :mod:`pytest_mlguard.reporting._task_thumbnails` draws them.

Example:
    >>> worst_order(np.array([0.5, 0.0, np.nan, 0.0]), np.array([0.9, 0.2, 0.9, 0.8]), 3).tolist()
    [3, 1, 0]
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ._evaluation import Evaluation
    from ._spec import CheckSpec, Measurement

#: how many images a failing check saves
WORST = 3
FILE = "worst.npz"


def worst_order(scores: np.ndarray, clean_scores: np.ndarray, k: int = WORST) -> np.ndarray:
    """The indices of the ``k`` lowest ``scores`` (``nan``: no score, last), ties by the higher clean score, then by index."""
    scores, clean_scores = np.asarray(scores, np.float64), np.asarray(clean_scores, np.float64)
    missing = ~np.isfinite(scores)
    order = np.lexsort((np.arange(len(scores)), -np.nan_to_num(clean_scores, nan=-np.inf), np.where(missing, np.inf, scores), missing))
    return order[:k]


def per_image(statistic: Callable[[np.ndarray], np.ndarray], n: int, chunk: int = 256) -> np.ndarray:
    """``statistic`` (of resamples' image indices, ``(resamples, k)``, as the intervals' statistics take them) of
    each of ``n`` images alone, ``chunk`` images at a time."""
    images = np.arange(n)[:, None]
    return np.concatenate([np.zeros(0), *(np.asarray(statistic(images[start : start + chunk]), np.float64) for start in range(0, n, chunk))])


def below_floor(spec: CheckSpec, measurement: Measurement) -> bool:
    """Whether ``measurement`` falls below the check's floor (the verdict, decided later with its interval,
    shows the saved images only for a failing check)."""
    if spec.kind != "floor" or not np.isfinite(measurement.value):
        return False
    try:
        return bool(measurement.value < spec.threshold.resolve(measurement.clean, measurement.chance))
    except ValueError:  # a relative floor without its reference: nothing to compare with
        return False


def save_worst(evaluation: Evaluation, spec: CheckSpec, arrays: Mapping[str, np.ndarray], metric: str) -> tuple[str, dict[str, str]]:
    """Write ``arrays`` as ``worst.npz`` in the check's artefact directory, whole or not at all; returns the
    line for the check's message and the entry of its ``details["examples"]``."""
    from ..reporting._atomic import write_files

    path = evaluation.artifact_dir(spec) / FILE
    names = getattr(evaluation.model, "class_names", None)
    if names:
        arrays = {**arrays, "class_names": np.array([str(name) for name in names])}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **{name: np.asarray(value) for name, value in arrays.items()})
    write_files({path: buffer.getvalue()})
    index = [int(i) for i in arrays["index"]]
    caption = f"the {len(index)} images with the lowest {metric} of the image alone against its target: images {index}"
    return f"\nthe {len(index)} worst images (lowest {metric} of each image) saved in {path}", {"file": str(path), "caption": caption}


def with_worst(measurement: Measurement, saved: tuple[str, dict[str, str]]) -> Measurement:
    """``measurement`` with the saved images named in its message and ``details["examples"]``."""
    import dataclasses

    line, example = saved
    details: dict[str, Any] = {**measurement.details, "examples": [example]}
    return dataclasses.replace(measurement, message=measurement.message + line, details=details)
