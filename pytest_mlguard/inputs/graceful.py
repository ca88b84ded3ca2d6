"""The graceful-failure contract, as plain functions.

For every input, a pipeline returns a valid prediction or raises one of the exceptions it declared
as clean rejections, with a non-empty message. Anything else is a failure.

Example:
    >>> outcome_of(lambda raw: [0.25, 0.75], b"", rejects=(), n_classes=2)
    Outcome(kind='prediction', detail='probabilities', label=1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._messages import exception_text

__all__ = ["Outcome", "check_prediction", "outcome_of", "top_class"]


@dataclass(frozen=True)
class Outcome:
    """What the pipeline did with one input: ``prediction``, ``rejection`` or ``failure``; for a
    prediction, ``label`` is its top-1 class (an index, or a name not among the class names), and for
    a segmenter's or a detector's, ``output`` its mask ``(H, W)`` or its detections (:mod:`._task_outputs`)."""

    kind: Literal["prediction", "rejection", "failure"]
    detail: str
    label: int | str | None = None
    output: Any = field(default=None, repr=False, compare=False)

    @property
    def graceful(self) -> bool:
        return self.kind != "failure"


def check_prediction(output: Any, n_classes: int, class_names: Sequence[str] = (), atol: float = 1e-3) -> str | None:
    """``None`` if ``output`` is a valid prediction, else what is wrong with it.

    Valid: a class index in ``0..n_classes-1``, a known class name, or a vector of ``n_classes``
    finite probabilities in [0, 1] that sum to 1 within ``atol``.
    """
    if isinstance(output, (bool, np.bool_)):
        return f"returned a bool ({output!r}), not a prediction"
    if isinstance(output, (int, np.integer)):
        return None if 0 <= int(output) < n_classes else f"returned class index {int(output)}, outside 0..{n_classes - 1}"
    if isinstance(output, str):
        return None if output in class_names else f"returned unknown class {output!r}"
    if hasattr(output, "detach"):
        output = output.detach().cpu().numpy()
    try:
        vector = np.asarray(output, dtype=np.float64)
    except (TypeError, ValueError):
        return f"returned {type(output).__name__}, not a class index, class name or probability vector"
    if vector.ndim == 2 and vector.shape[0] == 1:
        vector = vector[0]
    if vector.ndim == 0:
        value = float(vector)
        if math.isfinite(value) and value == int(value) and 0 <= value < n_classes:
            return None
        return f"returned {value!r}, not a valid class index"
    if vector.shape != (n_classes,):
        return f"returned an array of shape {vector.shape}, expected ({n_classes},) probabilities"
    if not np.isfinite(vector).all():
        return "returned NaN or inf probabilities"
    if vector.min() < -atol or vector.max() > 1 + atol:
        return f"returned probabilities outside [0, 1] (min {vector.min():.4g}, max {vector.max():.4g})"
    if abs(vector.sum() - 1.0) > atol:
        return f"returned probabilities that sum to {vector.sum():.6g}, not 1"
    return None


def outcome_of(
    fn: Callable[[Any], Any],
    raw: Any,
    *,
    rejects: tuple[type[BaseException], ...],
    n_classes: int,
    class_names: Sequence[str] = (),
    task: str = "classification",
) -> Outcome:
    """Call ``fn(raw)`` in this process and classify what happened (a valid prediction: of ``task``'s shape)."""
    try:
        output = fn(raw)
    except rejects as exc:
        if not str(exc).strip():
            return Outcome("failure", f"raised declared {type(exc).__name__} with an empty message")
        return Outcome("rejection", exception_text(exc))
    except MemoryError as exc:
        return Outcome("failure", f"ran out of memory: {exception_text(exc) if str(exc) else 'MemoryError'}")
    except Exception as exc:  # noqa: BLE001 - classifying every stray exception is the point
        return Outcome("failure", f"raised undeclared {exception_text(exc)}")
    except SystemExit as exc:
        return Outcome("failure", f"called sys.exit({exc.code!r})")
    if task != "classification":
        from ._task_outputs import task_output

        wrong, what, checked = task_output(output, task, n_classes)
        return Outcome("failure", wrong) if wrong else Outcome("prediction", what, output=checked)
    problem = check_prediction(output, n_classes, class_names)
    if problem:
        return Outcome("failure", problem)
    return Outcome("prediction", "probabilities" if not isinstance(output, (int, str, np.integer)) else repr(output), top_class(output, class_names))


def top_class(output: Any, class_names: Sequence[str] = ()) -> int | str:
    """The top-1 class of a valid prediction: its index (a class name among ``class_names`` becomes
    its index; the first of tied probabilities wins)."""
    if isinstance(output, str):
        return list(class_names).index(output) if output in class_names else output
    if isinstance(output, (int, np.integer)):
        return int(output)
    if hasattr(output, "detach"):
        output = output.detach().cpu().numpy()
    vector = np.asarray(output, dtype=np.float64).reshape(-1)
    return int(vector[0]) if vector.size == 1 else int(vector.argmax())
