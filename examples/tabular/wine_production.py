"""A logged production sample for the tabular example, written deterministically (docs/drift.md).

``logged_table("in-distribution")``: 200 requests drawn (with replacement, seeded) from the held-out
split, as the columns of a table by feature name. ``logged_table("shifted")``: the same draw after an
upstream change of unit: ``proline`` logged in g/l instead of mg/l. Unlabelled: the labels are
returned apart.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from wine_model import FEATURES, load_wine_split

Kind = Literal["in-distribution", "shifted"]
KINDS: tuple[str, ...] = ("in-distribution", "shifted")
SEED = 2026


def logged_table(kind: Kind = "in-distribution", n: int = 200, seed: int = SEED) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``(columns, y)``: ``n`` logged requests of ``kind`` as ``{feature: values}`` in the model's input
    order, and their labels, which production does not have."""
    if kind not in KINDS:
        raise ValueError(f"expected a production sample kind in {KINDS}, got {kind!r}")
    x, y = load_wine_split("test")
    index = np.random.default_rng(seed).integers(0, len(x), size=n)
    columns = {name: x[index, i].copy() for i, name in enumerate(FEATURES)}
    if kind == "shifted":
        columns["proline"] = columns["proline"] / 1000.0  # mg/l -> g/l
    return columns, y[index]
