"""The ``determinism`` checks of a segmenter or a detector: repeated calls, concurrent requests and batch
composition compared image by image with the task's agreement, pixel-level (the fraction of pixels whose
class stays, a change within ``tolerance`` of a tie forgiven) or box-level (confident boxes matched with
their label at IoU >= 0.5, both ways). An image matches when its agreement is 1; the value is the fraction
of images that match, as for a classifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..._messages import exception_text
from ...checks._base import CheckSpec, Measurement
from .._compare import at_once
from .._task_outputs import TaskOutputs, worst_images

if TYPE_CHECKING:
    from ...checks._evaluation import Evaluation


def repeat_agreement(outputs: TaskOutputs, index: np.ndarray, repeats: int, tolerance: float) -> np.ndarray:
    """Per image, the lowest agreement of ``repeats - 1`` more calls with the first."""
    first = outputs.predict(index)
    found = np.ones(len(index))
    for _ in range(repeats - 1):
        found = np.minimum(found, outputs.agree(first, outputs.predict(index), index, tolerance=tolerance))
    return found


def batch_agreement(outputs: TaskOutputs, index: np.ndarray, rng: np.random.Generator, tolerance: float) -> np.ndarray:
    """Per image, the lowest agreement of its output alone (a batch of one) with its outputs in batches of
    the model's size, in data order, in reverse and shuffled."""
    alone = outputs.concat([outputs.predict(index[i : i + 1], batch_size=1) for i in range(len(index))])
    found = np.ones(len(index))
    for order in (np.arange(len(index)), np.arange(len(index))[::-1], rng.permutation(len(index))):
        batched = outputs.order(outputs.predict(index[order], batch_size=outputs.model.batch_size), order)
        found = np.minimum(found, outputs.agree(alone, batched, index, tolerance=tolerance))
    return found


def concurrent_agreement(outputs: TaskOutputs, index: np.ndarray, threads: int, request_size: int, tolerance: float) -> tuple[np.ndarray, list[str]]:
    """Per image, the agreement of requests of ``request_size`` images sent from ``threads`` threads at once
    with the same requests sent one after another (0 where a request raised), and the errors raised."""
    requests = [index[start : start + request_size] for start in range(0, len(index), request_size)]
    serial = [outputs.predict(request) for request in requests]
    found = np.zeros(len(index))
    errors: list[tuple[int, str]] = []

    def client(first: int) -> None:
        for number in range(first, len(requests), threads):
            request = requests[number]
            rows = slice(number * request_size, number * request_size + len(request))
            try:
                found[rows] = outputs.agree(serial[number], outputs.predict(request), request, tolerance=tolerance)
            except Exception as exc:  # noqa: BLE001 - a crash under concurrency is what this check finds
                errors.append((number, f"request {number}: {exception_text(exc)}"))

    at_once(client, threads)
    return found, [message for _, message in sorted(errors)]


def measure(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The determinism check ``spec`` of a segmenter or a detector (one mode; ``in_each_mode`` runs it in each)."""
    outputs = TaskOutputs(evaluation.model, evaluation.data)
    index = np.arange(evaluation.sample_limit(outputs.n))
    tolerance = float(spec.param("tolerance"))
    details: dict[str, Any] = {"tolerance": tolerance, "agreement_of": outputs.unit}
    errors: list[str] = []
    if spec.name == "repeat":
        repeats = int(spec.param("repeats"))
        found, what, per_image = repeat_agreement(outputs, index, repeats, tolerance), "repeated calls on the same images", repeats
        details["repeats"] = repeats
    elif spec.name == "batch":
        size = outputs.model.batch_size
        found, per_image = batch_agreement(outputs, index, evaluation.rng(spec), tolerance), 4
        what = f"each image alone and in batches of {size} in data, reverse and shuffled order"
        details["batch_size"] = size
    else:
        threads, size = int(spec.param("threads")), int(spec.param("request_size"))
        found, errors = concurrent_agreement(outputs, index, threads, size, tolerance)
        what, per_image = f"requests of {size} image{'s' if size > 1 else ''} from {threads} threads at once and the same requests one by one", 2
        details.update(threads=threads, request_size=size, errors=errors[:10], n_errors=len(errors))
    matched = found >= 1.0
    worst = worst_images(found)
    details.update(mean_agreement=float(found.mean()), min_agreement=float(found.min()), mismatched=worst, n_mismatched=int((~matched).sum()))
    message = ""
    if worst:
        level = "pixel-level" if outputs.unit == "pixels" else "box-level"
        message = (
            f"{int((~matched).sum())} of {len(found)} images changed between {what}: {level} agreement down to "
            f"{worst[0]['agreement']:.4f} (mean {found.mean():.4f}); first ones: images {', '.join(str(w['index']) for w in worst[:5])}"
        )
        if errors:
            message += f"\nconcurrent requests raised: {errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    n = len(found)
    return Measurement(value=float(matched.mean()), n=n, details=details, message=message, successes=int(matched.sum()), evaluations=per_image * n)
