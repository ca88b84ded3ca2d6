"""The wine model's feature code, twice: the offline path that built the training table, and the
online path the service runs on each request.

The model (wine_model.py) standardises the 13 measurements with the training split's mean and
standard deviation, then classifies them. Offline, a batch job standardises a whole table of raw
records at once with pandas; online, the service standardises one JSON record at a time with the
statistics the training job exported (:func:`export_statistics`), in plain Python. The two must
compute the same features: ``skew[features]`` and ``skew[predictions]`` check that they do.

:func:`online_features_variance` is the skewed variant (examples/tabular/skewed): it divides by the
exported variance instead of the standard deviation, a slip that passes every test of the service alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wine_model import FEATURES


def export_statistics(scaler: Any) -> dict[str, dict[str, float]]:
    """What the training job ships beside the weights: each measurement's mean, standard deviation and
    variance on the training split (a fitted ``StandardScaler``'s ``mean_``, ``scale_`` and ``var_``)."""
    return {
        name: {"mean": float(mean), "std": float(scale), "variance": float(variance)}
        for name, mean, scale, variance in zip(FEATURES, scaler.mean_, scaler.scale_, scaler.var_)
    }


def offline_features(records: list[Mapping[str, Any]], statistics: Mapping[str, Mapping[str, float]]) -> Any:
    """The batch path: a table of raw records -> the standardised training table (a DataFrame)."""
    import pandas as pd

    table = pd.DataFrame.from_records(list(records), columns=list(FEATURES)).astype("float64")
    means = pd.Series({name: statistics[name]["mean"] for name in FEATURES})
    stds = pd.Series({name: statistics[name]["std"] for name in FEATURES})
    return (table - means) / stds


def online_features(record: Mapping[str, Any], statistics: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The service's path: one JSON record -> its standardised features, in plain Python."""
    return {name: (float(record[name]) - statistics[name]["mean"]) / statistics[name]["std"] for name in FEATURES}


def online_features_variance(record: Mapping[str, Any], statistics: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The skewed online path: standardises with the variance where the training table used the
    standard deviation."""
    return {name: (float(record[name]) - statistics[name]["mean"]) / statistics[name]["variance"] for name in FEATURES}


def feature_paths(estimator: Any, examples: list[dict[str, float]], online: Any = online_features, name: str = "wine-features") -> Any:
    """The paths ``mlguard_features`` declares: the offline and ``online`` path over the statistics of the
    fitted pipeline ``estimator``, the raw ``examples`` to search from, and its classifier (after the
    standardisation step) for ``skew[predictions]``."""
    from functools import partial

    from pytest_mlguard.skew import FeaturePaths

    statistics = export_statistics(estimator[0])
    return FeaturePaths(
        offline=partial(offline_features, statistics=statistics),
        online=partial(online, statistics=statistics),
        examples=examples,
        model=estimator[-1],
        name=name,
    )
