"""The record contract: TableData from a DataFrame, records, a dict or an array; declared and inferred
schemas; RecordModel over a scikit-learn pipeline, a torch module and a callable; the accuracy and
calibration families on a table."""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pandas as pd
import pytest

from pytest_mlguard import InvalidArgument, RecordModel, SklearnModel, TableData, check_model
from pytest_mlguard.contract import EvalData, TableSchema, as_data, check_declaration


def people(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50.0, 10.0, n),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n, p=[0.5, 0.3, 0.2]),
            "vip": rng.random(n) > 0.5,
        }
    )
    frame.loc[3, "income"] = np.nan
    y = ((frame.age > 50) ^ (frame.city == "Paris")).astype(int).to_numpy()
    return frame, y


def pipeline(frame: pd.DataFrame, y: np.ndarray):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "vip"]),
        ]
    )
    return make_pipeline(columns, LogisticRegression()).fit(frame, y)


def test_the_table_forms_give_one_schema_and_encoding():
    frame, y = people()
    from_frame = TableData(frame, y)
    from_records = TableData(frame.to_dict("records"), y)
    from_array = TableData(frame.to_numpy(), y, columns=list(frame.columns))
    from_dict = TableData({name: frame[name].tolist() for name in frame.columns}, y)
    for other in (from_records, from_array, from_dict):
        assert other.schema == from_frame.schema
        np.testing.assert_array_equal(other.x, from_frame.x)
    kinds = {c.name: (c.kind, c.nullable) for c in from_frame.schema.columns}
    assert kinds == {"age": ("numeric", False), "income": ("numeric", True), "city": ("categorical", False), "vip": ("boolean", False)}
    city = from_frame.schema.column("city")
    assert city.categories == ("Paris", "Lyon", "Nice")  # most frequent first
    assert np.isnan(from_frame.x[3, 1]) and from_frame.x[0, 2] == city.categories.index(frame.city[0])
    assert from_frame.schema.column("age").integer and (from_frame.schema.column("age").low, from_frame.schema.column("age").high) == (
        float(frame.age.min()),
        float(frame.age.max()),
    )


def test_a_pandas_categorical_keeps_its_categories_and_the_label_column_is_taken_out():
    frame = pd.DataFrame({"size": pd.Categorical(["S", "L", "S"], categories=["S", "M", "L"]), "target": [0, 1, 0]})
    data = TableData(frame, label="target")
    assert data.names == ("size",) and data.schema.column("size").categories == ("S", "M", "L")
    assert data.x[:, 0].tolist() == [0.0, 2.0, 0.0] and data.y.tolist() == [0, 1, 0]


def declared_forms():
    import pydantic

    class PersonModel(pydantic.BaseModel):
        age: int = pydantic.Field(ge=0, le=120)
        income: Optional[float]  # noqa: UP045 - the annotation under test
        city: Literal["Paris", "Lyon", "Nice", "Lille"]
        vip: bool

    as_dict = {"age": (0, 120), "income": {"type": float, "nullable": True}, "city": ["Paris", "Lyon", "Nice", "Lille"], "vip": bool}
    return [as_dict, PersonModel]


@pytest.mark.parametrize("form", [0, 1], ids=["dict", "pydantic"])
def test_a_declared_schema_sets_kinds_ranges_categories_and_nullable(form):
    frame, y = people()
    declared = declared_forms()[form]
    data = TableData(frame, y, schema=declared)
    age, income, city = data.schema.column("age"), data.schema.column("income"), data.schema.column("city")
    assert (age.low, age.high, age.nullable) == (0.0, 120.0, False)
    assert income.nullable and income.low == pytest.approx(float(frame.income.min()))  # left open: from the data
    assert city.categories == ("Paris", "Lyon", "Nice", "Lille")


def test_a_dtype_mapping_declares_kinds_and_the_data_give_the_rest():
    frame, y = people()
    data = TableData(frame, y, schema=frame.dtypes)
    assert [c.kind for c in data.schema.columns] == ["numeric", "numeric", "categorical", "boolean"]
    assert data.schema.column("city").categories == ("Paris", "Lyon", "Nice")


def test_a_sklearn_pipeline_over_a_dataframe_runs_accuracy_and_calibration():
    frame, y = people(400)
    estimator = pipeline(frame, y)
    data = TableData(frame, y, name="people")
    expected = float((estimator.predict(frame) == y).mean())
    results = check_model(estimator, data, ["accuracy", "calibration[ece]"], settings={"accuracy.floor": 0.1})
    assert results[0].value == pytest.approx(expected)
    assert 0.0 <= results[1].value <= 1.0
    model, _ = check_declaration(estimator, data)
    assert isinstance(model, RecordModel) and model.input_shape == (4,)
    np.testing.assert_allclose(model.predict_table(data.columns), estimator.predict_proba(frame), atol=1e-5)


def test_a_pair_of_dataframe_and_labels_is_table_data():
    frame, y = people()
    assert isinstance(as_data((frame, y)), TableData) and isinstance(as_data((frame.to_dict("records"), y)), TableData)


def test_the_model_sees_missing_values_and_absent_columns_as_given():
    seen = []

    def model(records):
        seen.append(records)
        return np.full((len(records), 2), 0.5)

    adapter = RecordModel(model, schema={"age": float, "city": ["a", "b"]}, n_classes=2, input="records")
    adapter.predict_table({"age": np.array([np.nan, 2.0]), "city": np.array([None, "zzz"], dtype=object)})
    assert seen[-1] == [{"age": None, "city": None}, {"age": 2.0, "city": "zzz"}]
    adapter.predict_table({"city": np.array(["a"], dtype=object)})
    assert seen[-1] == [{"city": "a"}]


