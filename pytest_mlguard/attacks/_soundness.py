"""Signs that an attack evaluation lies, each a plain function that returns a problem or nothing.

The classic ways a robustness evaluation overstates robustness (Carlini et al., 2019, "On
Evaluating Adversarial Robustness"; Athalye et al., 2018, "Obfuscated Gradients"):

* ``zero-gradients`` / ``nonfinite-gradients``: the loss gradient the attack follows is exactly zero
  (a non-differentiable step such as rounding, or a saturated output) or NaN/inf;
* ``black-box-beats-white-box``: a black-box attack breaks more samples than a gradient attack at the
  same epsilon, so the gradients are not showing the way;
* ``rising-with-epsilon``: robust accuracy rises as the epsilon ball grows, although a larger ball
  contains the smaller one;
* ``nondeterministic``: the model's outputs change between identical calls, so every number moves;
* ``clean-mismatch``: the attack's view of the model (through ART) classifies the clean samples
  differently from the model itself, the view the accuracy check uses.

Example:
    >>> rising([0.9, 0.5, 0.7], [0.1, 0.2, 0.3], tolerance=0.02)["code"]
    'rising-with-epsilon'
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np


Problem = dict[str, Any]
#: the sound measurement where a black-box attack beat a gradient one: its robust samples among those both
#: looked at, their number, the black-box check, and the counts paired with the clean outcomes
Sound = tuple[int, int, str, tuple[int, int, int, int]]


def _problem(code: str, message: str, **data: Any) -> Problem:
    return {"code": code, "message": message, **data}


def gradient_problems(stats: dict[str, int], tolerance: float) -> list[Problem]:
    """Zero or non-finite input gradients among the rows an attack computed gradients of."""
    rows = stats.get("gradient_rows", 0)
    problems = []
    if rows and stats["zero_gradient_rows"] / rows > tolerance:
        share = stats["zero_gradient_rows"] / rows
        problems.append(
            _problem(
                "zero-gradients",
                f"the loss gradient was exactly zero for {share:.0%} of {rows} gradient evaluations: the model masks "
                "its gradients (a non-differentiable step such as rounding or quantisation, or a saturated output), so "
                "a gradient attack cannot move and its robust accuracy is not evidence of robustness; try a black-box "
                "attack such as square at the same epsilon",
                share=share,
            )
        )
    if stats.get("nonfinite_gradient_rows", 0):
        problems.append(
            _problem(
                "nonfinite-gradients",
                f"the loss gradient held NaN or inf for {stats['nonfinite_gradient_rows']} of {rows} gradient "
                "evaluations (ART replaces NaN with 0, so the attack stalls there)",
                count=stats["nonfinite_gradient_rows"],
            )
        )
    return problems


def rising(curve: Sequence[float], epsilons: Sequence[float], tolerance: float) -> Problem | None:
    """Robust accuracy that rises by more than ``tolerance`` from one epsilon to a larger one."""
    worst = None
    for i in range(len(curve) - 1):
        rise = max(curve[j] for j in range(i + 1, len(curve))) - curve[i]
        if rise > tolerance and (worst is None or rise > worst[0]):
            worst = (rise, i)
    if worst is None:
        return None
    rise, i = worst
    return _problem(
        "rising-with-epsilon",
        f"robust accuracy rises with epsilon: {curve[i]:.4f} at eps={epsilons[i]:g}, then up to "
        f"{max(curve[i + 1:]):.4f} at a larger epsilon, although the larger ball contains the smaller one; the attack "
        "is too weak there (too few steps, or masked gradients)",
        rise=rise,
    )


def black_box_beats_white_box(
    white: tuple[str, float], black: tuple[str, float], eps: float, tolerance: float
) -> Problem | None:
    """A black-box attack whose robust accuracy is lower than a gradient attack's at the same epsilon."""
    (white_id, white_value), (black_id, black_value) = white, black
    if white_value - black_value <= tolerance:
        return None
    return _problem(
        "black-box-beats-white-box",
        f"the black-box attack {black_id} leaves robust accuracy {black_value:.4f} where the gradient attack "
        f"{white_id} at the same eps={eps:g} leaves {white_value:.4f}: an attack that sees only outputs should not beat "
        "one that sees gradients, so the gradients are masked",
        white=white_id,
        black=black_id,
    )


