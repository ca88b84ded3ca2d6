"""``shift[ood]``: the share of production inputs the model's own scores flag as out of distribution.

The score is the energy, ``-logsumexp(logits)`` (Liu et al. 2020), for a model whose output is logits,
and the negative top-class probability (Hendrycks and Gimpel 2017) for the others. The threshold is
fixed on the evaluation data: the score above which ``rate`` of them lie (5% by default). On production
the flagged share is then about ``rate`` where nothing changed, and the check's value, against a
ceiling, is that share, with its binomial interval.

Example:
    >>> flagged_share(np.arange(100.0), np.array([10.0, 99.5, 120.0]), rate=0.05)
    (0.6666666666666666, 94.05)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def ood_scores(model: Any, x: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, str]:
    """Each input's out-of-distribution score (higher: more unusual) and the score's name: the energy
    where ``model`` returns logits, else the negative top-class probability ``proba``."""
    if getattr(model, "output", None) == "logits":
        from scipy.special import logsumexp

        size = int(getattr(model, "batch_size", 256) or 256)
        logits = np.concatenate([np.asarray(model.raw_scores(x[i : i + size]), dtype=np.float64) for i in range(0, len(x), size)])
        return -logsumexp(logits, axis=1), "energy"
    return -np.asarray(proba, dtype=np.float64).max(axis=1), "negative max-probability"


def flagged_share(reference: np.ndarray, production: np.ndarray, rate: float) -> tuple[float, float]:
    """The share of ``production`` scores above the threshold that ``rate`` of the ``reference`` scores
    exceed, and that threshold."""
    threshold = float(np.quantile(np.asarray(reference, dtype=np.float64), 1.0 - rate))
    return float(np.mean(np.asarray(production) > threshold)), threshold
