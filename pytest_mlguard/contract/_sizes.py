"""``contract[input-sizes]`` and ``contract[resized-copies]``: images of other sizes at the model itself.

A pipeline that always resizes hides what the model does with other sizes; a model with adaptive
pooling takes them, and a service that sends them (a new client, a pipeline change) gets whatever it
computes. Where the model takes an image of twice its declared size (probed once), the evaluation
samples are resized (bilinear, antialiased) to each size of ``contract.sizes``
(:func:`other_sizes`) and sent to the model:

* every input must get finite outputs of the declared shape, without raising (``input-sizes``);
* the resized copies of the same picture (odd widths and heights, twice the size) must keep the
  class of the declared size (``resized-copies``); 1x1 and the very wide and tall stretches keep too
  little of the picture to ask that.

Example:
    >>> other_sizes((3, 32, 32))["odd"], other_sizes((3, 32, 32))["wide"]
    ((33, 33), (16, 128))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._messages import exception_text
from ..checks._base import CheckSpec, Measurement
from ..errors import NotApplicable

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation
    from ._model import Model


#: the sizes that are resized copies of the same picture, whose class must stay
COPIES = ("odd-width", "odd-height", "odd", "2x")


def _odd(n: int) -> int:
    return n + 1 if n % 2 == 0 else n + 2


def other_sizes(input_shape: tuple[int, ...]) -> dict[str, tuple[int, int]]:
    """The sizes ``(height, width)`` fed to a model of ``input_shape`` ``(C, H, W)``, by name: 1x1, an
    odd width, an odd height, both odd, very wide (half the height, 4 times the width), very tall, and
    twice the size."""
    height, width = input_shape[-2:]
    return {
        "1x1": (1, 1),
        "odd-width": (height, _odd(width)),
        "odd-height": (_odd(height), width),
        "odd": (_odd(height), _odd(width)),
        "wide": (max(1, height // 2), 4 * width),
        "tall": (4 * height, max(1, width // 2)),
        "2x": (2 * height, 2 * width),
    }


def resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Images ``(N, C, H, W)`` resized to ``size`` (bilinear, antialiased when shrinking)."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return torch.nn.functional.interpolate(tensor, size=size, mode="bilinear", align_corners=False, antialias=True).numpy()


def _label(size: tuple[int, ...]) -> str:
    return f"{size[0]}x{size[1]}"


def _valid_scores(model: Model, batch: np.ndarray) -> np.ndarray:
    """The model's outputs on ``batch``; an output of the wrong shape raises."""
    scores = np.asarray(model.raw_scores(batch), dtype=np.float64)
    if scores.shape != (len(batch), model.n_classes):
        raise ValueError(f"returned outputs of shape {scores.shape}, expected {(len(batch), model.n_classes)}")
    return scores


def _probe(model: Model, x: np.ndarray) -> None:
    """Whether ``model`` takes another size at all: one image of twice the declared size."""
    declared = tuple(model.input_shape[-2:])
    probe = (2 * declared[0], 2 * declared[1])
    try:
        _valid_scores(model, resize(x[:1], probe))
    except Exception as exc:  # noqa: BLE001 - any failure here means the model takes one size only
        raise NotApplicable(
            f"model {model.name!r} takes only its declared size {_label(declared)}: a {_label(probe)} input raised "
            f"{exception_text(exc)}"
        ) from None


