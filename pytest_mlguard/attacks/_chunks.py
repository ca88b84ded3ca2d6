"""Fixed seeded chunks: how an attack that draws randomness for a whole batch runs the same on any shard.

ART draws the random starts of PGD and APGD (``random_sphere`` over the batch) and Square's windows for
a whole batch from numpy's global generator, so an image's attack depends on the rest of its batch
(:func:`~pytest_mlguard.attacks._registry.draws_randomness`); a sweep's curve and a minimal attack's
median need every sample. Such a check of a classifier (:func:`~pytest_mlguard.attacks._registry.chunked`)
cuts the run's attack samples
(``attack.samples`` of the unsharded run's data, the same list on every shard) into chunks in a fixed
order: consecutive runs of ``attack.batch_size`` samples (of the look size where the check may stop
early, :func:`chunk_size`). Chunk ``k`` is one ART call, seeded by the check's seed and ``k``
(:func:`chunk_seed`), its predictions cached apart from the other chunks' (``QueryLog.scoped``): what a
chunk computes depends on its samples alone. The unsharded run attacks every chunk in order; shard ``I``
of ``N`` attacks the chunks with ``k mod N = I``. Every chunk's computation is then the same in both
runs, whatever ``N``, batched models included (the batch is the chunk), and the merge of the shards'
per-sample statistics (:mod:`._merge`) equals the unsharded run to the last bit.

Early stopping (a fixed-epsilon floor check) looks at chunk boundaries, in the unsharded run and on a
shard's own chunks alike (the merge multiplies the shards' e-values, as for the other per-sample
checks); a chunk then attacks only the samples the model gets right clean, as the unchunked looks do.
A sweep attacks each chunk at every epsilon in turn, a minimal attack each chunk once (HopSkipJump's
starting points from the chunk's samples and its own generator).

Example:
    >>> chunk_bounds(20, 8)
    [(0, 8), (8, 16), (16, 20)]
    >>> [k for k in range(7) if held(k, None)], [k for k in range(7) if held(k, Shard(1, 3))]
    ([0, 1, 2, 3, 4, 5, 6], [1, 4])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._shard.split import Shard
from ..checks._base import CheckSpec
from ..checks._evaluation import Evaluation, stable_seed
from ..contract._data import EvalData
from ..errors import NonFiniteOutput
from ._build import seeded


def chunk_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each chunk of ``n`` samples, ``size`` at a time, in order."""
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def held(number: int, shard: Shard | None) -> bool:
    """Whether the run of ``shard`` (``None``: the unsharded run) attacks chunk ``number``."""
    return shard is None or number % shard.count == shard.index


def chunk_seed(seed: int, number: int) -> int:
    """The seed of chunk ``number`` of a check seeded by ``seed``."""
    return stable_seed(seed, "chunk", str(number))


def chunk_size(spec: CheckSpec, settings: Any, n: int) -> int:
    """Samples per chunk: ``attack.batch_size``, or the look size of early stopping where it is fewer
    and the check may stop early (a floor at a fixed epsilon, ``verdict.early_stop`` on), as the
    unchunked checks look."""
    from .._verdicts.sequential import look_size

    size = int(spec.param("batch_size"))
    if spec.kind == "floor" and spec.param("eps") is not None and settings.get("verdict.early_stop") != "off":
        size = min(size, look_size(n))
    return max(1, size)


@dataclass(frozen=True)
class Chunks:
    """The chunks of a check that this run attacks.

    Attributes:
        numbers: each chunk's number in the run's order.
        bounds: each chunk's ``(start, stop)`` among the samples this run attacks.
        positions: each sample's place in the unsharded run's data (the run's attack samples, those held).
    """

    numbers: list[int]
    bounds: list[tuple[int, int]]
    positions: np.ndarray

    @property
    def holds_first(self) -> bool:
        return self.numbers[:1] == [0]


def plan(spec: CheckSpec, evaluation: Evaluation) -> Chunks:
    """The chunks of ``spec`` this run attacks: the run's attack samples (its ``attack.samples`` of the
    unsharded data) cut in order, those of ``evaluation.shard``. Under ``--mlguard-budget`` the unsharded
    run cuts the first of them that its limit allows; a shard, whose limit comes from its own timing, cuts
    all of them as every shard does and attacks the first of its chunks, whole, that fit its limit (one at
    least), so that every shard attacks chunks of the one plan, computed as in the unsharded run."""
    run = evaluation.unsharded_subset(spec.param("samples"), stable_seed(evaluation.settings.seed, "attack-samples"))
    limit = evaluation.sample_limit(len(run))
    if evaluation.shard is None:
        run = run[:limit]
    numbers: list[int] = []
    bounds, parts = [], []
    done = 0
    for number, (start, stop) in enumerate(chunk_bounds(len(run), chunk_size(spec, evaluation.settings, len(run)))):
        if held(number, evaluation.shard):
            if numbers and done + stop - start > limit:
                break  # a shard's limit under --mlguard-budget: its first chunks only
            numbers.append(number)
            bounds.append((done, done + stop - start))
            parts.append(run[start:stop])
            done += stop - start
    return Chunks(numbers, bounds, np.concatenate(parts) if parts else np.zeros(0, np.int64))


