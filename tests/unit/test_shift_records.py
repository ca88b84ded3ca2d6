"""Logged records for a model of records: ``mlguard_production`` returns a list of dicts, a JSON-lines
file or a folder of image files; the records are encoded through the RecordModel's schema, missing
fields and values outside the schema are counted, and the missing-rate change is a drift test."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pytest_mlguard import RecordModel, TableData, check_model
from pytest_mlguard.contract import CallableModel
from pytest_mlguard.errors import ContractError
from pytest_mlguard.production._shift.sample import production_sample


def _table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    amount = rng.uniform(0, 100, n)
    city = rng.choice(["Paris", "Lyon", "Nice"], n, p=[0.6, 0.3, 0.1]).astype(object)
    return TableData({"amount": amount, "city": city}, (amount > 50).astype(int), name="toy")


def _model():
    def predict(frame):
        high = frame["amount"].to_numpy(dtype=float, na_value=np.nan) > 50
        return np.eye(2)[high.astype(int)]

    return RecordModel(predict, n_classes=2, name="threshold")


def _records(n=200, seed=1, missing=0.0, new_city=0.0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        record = {"amount": float(rng.uniform(0, 100)), "city": str(rng.choice(["Paris", "Lyon", "Nice"], p=[0.6, 0.3, 0.1]))}
        if rng.uniform() < missing:
            del record["amount"]
        if rng.uniform() < new_city:
            record["city"] = "Berlin"
        out.append(record)
    return out


def test_records_are_encoded_through_the_schema_and_what_it_cannot_hold_is_counted():
    model = _model().bind(_table())
    records = [{"amount": 10.0, "city": "Paris"}, {"city": "Lyon", "channel": "web"}, {"amount": "12,5", "city": "Berlin"}] * 5
    sample = production_sample(records, model)
    assert sample.columns == ("amount", "city")
    codes = dict(zip(model.schema.column("city").categories, range(3)))
    assert sample.x[0].tolist() == [10.0, codes["Paris"]] and sample.x[1, 1] == codes["Lyon"]
    assert np.isnan(sample.x[1, 0]) and np.isnan(sample.x[2]).all()  # missing, and outside the schema: the model gets them as missing
    fields = sample.records["columns"]
    assert fields["amount"]["missing"] == 5 and fields["amount"]["outside"] == 5 and fields["amount"]["examples"] == ["12,5"]
    assert fields["city"]["missing"] == 0 and fields["city"]["outside"] == 5 and fields["city"]["examples"] == ["Berlin"]
    assert sample.records["extra_fields"] == {"channel": 5} and sample.records["records"] == 15


def test_a_missing_rate_that_grows_fails_the_inputs_check_and_names_the_column():
    data, settings = _table(), {"shift.checks": ["inputs"]}
    [same] = check_model(_model(), data, "shift[inputs]", settings=settings, extras={"production": _records()})
    assert same.passed, same.message
    [grown] = check_model(_model(), data, "shift[inputs]", settings=settings, extras={"production": _records(missing=0.3)})
    assert not grown.passed
    assert "amount (missing) (missing-rate change" in grown.message and "missing 0.0% ->" in grown.message
    tests = {test["name"]: test for test in grown.details["tests"]}
    assert tests["amount (missing)"]["test"] == "fisher" and tests["amount (missing)"]["p_adjusted"] < 0.01
    assert 40 < grown.details["records"]["columns"]["amount"]["missing"] < 80  # about 30% of 200


def test_values_outside_the_schema_are_counted_tested_and_named():
    [result] = check_model(_model(), _table(), "shift[inputs]", settings={"shift.checks": ["inputs"]}, extras={"production": _records(new_city=0.2)})
    assert not result.passed
    assert "city (outside the schema)" in result.message
    assert "values outside the schema: city" in result.message and "'Berlin'" in result.message
    assert "city (missing)" not in result.message  # outside is not missing, though the model gets both as missing


def test_a_json_lines_file_is_read_as_records(tmp_path):
    path = tmp_path / "today.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in _records(missing=0.3)) + "\n\n")
    model = _model().bind(_table())
    from_file, from_list = production_sample(path, model), production_sample(_records(missing=0.3), model)
    np.testing.assert_array_equal(from_file.x, from_list.x)
    assert production_sample(str(path), model).records == from_list.records


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('{"amount": 1, "city": "Paris"}\n{"amount": 2, "city": \n', r"file .*today.jsonl, line 2: Expected one JSON object per line but it is not JSON \(Expecting value"),
        ('{"amount": 1, "city": "Paris"}\n[1, 2]\n', r"file .*today.jsonl, line 2: Expected one JSON object per line but it holds a list"),
    ],
)
def test_a_malformed_line_is_an_error_naming_the_fixture_the_file_and_the_line(tmp_path, lines, message):
    path = tmp_path / "today.jsonl"
    path.write_text(lines)
    with pytest.raises(ContractError, match=message) as raised:
        production_sample(path, _model().bind(_table()))
    assert str(raised.value).startswith("mlguard_production: ")


def test_a_path_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(ContractError, match=r"mlguard_production: Expected .* but got the path '.*absent.jsonl', which does not exist"):
        production_sample(tmp_path / "absent.jsonl", _model().bind(_table()))


def test_a_folder_of_image_files_is_decoded(tmp_path):
    for i in range(12):
        Image.fromarray(np.full((6, 6), 20 * i, dtype=np.uint8)).save(tmp_path / f"{i:02d}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    model = CallableModel(lambda x: np.tile([0.7, 0.3], (len(x), 1)), input_shape=(1, 4, 4), n_classes=2, name="m")
    sample = production_sample(tmp_path, model)
    assert sample.x.shape == (12, 1, 4, 4) and sample.files["formats"] == {"PNG": 12}
    assert sample.x[3].mean() == pytest.approx(60 / 255)


def test_a_categorical_column_is_tested_by_chi_squared_on_its_categories():
    rng = np.random.default_rng(4)
    records = [{"amount": float(a), "city": str(c)} for a, c in zip(rng.uniform(0, 100, 200), rng.choice(["Paris", "Lyon", "Nice"], 200, p=[0.3, 0.3, 0.4]))]
    [result] = check_model(_model(), _table(), "shift[inputs]", settings={"shift.checks": ["inputs"]}, extras={"production": records})
    tests = {test["name"]: test for test in result.details["tests"]}
    assert tests["city"]["test"] == "chi-squared" and tests["amount"]["test"] == "ks"
    assert not result.passed and tests["city"]["what"].startswith("'Nice': ") and "-> 4" in tests["city"]["what"]  # 10% -> 40%, drawn


def test_a_categorical_column_is_drawn_as_bars_of_its_category_labels():
    rng = np.random.default_rng(5)
    cities = rng.choice(["Paris", "Lyon", "Nice"], 200, p=[0.3, 0.3, 0.4])
    records = [{"amount": float(a), "city": str(c)} for a, c in zip(rng.uniform(0, 100, 200), cities)]
    table = _table()
    [result] = check_model(_model(), table, "shift[inputs]", settings={"shift.checks": ["inputs"]}, extras={"production": records})
    drawn = result.details["histograms"]["city"]
    production = [float(np.mean(cities == city)) for city in ("Paris", "Lyon", "Nice")]
    reference = [float(np.mean(table.columns["city"] == city)) for city in ("Paris", "Lyon", "Nice")]
    assert drawn["labels"] == ["Paris", "Lyon", "Nice"] and "edges" not in drawn
    assert drawn["production"] == pytest.approx(production, abs=1e-6) and drawn["reference"] == pytest.approx(reference, abs=1e-6)
    from pytest_mlguard.production._shift.figures import _panels, histogram_figure

    figure = histogram_figure(_panels([result.to_dict()]))
    axes = {ax.get_title().split(" (")[0]: ax for ax in figure.axes}
    city = axes["city"]
    assert [label.get_text() for label in city.get_xticklabels()] == ["Paris", "Lyon", "Nice"]
    heights = [bar.get_height() for bar in city.patches]
    assert heights == pytest.approx(reference + production, abs=1e-6)  # the evaluation data's bars, then production's
    assert not axes["amount"].patches or all(type(patch).__name__ == "StepPatch" for patch in axes["amount"].patches)  # a number: steps