def test_a_torch_module_over_the_preprocessed_features():
    import torch

    frame, y = people()
    net = torch.nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
        net.bias.zero_()

    def preprocess(table):
        return np.stack([(table["age"].to_numpy(float) - 50.0) / 10.0, table["vip"].to_numpy(float)], axis=1)

    model = RecordModel(net, preprocess=preprocess, n_classes=2, output="logits", name="net")
    adapted, data = check_declaration(model, TableData(frame, y))
    predicted = adapted.predict_proba(data.x).argmax(axis=1)
    np.testing.assert_array_equal(predicted, (frame.age.to_numpy() < 50).astype(int))


def test_a_declared_model_schema_re_encodes_the_data():
    frame, y = people()
    model = RecordModel(lambda t: np.full((len(t), 2), 0.5), schema={"city": ["Lille", "Nice", "Lyon", "Paris"], "age": int}, n_classes=2)
    adapted, data = check_declaration(model, TableData(frame, y))
    assert data.names == ("city", "age") and adapted.schema is not None
    assert data.x[0, 0] == ["Lille", "Nice", "Lyon", "Paris"].index(frame.city[0])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: TableData(np.zeros((3, 2)), [0, 1, 0]), "Expected a 2-D array with one name per column in columns=[...]"),
        (lambda: TableData("table.csv", [0]), "Expected a pandas DataFrame, a list of dicts"),
        (lambda: TableData([{"a": 1}], None), "Expected labels: y=[...] or label='<column>'"),
        (lambda: TableData([{"a": 1}], label="b"), "Expected label= to name a column of the table, one of ['a'], but got 'b'"),
        (lambda: TableData([{"a": 1}, {"a": 2}], [0]), "Expected y of shape (2,), one label per row"),
        (lambda: TableData([{"a": 1}], ["yes"]), "Expected integer class labels 0..K-1 but got labels of dtype <U3"),
        (lambda: TableData([{"a": "x"}], [0], schema={"a": ["y", "z"]}), "Expected one of its categories ['y', 'z'] in column 'a' of mlguard_data but row 0 holds 'x'"),
        (lambda: TableData([{"a": "x"}], [0], schema={"a": float}), "Expected numbers in column 'a' of mlguard_data but row 0 holds 'x'"),
        (lambda: TableData([{"a": 1}], [0], schema={"a": float, "b": str}), "Expected the table to hold every declared column but columns ['b'] are not in it"),
        (lambda: RecordModel(object(), n_classes=2), "Expected an estimator with predict_proba, a torch module, or a callable"),
        (lambda: RecordModel(len, n_classes=2, input="csv"), "but got input='csv'"),
        (lambda: RecordModel(__import__("torch").nn.Linear(2, 2), n_classes=2), "Expected preprocess=<function table -> feature array>"),
        (lambda: RecordModel(len, n_classes=2).predict_table({"a": np.zeros(1)}), "has no schema: give schema=... or pair it with a TableData"),
        (
            lambda: check_declaration(RecordModel(len, n_classes=2), EvalData(np.zeros((2, 3)), [0, 1])),
            "mlguard_model and mlguard_data: Expected mlguard_data to be a TableData (a table with named columns) for the RecordModel",
        ),
        (
            lambda: check_declaration(SklearnModel(pipeline(*people())), TableData(*people())),
            "Expected a RecordModel (or a bare estimator, torch module or callable, which become one) for the TableData",
        ),
    ],
)
def test_invalid_table_arguments(make, message):
    with pytest.raises(InvalidArgument) as info:
        make()
    assert message in str(info.value)


def test_the_evaluation_subset_keeps_the_table():
    from pytest_mlguard.checks._evaluation import Evaluation
    from pytest_mlguard.config import resolve

    frame, y = people()
    model, data = check_declaration(pipeline(frame, y), TableData(frame, y))
    evaluation = Evaluation(model, data, resolve(cli={"samples": 50}))
    assert isinstance(evaluation.data, TableData) and evaluation.data.n == 50
    index = evaluation.data_index
    np.testing.assert_array_equal(evaluation.data.columns["city"], frame.city.to_numpy()[index])
    assert isinstance(data.schema, TableSchema)


def test_the_cache_fingerprints_a_record_model_over_an_estimator_but_not_a_black_box():
    from pytest_mlguard._cache.fingerprint import Uncacheable, model_print

    frame, y = people()
    data = TableData(frame, y)
    first = check_declaration(pipeline(frame, y), data)[0]
    again = check_declaration(pipeline(frame, y), data)[0]
    other = check_declaration(pipeline(frame, 1 - y), data)[0]
    assert model_print(first) == model_print(again) != model_print(other)
    with pytest.raises(Uncacheable, match="black box"):
        model_print(check_declaration(RecordModel(lambda t: np.full((len(t), 2), 0.5), n_classes=2), data)[0])


def test_a_dataframe_model_without_pandas_installed_is_named_where_it_is_declared(monkeypatch):
    # a user who installed the examples extra before pandas was in it met a ModuleNotFoundError inside each check
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)  # `import pandas` now raises ImportError
    with pytest.raises(InvalidArgument, match=r"RecordModel 'wine' takes the table as a pandas DataFrame .* pandas is not installed"):
        RecordModel(lambda table: np.ones((len(table), 2)) / 2, n_classes=2, name="wine")
    RecordModel(lambda records: np.ones((len(records), 2)) / 2, n_classes=2, input="records", name="wine")  # no pandas needed
