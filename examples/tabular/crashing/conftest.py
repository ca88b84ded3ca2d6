"""The crashing variant of the tabular example: ``pytest --mlguard examples/tabular/crashing``.

The record suite's table and random forest (``wine_model.py``), scored through hand-written per-request
code, as a service often scores one: it takes the records as a list of dicts and reads the magnesium
reading as a whole number of mg/l (``int(record["magnesium"])``), so a record whose magnesium is missing
(``None``) raises ``TypeError``. ``tabular[missing]`` fails, naming the column and the line that raised;
every other check passes (the service of ``../conftest.py`` is not declared here, so the inputs checks
do not run).
"""

from __future__ import annotations

import pytest
from wine_model import CLASS_NAMES, FEATURES, held_out_table, train_record_model

from pytest_mlguard import RecordModel


@pytest.fixture(scope="session")
def mlguard_data():
    return held_out_table()


@pytest.fixture(scope="session")
def mlguard_model():
    import pandas as pd

    forest = train_record_model()

    def score_records(records):
        rows = [{**record, "magnesium": int(record["magnesium"])} for record in records]  # no int of a missing value
        return forest.predict_proba(pd.DataFrame(rows, columns=[*FEATURES, "colour"]))

    return RecordModel(score_records, n_classes=3, class_names=CLASS_NAMES, input="records", name="wine-crashing")
