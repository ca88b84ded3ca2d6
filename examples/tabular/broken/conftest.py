"""The broken variant of the tabular example: ``pytest --mlguard examples/tabular/broken``.

The same model and data (the fixtures of ``examples/tabular/conftest.py``), behind
:class:`LenientWineService`, which turns a missing field into NaN and returns NaN probabilities.
``inputs[missing-fields]`` fails, naming the shrunk record and where it is saved.
"""

from __future__ import annotations

import pytest
from wine_service import InvalidRecord, LenientWineService

from pytest_mlguard import Pipeline, RecordModel
from wine_model import CLASS_NAMES


@pytest.fixture(scope="session")
def mlguard_model(wine_estimator):
    return RecordModel(wine_estimator, class_names=CLASS_NAMES, name="wine-lenient", input="array")


@pytest.fixture(scope="session")
def mlguard_pipeline(wine_estimator, valid_records):
    service = LenientWineService(wine_estimator)
    return Pipeline(service.predict, rejects=InvalidRecord, input="record", examples=valid_records, name="wine-lenient")