def unsound_quote(
    message: str, metric: str, n: int, sound: Sound | None
) -> tuple[float, int, int | None, tuple[int, int, int, int] | None, str]:
    """What a check that fails as unsound quotes, ``(value, n, successes, paired, message)``, in the run and
    in the merge alike: the robust accuracy the black-box check leaves on the samples both attacks looked
    at where one beat a gradient attack (``sound``) and the check measures robust accuracy (an upper bound:
    every adversarial example it found is real), else ``nan`` over its ``n`` samples, nothing counted
    (``message``: :func:`verdict`'s)."""
    if sound is None or metric != "robust_accuracy":
        return math.nan, n, None, None, message
    successes, looked, black, paired = sound
    lines = message.partition("\n")[2]
    message = (
        f"unsound evaluation: the value is the robust accuracy {black} leaves on the {looked} samples both attacks "
        f"looked at, an upper bound (every adversarial example it found is real), not evidence of robustness\n{lines}"
    )
    return successes / max(1, looked), looked, successes, paired, message


def nondeterministic(first: np.ndarray, second: np.ndarray, atol: float = 1e-3) -> Problem | None:
    """Two sets of probabilities of the same inputs that disagree (labels, or more than ``atol``)."""
    flips = int((first.argmax(axis=1) != second.argmax(axis=1)).sum())
    gap = float(np.abs(first - second).max()) if first.size else 0.0
    if not flips and gap <= atol:
        return None
    return _problem(
        "nondeterministic",
        f"the model's outputs change between identical calls (largest probability change {gap:.4g}, {flips} of "
        f"{len(first)} labels flipped): a randomised model makes every attack number move from run to run and "
        "hides gradients (evaluate it with expectation over transformation, or make inference deterministic)",
        flips=flips,
        gap=gap,
    )


def clean_mismatch(art_labels: np.ndarray, model_labels: np.ndarray, y: np.ndarray) -> Problem | None:
    """The attack's view of the clean samples disagrees with the model's own predictions."""
    differ = int((art_labels != model_labels).sum())
    if not differ:
        return None
    return _problem(
        "clean-mismatch",
        f"the attack's view of the model through ART classifies {differ} of {len(y)} clean samples differently from "
        f"the model itself, as the accuracy check sees it (clean accuracy {float((art_labels == y).mean()):.4f} against "
        f"{float((model_labels == y).mean()):.4f}): normalisation applied twice or not at all, the wrong output kind, "
        "or a model whose outputs change between calls",
        differ=differ,
    )


def verdict(problems: list[Problem], mode: str, metric: str, value: float, where: str) -> tuple[str, str | None]:
    """``(message, failure)`` of a measurement with ``problems`` under ``attack.soundness = mode``:
    ``"fail"``: a failure naming the problems, and a message saying the ``metric`` measured is no
    evidence; ``"warn"``: each problem an :class:`~pytest_mlguard.attacks.UnsoundEvaluationWarning`
    (of the check ``where`` names), a message listing them, no failure. The message's lines after its
    first list the problems."""
    from . import UnsoundEvaluationWarning

    lines = "\n".join(f"- {p['code']}: {p['message']}" for p in problems)
    if mode == "fail":
        failure = f"unsound evaluation ({', '.join(p['code'] for p in problems)})"
        message = f"unsound evaluation: the measured {metric} {value:.4f} is not evidence of robustness\n{lines}\n"
        return message + '(attack.soundness = "warn" reports these as warnings instead)', failure
    for problem in problems:
        warnings.warn(UnsoundEvaluationWarning(f"{where}: {problem['message']}"), stacklevel=3)
    return f'signs of an unsound evaluation (attack.soundness = "warn"):\n{lines}', None
