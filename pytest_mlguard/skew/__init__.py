"""Training/serving skew: the offline feature code (the batch code that built the training table) and
the online one (the service's per-request code) must compute the same features, and the model must
predict the same class from them (docs/tabular-skew.md).

A project declares both paths in a fixture ``mlguard_features`` returning a :class:`FeaturePaths`; the
``skew`` family's checks ``skew[features]`` and ``skew[predictions]`` then search raw records with
Hypothesis for one the paths disagree on. :func:`find_skew` and :func:`assert_no_skew` run the same
search in a test of one's own, or without pytest.

Example::

    @pytest.fixture(scope="session")
    def mlguard_features(scaler):
        return FeaturePaths(offline=build_training_table, online=request_features,
                            examples=logged_records, tolerance={"proline": 1e-6})

Importing this package imports the standard library only; the search is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports
from ._paths import FeaturePaths

if TYPE_CHECKING:
    from ._search import SkewFinding, assert_no_skew, find_skew

__all__ = ["FeaturePaths", "SkewFinding", "assert_no_skew", "find_skew"]

__getattr__, __dir__ = _lazy_exports(
    __name__, {"SkewFinding": "pytest_mlguard.skew._search", "assert_no_skew": "pytest_mlguard.skew._search", "find_skew": "pytest_mlguard.skew._search"}
)
