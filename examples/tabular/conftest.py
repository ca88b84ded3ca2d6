"""The tabular example: a classifier of scikit-learn's wine table behind a record -> prediction service.

* ``mlguard_model``: the fitted scikit-learn pipeline (standardisation and logistic regression);
* ``mlguard_data``: the held-out split;
* ``mlguard_pipeline``: the service, which takes a JSON record and validates it, declaring
  :class:`InvalidRecord` as its clean rejection, with the held-out records as valid examples
  (the inputs checks infer the fields, their types and ranges from them).

* ``mlguard_production``: logged requests, unlabelled, as a table of columns by feature name, which
  the ``shift`` checks compare with the held-out split (``--mlguard-profile production``;
  ``WINE_PRODUCTION=shifted`` picks the day ``proline`` came in g/l, see wine_production.py and docs/drift.md).

``pytest --mlguard examples/tabular`` fuzzes the service with missing fields, ``None``, NaN, wrong
types and out-of-range values, and runs the logged bad records of ``bad-records/``.
``pytest --mlguard examples/tabular/broken`` runs the broken variant, which passes NaN through.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pytest_mlguard import EvalData, Pipeline, SklearnModel

sys.path.insert(0, str(Path(__file__).parent))

from wine_model import CLASS_NAMES, as_records, load_wine_split, train_model
from wine_production import logged_table
from wine_service import InvalidRecord, WineService

collect_ignore = ["broken", "skewed", "crashing"]  # the broken variants run only when named: pytest --mlguard examples/tabular/broken


@pytest.fixture(scope="session")
def wine_estimator():
    return train_model()


@pytest.fixture(scope="session")
def mlguard_model(wine_estimator):
    # the raw features' range (proline, in mg/l, reaches 1680): not the (0, 1) of images
    return SklearnModel(wine_estimator, class_names=CLASS_NAMES, name="wine", value_range=(0.0, 2000.0))


@pytest.fixture(scope="session")
def mlguard_data():
    x, y = load_wine_split("test")
    return EvalData(x, y, name="wine-test")


@pytest.fixture(scope="session")
def valid_records():
    x, _ = load_wine_split("test")
    return as_records(x)


@pytest.fixture(scope="session")
def mlguard_pipeline(wine_estimator, valid_records):
    service = WineService(wine_estimator)
    return Pipeline(service.predict, rejects=InvalidRecord, input="record", examples=valid_records, name="wine-service")


@pytest.fixture(scope="session")
def mlguard_production():
    """Yesterday's logged requests without labels: the in-distribution day, or the shifted one with
    ``WINE_PRODUCTION=shifted``."""
    columns, _ = logged_table(os.environ.get("WINE_PRODUCTION", "in-distribution"))
    return columns


@pytest.fixture(scope="session")
def mlguard_features(wine_estimator, valid_records):
    """The offline and online feature paths (wine_features.py), which the ``skew`` checks compare on
    raw records drawn from the held-out records' ranges; the model of ``skew[predictions]`` is the
    classifier after the standardisation step."""
    from wine_features import feature_paths

    return feature_paths(wine_estimator, valid_records)
