"""Every table of n pairs (both, only the first, only the second, neither) and its multinomial
probability, for the brute-force checks of the sample sizes that decide paired verdicts."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence


def pair_tables(cells: Sequence[float], n: int, smallest: float = 1e-12) -> Iterator[tuple[int, int, int, int, float]]:
    """``(a, b, c, d, chance)`` of every table of ``n`` pairs drawn with the probabilities ``cells``
    (in proportion), leaving out those less likely than ``smallest``."""
    p = [q / sum(cells) for q in cells]
    for a in range(n + 1):
        for b in range(n + 1 - a):
            for c in range(n + 1 - a - b):
                d = n - a - b - c
                chance = math.factorial(n) / (math.factorial(a) * math.factorial(b) * math.factorial(c) * math.factorial(d))
                chance *= math.prod(q**k for q, k in zip(p, (a, b, c, d)))
                if chance >= smallest:
                    yield a, b, c, d, chance
