"""The looks of a fixed-epsilon attack check that is not chunked (a ``run._Run``): stopping early once the
verdict is decided (``verdict.early_stop``), and drawing more samples where the run's leave the floor
undecided (``verdict.more_samples``). A chunked check looks at its chunks' ends (:mod:`._chunks`)."""

from __future__ import annotations

from typing import Any

import numpy as np


def draw_more(run: Any, eps: float, robust: np.ndarray, clean: float) -> np.ndarray:
    """The robust outcomes of the samples, and of more of the data where they leave the floor
    undecided (:meth:`~pytest_mlguard.checks._evaluation.Evaluation.draw_more`): a drawn sample the
    model gets right is attacked, one it gets wrong counts as broken. Sets ``run.drawn`` then."""
    from .._verdicts.sequential import drawn_more

    full = run.evaluation.full_data

    def more(index: np.ndarray) -> np.ndarray:
        x, y = full.x[index], full.y[index]  # index: samples of mlguard_data
        ok = run.adapter.proba_of(x, np.arange(len(x)), index, what="probabilities").argmax(axis=1) == y
        out = np.zeros(len(index), dtype=bool)
        if ok.any():
            out[ok] = run.adapter.proba_of(run._attack(eps, x[ok], y[ok]), np.flatnonzero(ok), index[ok]).argmax(axis=1) == y[ok]
        return out

    outcomes, details, test = run.evaluation.draw_more(run.spec, robust, more, threshold=run.spec.threshold.resolve(clean=clean))
    run.more_samples = details  # in the report even when nothing was drawn: the error control counts the look
    if test is not None:
        run.drawn = {**drawn_more(outcomes, details, test, len(robust)), "n": len(outcomes)}
        run.interval, run.interval_method = run.drawn["interval"], run.drawn["interval_method"]
    return outcomes


def attack_looks(run: Any, stopper: Any, clean_ok: np.ndarray, x_adv: np.ndarray, adv_pred: np.ndarray, eps: float) -> np.ndarray | None:
    """Attack the samples look by look until ``stopper`` says the verdict is decided; return the
    indices looked at (``None``: all of them). The unchunked counterpart of :func:`._chunks.attack_chunks`.

    ``sequential`` looks at the samples in the evaluation's random order (its error guarantee
    needs that), counting misclassified samples as broken without an attack; ``exact`` attacks
    the correctly classified samples first, since the misclassified ones are known to fail.
    """
    from .._verdicts.sequential import look_size

    x, y = run.data.x, run.data.y
    n = len(y)
    exact = stopper.mode == "exact"
    order = np.concatenate([np.flatnonzero(clean_ok), np.flatnonzero(~clean_ok)]) if exact else np.arange(n)
    size = min(run.spec.param("batch_size"), look_size(n))
    robust, misclassified = 0, int((~clean_ok).sum())
    before = run.adapter.log.snapshot()
    for start in range(0, n, size):
        looked = order[: start + size]
        index = order[start : start + size]
        index = index[clean_ok[index]]
        if len(index):
            x_adv[index] = run._attack(eps, x[index], y[index])
            adv_pred[index] = run.adapter.proba_of(x_adv[index], index, within=n).argmax(axis=1)
            robust += int((adv_pred[index] == y[index]).sum())
        known = misclassified - int((~clean_ok[looked]).sum()) if exact else 0
        if stopper.update(robust, len(looked), known_failures=known):
            spent = run.adapter.log.since(before)
            run.attack_evaluations = spent["evaluations"] + spent["gradient_rows"]  # the attacks alone
            return np.sort(looked)
    return None
