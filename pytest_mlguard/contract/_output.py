"""What a model's output must be, checked on every call: one clear error for a malformed output, and
the rows that are not finite.

Every adapter's raw output for a batch of ``n`` samples goes through :func:`check_scores`: it must be
an array (or tensor, or rows of numbers) of floating-point scores of shape ``(n, n_classes)``. Anything
else (a list of heads, a dict of outputs, one row per batch, class indices) is a
:class:`~pytest_mlguard.errors.ContractError` that says what was expected and what came back, at the
first call, whatever the check. :func:`non_finite_rows` finds the samples whose probabilities hold NaN
or inf; the model raises :class:`~pytest_mlguard.errors.NonFiniteOutput` for them, which fails the
check that asked.

Example:
    >>> check_scores([[0.2, 0.8]], model="api", n=1, n_classes=2, output="probabilities").shape
    (1, 2)
    >>> check_scores({"logits": 0}, model="api", n=1, n_classes=2, output="logits")
    Traceback (most recent call last):
    ...
    pytest_mlguard.errors.ContractError: model 'api' returned a dict with keys ['logits'] for a batch of 1 samples: expected an array of shape (1, 2) of logits; return the scores alone, such as outputs['logits']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ContractError


def describe_output(value: Any) -> str:
    """A short description of what a model returned: ``a list of 2 items (Tensor (3, 10), Tensor (3, 64))``."""
    if value is None:
        return "None"
    if isinstance(value, dict):
        return f"a dict with keys {list(value)[:8]!r}"
    if isinstance(value, (list, tuple)):
        items = ", ".join(_item(item) for item in value[:4]) + (", ..." if len(value) > 4 else "")
        return f"a {type(value).__name__} of {len(value)} item{'s' if len(value) != 1 else ''} ({items})"
    return f"a {type(value).__name__}"


def _item(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__} {tuple(shape)}" if shape is not None else type(value).__name__


def _to_numpy(value: Any) -> Any:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, of any dtype
        value = value.detach()
        if value.is_floating_point():
            value = value.float()
        return value.cpu().numpy()
    return value


def check_scores(raw: Any, *, model: str, n: int, n_classes: int, output: str) -> np.ndarray:
    """``raw``, one call's output for a batch of ``n`` samples, as float64 scores ``(n, n_classes)``.

    Raises:
        ContractError: ``raw`` is not one array of floating-point scores of that shape.
    """
    expected = f"an array of shape ({n}, {n_classes}) of {output}"
    who = f"model {model!r} returned"
    if raw is None or isinstance(raw, (dict, str, bytes)):
        fix = f"; return the scores alone, such as outputs[{next(iter(raw))!r}]" if isinstance(raw, dict) and raw else ""
        raise ContractError(f"{who} {describe_output(raw)} for a batch of {n} samples: expected {expected}{fix}")
    if isinstance(raw, (list, tuple)):
        rows = _rows(raw)
        if rows is None or rows.shape != (n, n_classes):
            raise ContractError(
                f"{who} {describe_output(raw)} for a batch of {n} samples: expected {expected}; "
                "a model with several outputs needs a wrapper that returns the class scores alone"
            )
        raw = rows
    scores = np.asarray(_to_numpy(raw))
    if not np.issubdtype(scores.dtype, np.floating):
        what = describe_output(raw) if scores.dtype == object and scores.ndim == 0 else f"outputs of dtype {scores.dtype}"
        hint = " (class scores, not class indices or labels)" if np.issubdtype(scores.dtype, np.integer) or scores.dtype == bool else ""
        raise ContractError(f"{who} {what}: expected floating-point {output}{hint}, an array of shape ({n}, {n_classes})")
    if scores.shape != (n, n_classes):
        raise ContractError(
            f"{who} outputs of shape {scores.shape} for a batch of {n} samples: expected ({n}, {n_classes}) "
            f"(one row per sample) of {output} over {n_classes} classes"
        )
    return scores.astype(np.float64, copy=False)


def _rows(raw: list[Any] | tuple[Any, ...]) -> np.ndarray | None:
    """Rows of numbers (a JSON answer, say) as an array; ``None`` for anything else (several heads)."""
    if not raw or any(hasattr(item, "detach") or isinstance(item, (dict, str, bytes)) for item in raw):
        return None
    try:
        rows = np.asarray(raw)
    except (TypeError, ValueError):  # ragged: outputs of several shapes
        return None
    return rows if rows.ndim == 2 and np.issubdtype(rows.dtype, np.number) else None


def non_finite_rows(proba: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``proba`` that hold NaN or inf."""
    return np.flatnonzero(~np.isfinite(proba.reshape(len(proba), -1)).all(axis=1))  # per-pixel scores too
