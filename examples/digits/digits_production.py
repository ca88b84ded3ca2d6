"""A logged production sample for the digits example, written deterministically (docs/drift.md).

``logged_sample("in-distribution")``: 300 uploads drawn (with replacement, seeded) from the test split,
as production would send digits like those the model was evaluated on. ``logged_sample("shifted")``:
the same draw as a new scanner would send it, brighter (the background lifted by 0.3) and rotated
by 20 degrees. Unlabelled: the labels are returned apart, for the benchmark that measures how close
the estimated accuracy is to the truth.

``logged_days(last)``: a log of three days with the time each upload was logged, 300 uploads a day,
the first two days in distribution and the last one of kind ``last``; ``shift.window = "1d"`` compares
its last day (docs/drift.md).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from model import load_digits_split

Kind = Literal["in-distribution", "shifted"]
KINDS: tuple[str, ...] = ("in-distribution", "shifted")
SEED = 2026  # a stream of its own: the example's other checks draw from the run's seed


def shift_images(x: np.ndarray, brightness: float, degrees: float) -> np.ndarray:
    """``x`` (N, 1, 8, 8) in [0, 1], rotated by ``degrees`` (bilinear, about the centre) and lifted by
    ``brightness`` (clipped to [0, 1])."""
    from scipy.ndimage import rotate

    turned = rotate(x, degrees, axes=(2, 3), reshape=False, order=1, mode="constant", cval=0.0) if degrees else x
    return np.clip(turned + brightness, 0.0, 1.0).astype(np.float32)


def logged_sample(kind: Kind = "in-distribution", n: int = 300, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: ``n`` logged production inputs of ``kind`` (model inputs (n, 1, 8, 8) in [0, 1]), and
    their labels, which production does not have."""
    if kind not in KINDS:
        raise ValueError(f"expected a production sample kind in {KINDS}, got {kind!r}")
    x, y = load_digits_split("test")
    index = np.random.default_rng(seed).integers(0, len(x), size=n)
    drawn = x[index]
    return (shift_images(drawn, 0.3, 20.0) if kind == "shifted" else drawn), y[index]


#: the end of the log of :func:`logged_days` (UTC), and its length in days
LOG_END = np.datetime64("2026-12-03T00:00:00", "s")
LOG_DAYS = 3


def logged_days(last: Kind = "shifted", per_day: int = 300, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, timestamps, y)``: :data:`LOG_DAYS` days of logged inputs, ``per_day`` a day at even times up to
    :data:`LOG_END` (``datetime64`` timestamps), each day drawn with its own seed; the last day of kind ``last``."""
    days = [logged_sample("in-distribution", per_day, seed + day) for day in range(LOG_DAYS - 1)]
    days.append(logged_sample(last, per_day, seed + LOG_DAYS - 1))
    seconds = (np.arange(LOG_DAYS * per_day) + 1) * (86400 // per_day) - LOG_DAYS * 86400
    x, y = np.concatenate([day[0] for day in days]), np.concatenate([day[1] for day in days])
    return x, LOG_END + seconds.astype("timedelta64[s]"), y
