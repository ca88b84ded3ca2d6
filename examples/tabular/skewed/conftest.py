"""The skewed variant of the tabular example: ``pytest --mlguard examples/tabular/skewed``.

The same model and data (the fixtures of ``examples/tabular/conftest.py``); only the online feature
path differs: it standardises with the variance instead of the standard deviation
(``wine_features.online_features_variance``). ``skew[features]`` and ``skew[predictions]`` fail, naming
the shrunk raw record and the JSON file it is saved in; accuracy and calibration pass (the service is
not declared here, so the inputs checks do not run).
"""

from __future__ import annotations

import pytest
from wine_features import feature_paths, online_features_variance

from pytest_mlguard import RecordModel
from wine_model import CLASS_NAMES


@pytest.fixture(scope="session")
def mlguard_model(wine_estimator):
    # the suite is the conftest.py that declares mlguard_model: the same model, under its own name
    return RecordModel(wine_estimator, class_names=CLASS_NAMES, name="wine-skewed", input="array")


@pytest.fixture(scope="session")
def mlguard_features(wine_estimator, valid_records):
    return feature_paths(wine_estimator, valid_records, online=online_features_variance, name="wine-features-variance")
