"""The record suite of the tabular example: the wine classifier as a model of records.

* ``mlguard_model``: a :class:`~pytest_mlguard.RecordModel` over a scikit-learn pipeline (a
  ``ColumnTransformer`` that imputes missing measurements and one-hot encodes the colour, then a random
  forest) that takes a pandas DataFrame;
* ``mlguard_data``: the held-out split as a :class:`~pytest_mlguard.TableData`: the 13 measurements and
  the cellar's ``colour`` label derived from the colour intensity (pale, ruby, deep);
* ``mlguard_production``: the logged requests of ``wine_production.py`` as records with the same derived
  colour, encoded through the model's schema (``WINE_PRODUCTION=shifted``: proline in g/l, a colour
  the schema lacks, a field left out; ``WINE_PRODUCTION=sensor-fault``: four spectrophotometer readings at
  one reference value; docs/drift.md).

``pytest --mlguard examples/tabular`` runs this suite beside the service's (``../conftest.py``): the
``tabular`` checks (a column missing, perturbations at severities 1, 3 and 5, covariate shift, see
docs/tabular.md) with the floors of ``../pyproject.toml``; ``pytest --mlguard examples/tabular/records``
runs it alone.
"""

from __future__ import annotations

import os

import pytest
from wine_model import CLASS_NAMES, held_out_table, train_record_model
from wine_production import logged_records

from pytest_mlguard import RecordModel


@pytest.fixture(scope="session")
def mlguard_data():
    return held_out_table()


@pytest.fixture(scope="session")
def mlguard_model():
    return RecordModel(train_record_model(), class_names=CLASS_NAMES, name="wine-records")


@pytest.fixture(scope="session")
def mlguard_production():
    """The logged requests as records (``WINE_PRODUCTION=shifted``: the day proline came in g/l, some
    wines logged as ``"rosé"`` and some without ``magnesium``; ``WINE_PRODUCTION=sensor-fault``: the day
    the spectrophotometer was down)."""
    return logged_records(os.environ.get("WINE_PRODUCTION", "in-distribution"))
