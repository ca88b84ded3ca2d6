"""The comparison of attack checks of one model: a black-box attack that leaves robust accuracy more than
``attack.tolerance`` below a gradient attack's at the same norm and epsilon, on the samples both looked
at, is a sign of masked gradients (``black-box-beats-white-box``, :func:`._soundness.black_box_beats_white_box`).

The later check of a pair, in the run's order, carries the problem. :func:`compare` is the comparison
itself, over each sample's outcome at the epsilon (right under the attack) and its place in the unsharded
run's data, so that a sample is the same sample in a run, on a shard and in a merge: the run compares a
check with those that ran before it in its process (:func:`registered`), and the merge of
``--mlguard-shard`` with those before it in the shards' order, from their merged per-sample statistics
(:func:`merged_comparison`): the comparison of the unsharded run, whatever the number of shards.

Example:
    >>> import numpy as np
    >>> pgd = ("attack[pgd-linf-0.1]", True, np.array([True, True, True, False]), np.arange(4))
    >>> problems, sound = compare("attack[square-linf-0.1]", False, 0.1, 0.02, np.array([False, True, False, False]), np.array([True, True, True, False]), np.arange(4), [pgd])
    >>> [problem["code"] for problem in problems], sound
    (['black-box-beats-white-box'], (1, 4, 'attack[square-linf-0.1]', (1, 2, 0, 1)))
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .._verdicts.intervals import paired_counts
from ._soundness import Problem, Sound, black_box_beats_white_box

if TYPE_CHECKING:
    from .._shard.merge import ShardFile
    from ..checks._base import CheckSpec
    from ..checks._evaluation import Evaluation

#: a check's outcomes at one epsilon: its id, whether it follows gradients, each sample's outcome (right
#: under the attack) and each sample's place in the unsharded run's data
Seen = tuple[str, bool, np.ndarray, np.ndarray]


def compare(
    check_id: str, gradients: bool, eps: float, tolerance: float, outcomes: np.ndarray, clean_ok: np.ndarray, places: np.ndarray, earlier: Iterable[Seen]
) -> tuple[list[Problem], Sound | None]:
    """The problems of check ``check_id`` at ``eps`` against the ``earlier`` checks at the same norm and
    epsilon (in their order), and the sound measurement of the last one found (``None``: none found)."""
    problems: list[Problem] = []
    sound: Sound | None = None
    for other_id, other_gradients, other, other_places in earlier:
        if other_gradients == gradients:
            continue
        _, mine, theirs = np.intersect1d(places, other_places, assume_unique=True, return_indices=True)
        if not len(mine):
            continue
        ours, others = (check_id, float(outcomes[mine].mean())), (other_id, float(other[theirs].mean()))
        white, black = (others, ours) if other_gradients else (ours, others)
        problem = black_box_beats_white_box(white, black, eps, tolerance)
        if problem:
            problems.append(problem)
            kept = (outcomes[mine] if other_gradients else other[theirs]) & clean_ok[mine]  # the black box's robust samples
            sound = (int(kept.sum()), len(mine), black[0], paired_counts(clean_ok[mine], kept))
    return problems, sound


def at_each_eps(spec: CheckSpec, y: np.ndarray, arrays: dict[str, np.ndarray]) -> list[tuple[float, np.ndarray]]:
    """``(eps, outcomes)`` of a check from its merged per-sample statistics, as the run compares it: a
    fixed-epsilon check's samples right under the attack, a sweep's robust samples at each epsilon (a
    minimal attack's: none)."""
    if spec.param("eps") is not None:
        return [(float(spec.param("eps")), arrays["adversarial_class"] == y)]
    if spec.metric == "median_perturbation":
        return []
    clean_ok = arrays["clean_ok"].astype(bool)
    return [(float(eps), clean_ok & (classes == y)) for eps, classes in zip(spec.param("sweep"), arrays["adversarial_class_at_eps"].T)]


def _key(spec: CheckSpec, eps: float) -> tuple[Any, str, float]:
    """What checks compared at an epsilon share: their attack samples, their norm and the epsilon (to 12 digits)."""
    return (spec.param("samples"), spec.param("norm"), round(float(eps), 12))


def _earlier(spec: CheckSpec, evaluation: Evaluation, shards: list[ShardFile]) -> list[tuple[CheckSpec, dict[str, np.ndarray]]]:
    """The attack checks of the model measured on the shards' samples before ``spec``, in the order the
    shards ran them (one process runs a suite's attack checks, in order), with their merged statistics."""
    from .._shard.outcomes import merged_arrays
    from .._shard.recompute import spec_of

    order = [entry["id"] for entry in shards[0].header["checks"] if entry["model"] == evaluation.model_id and entry["family"] == spec.family]
    out = []
    for check_id in order[: order.index(spec.id)]:  # the merged check is on every shard (recompute)
        found = [shard.entry(evaluation.model_id, check_id) for shard in shards]
        entries = [entry for entry in found if entry is not None and "outcomes" in entry["arrays"]]
        if len(entries) < len(shards):
            continue  # not measured on some shard: the merge fails it, and the run compared nothing with it
        other = spec_of({"family": spec.family, "id": check_id}, evaluation.settings)
        extra = tuple({"adversarial_class_at_eps"} & set(entries[0]["arrays"]))
        out.append((other, merged_arrays(shards, entries, ("clean_ok", "adversarial_class", *extra))))
    return out


def merged_comparison(
    spec: CheckSpec, evaluation: Evaluation, shards: list[ShardFile], arrays: dict[str, np.ndarray]
) -> tuple[list[Problem], Sound | None]:
    """The comparison of a merged check (its merged statistics ``arrays``) with the checks the shards ran
    before it, from their merged statistics, as the unsharded run compares them."""
    from ._registry import ATTACKS

    y = evaluation.data.y[arrays["positions"]]
    earlier = [(other, at_each_eps(other, evaluation.data.y[found["positions"]], found), found["positions"]) for other, found in _earlier(spec, evaluation, shards)]
    problems: list[Problem] = []
    sound: Sound | None = None
    for eps, outcomes in at_each_eps(spec, y, arrays):
        seen = [
            (other.id, ATTACKS[other.param("attack")].gradients, theirs, places)
            for other, outcomes_of, places in earlier
            for other_eps, theirs in outcomes_of
            if _key(other, other_eps) == _key(spec, eps)
        ]
        found, best = compare(spec.id, ATTACKS[spec.param("attack")].gradients, eps, spec.param("tolerance"), outcomes, arrays["clean_ok"].astype(bool), arrays["positions"], seen)
        problems += found
        sound = best or sound
    return problems, sound


def registered(run: Any, eps: float, outcomes: np.ndarray, clean_ok: np.ndarray, looked: np.ndarray | None) -> None:
    """Compare a running check (a ``run._Run``) at ``eps`` with those of this process before it, on the
    samples both looked at (``looked``: those of a check that stopped early), and record its outcomes for
    those after it; its problems go to ``run.problems``, the sound measurement to ``run.sound``."""
    registry: dict[Any, list[Seen]] = run.evaluation.memo(("attack", "by-eps"), dict)
    key = _key(run.spec, eps)
    seen = np.arange(len(outcomes)) if looked is None else np.asarray(looked)
    places = (run.index if run.chunks is not None else run.evaluation.positions[run.index])[seen]  # in the unsharded run's data
    gradients = run.definition.gradients
    problems, sound = compare(run.spec.id, gradients, eps, run.tolerance, outcomes[seen], clean_ok[seen], places, registry.get(key, []))
    run.problems += problems
    run.sound = sound or run.sound
    registry.setdefault(key, []).append((run.spec.id, gradients, outcomes[seen], places))