def chunk_data(evaluation: Evaluation, chunks: Chunks) -> EvalData:
    """The samples of the chunks (the unsharded run's data where they are all of it)."""
    if evaluation.shard is None and np.array_equal(chunks.positions, np.arange(evaluation.data.n)):
        return evaluation.data
    return evaluation.full_data.take(evaluation.unsharded_index[chunks.positions])


def clean_probabilities(run: Any) -> np.ndarray:
    """The clean probabilities of ``run``'s samples (a ``run._Run``), chunk by chunk, each chunk's kept in
    its own prediction cache (``run.caches``) for its attack. ``NonFiniteOutput`` names rows of ``run.data``
    (every chunk's)."""
    parts, bad = [], []
    for number, (start, stop) in zip(run.chunks.numbers, run.chunks.bounds):
        with run.adapter.log.scoped(run.caches.setdefault(number, {})):
            try:
                parts.append(run.adapter.proba(run.data.x[start:stop]))
            except NonFiniteOutput as exc:  # rows of the chunk: as rows of all the run's samples
                bad += [start + row for row in exc.rows]
    if bad:
        raise NonFiniteOutput(run.evaluation.model.name, bad, len(run.data.x))
    return np.concatenate(parts) if parts else np.zeros((0, run.evaluation.model.n_classes))


def _chunk(run: Any, number: int, rows: np.ndarray, epsilons: list[float | None], x_adv: np.ndarray) -> list[np.ndarray]:
    """Attack ``rows`` of chunk ``number`` at each of ``epsilons`` in turn, seeded by the chunk (a minimal
    attack's starting points from its own generator), its predictions in its own cache; ``x_adv`` keeps
    the last epsilon's adversarial examples and ``run.adv_proba`` their probabilities. Returns the
    adversarial classes of the chunk's samples at each epsilon (a sample not in ``rows`` keeps its input)."""
    start, stop = run.chunks.bounds[run.chunks.numbers.index(number)]
    x, y = run.data.x, run.data.y
    classes = []
    with run.adapter.log.scoped(run.caches.pop(number, {})), seeded(chunk_seed(run.seed, number)):
        run.rng = np.random.default_rng(chunk_seed(run.seed, number))
        for eps in epsilons:
            if len(rows):
                x_adv[rows] = run._attack(eps, x[rows], y[rows])
            run.adv_proba[start:stop] = run.adapter.proba_of(x_adv[start:stop], np.arange(start, stop), within=len(x))  # NaN: rows of run.data
            classes.append(run.adv_proba[start:stop].argmax(axis=1))
    return classes


def attack_chunks(run: Any, stopper: Any, clean_ok: np.ndarray, x_adv: np.ndarray, adv_pred: np.ndarray, eps: float) -> np.ndarray | None:
    """Attack ``run``'s chunks at ``eps`` in order (a ``run._Run``), filling ``x_adv``, ``adv_pred`` and
    ``run.adv_proba``; where the check may stop early, only the samples it gets right clean are attacked
    and ``stopper`` looks at each chunk's end. Returns the samples looked at when it stopped (``None``:
    all of them)."""
    y = run.data.y
    looking = run.spec.kind == "floor" and stopper.mode != "off"
    robust = 0
    before = run.adapter.log.snapshot()
    for number, (start, stop) in zip(run.chunks.numbers, run.chunks.bounds):
        rows = np.arange(start, stop)
        rows = rows[clean_ok[rows]] if looking else rows
        (adv_pred[start:stop],) = _chunk(run, number, rows, [eps], x_adv)
        robust += int((adv_pred[rows] == y[rows]).sum())
        known = int((~clean_ok[stop:]).sum()) if stopper.mode == "exact" else 0  # misclassified: cannot be robust
        if looking and stopper.update(robust, stop, known_failures=known):
            spent = run.adapter.log.since(before)
            run.attack_evaluations = spent["evaluations"] + spent["gradient_rows"]
            return np.arange(stop)
    return None


def sweep_chunks(run: Any, epsilons: list[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """A sweep's (or, with ``[None]``, a minimal attack's) attacks of ``run``'s chunks: each chunk at every
    epsilon in turn. Returns the adversarial examples of the last epsilon and the adversarial classes at
    each, ``(epsilons, samples)``."""
    x_adv = run.data.x.copy()
    classes = np.zeros((len(epsilons), len(x_adv)), np.int64)
    for number, (start, stop) in zip(run.chunks.numbers, run.chunks.bounds):
        classes[:, start:stop] = _chunk(run, number, np.arange(start, stop), epsilons, x_adv)
    return x_adv, classes