def sizes_outcomes(model: Model, x: np.ndarray, sizes: dict[str, tuple[int, int]]) -> dict[str, dict[str, Any]]:
    """Per size name: the top-1 class of each image of ``x`` resized to that size (-1 where the outputs
    are not finite or the call raised), which rows were not finite, which raised, and the first error."""
    declared = int(np.prod(model.input_shape[-2:]))
    outcomes = {}
    for name, size in sizes.items():
        top = np.full(len(x), -1)
        non_finite = np.zeros(len(x), dtype=bool)
        raised = np.zeros(len(x), dtype=bool)
        error = None
        step = max(1, min(len(x), model.batch_size * declared // (size[0] * size[1])))  # the declared batch's pixels
        for start in range(0, len(x), step):
            rows = slice(start, min(start + step, len(x)))
            try:
                scores = _valid_scores(model, resize(x[rows], size))
            except Exception as exc:  # noqa: BLE001 - a model that raises at a size is what the check finds
                raised[rows] = True
                error = error or exception_text(exc)
                continue
            finite = np.isfinite(scores).all(axis=1)
            non_finite[rows] = ~finite
            top[rows] = np.where(finite, scores.argmax(axis=1), -1)
        outcomes[name] = {"size": size, "top": top, "non_finite": non_finite, "raised": raised, "error": error}
    return outcomes


def _measured(spec: CheckSpec, evaluation: Evaluation) -> tuple[int, dict[str, dict[str, Any]]]:
    """The samples used and :func:`sizes_outcomes`, shared by both checks of the evaluation; a model
    that takes one size only is not applicable (probed once)."""
    model, data = evaluation.model, evaluation.data
    if len(model.input_shape) != 3:
        raise NotApplicable(f"model {model.name!r} takes inputs of shape {model.input_shape}: the sizes checks are of images (C, H, W)")
    n = evaluation.sample_limit(min(data.n, spec.param("samples")))
    names = spec.param("sizes")

    def measure() -> tuple[int, Any]:
        try:
            _probe(model, data.x)
        except NotApplicable as exc:
            return n, exc
        table = other_sizes(model.input_shape)
        return n, sizes_outcomes(model, data.x[:n], {name: table[name] for name in names})

    n, outcomes = evaluation.memo(("contract", "sizes", n, names), measure)
    if isinstance(outcomes, NotApplicable):
        raise outcomes
    return n, outcomes


def _at(names: list[str], counts: list[int], n: int) -> str:
    if len(set(counts)) == 1:
        return f"at {', '.join(names)} ({counts[0]} of {n} samples{' each' if len(names) > 1 else ''})"
    return "at " + ", ".join(f"{name} ({count} of {n} samples)" for name, count in zip(names, counts))


def input_sizes_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """``contract[input-sizes]``: the fraction of inputs at other sizes with finite outputs, without raising."""
    n, outcomes = _measured(spec, evaluation)
    by_size = {}
    for outcome in outcomes.values():
        by_size[_label(outcome["size"])] = {
            "size": list(outcome["size"]),
            "n": n,
            "non_finite": int(outcome["non_finite"].sum()),
            "raised": int(outcome["raised"].sum()),
            "error": outcome["error"],
        }
    valid = sum(n - entry["non_finite"] - entry["raised"] for entry in by_size.values())
    total = n * len(by_size)
    declared = _label(evaluation.model.input_shape[-2:])
    details = {"declared": declared, "by_size": by_size}
    problems = []
    nan_sizes = [(label, entry["non_finite"]) for label, entry in by_size.items() if entry["non_finite"]]
    if nan_sizes:
        problems.append("returned NaN or inf " + _at([s for s, _ in nan_sizes], [c for _, c in nan_sizes], n))
    problems += [f"raised at {label}: {entry['error']}" for label, entry in by_size.items() if entry["raised"]]
    message = ""
    if problems:
        message = (
            f"{total - valid} of {total} inputs at other sizes than the declared {declared} got no valid prediction: "
            + "; ".join(problems)
            + ". Resize every input to the declared size before the model, or narrow contract.sizes to the sizes "
            "the service can send"
        )
    return Measurement(value=valid / total, n=total, details=details, message=message, successes=valid, evaluations=total)


def resized_copies_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """``contract[resized-copies]``: the top-1 agreement of resized copies with the declared size, at the
    size where it is lowest (inputs without a valid prediction are ``input-sizes``' to count)."""
    n, outcomes = _measured(spec, evaluation)
    copies = {name: outcome for name, outcome in outcomes.items() if name in COPIES}
    if not copies:
        raise NotApplicable(f"contract.sizes names no resized copy of the picture ({', '.join(COPIES)})")
    declared = evaluation.clean_proba[:n].argmax(axis=1)
    agreement: dict[str, float] = {}
    counts: dict[str, tuple[int, int, np.ndarray]] = {}
    for outcome in copies.values():
        valid = outcome["top"] >= 0
        if valid.any():
            label = _label(outcome["size"])
            same = outcome["top"][valid] == declared[valid]
            agreement[label] = float(same.mean())
            counts[label] = (int(same.sum()), int(valid.sum()), np.flatnonzero(valid)[~same])
    if not agreement:
        raise NotApplicable("no resized copy got a valid prediction: contract[input-sizes] says why")
    worst = min(agreement, key=lambda label: agreement[label])
    same, valid, changed = counts[worst]
    size_label = _label(evaluation.model.input_shape[-2:])
    details = {"declared": size_label, "agreement_by_size": agreement, "worst": worst, "changed": changed[:20].tolist()}
    message = ""
    if len(changed):
        top = copies[next(name for name in copies if _label(copies[name]["size"]) == worst)]["top"]
        first = ", ".join(f"{int(i)} ({int(declared[i])}->{int(top[i])})" for i in changed[:5])
        message = (
            f"a copy of the same picture at {worst} got another class than at {size_label} for {valid - same} of {valid} "
            f"samples (agreement {same / valid:.4f}); by size: {', '.join(f'{k} {v:.2f}' for k, v in agreement.items())}; "
            f"first ones: samples {first}"
        )
    return Measurement(value=same / valid, n=valid, details=details, message=message, successes=same, evaluations=valid)
