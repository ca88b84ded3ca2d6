"""Training/serving skew (pytest_mlguard.skew): the search for a raw record on which the offline and
online feature paths disagree, its comparison of features, and the skew family's checks without pytest."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import zoo

from pytest_mlguard import CallableModel, EvalData, check_model
from pytest_mlguard.errors import InvalidArgument
from pytest_mlguard.skew import FeaturePaths, assert_no_skew, find_skew
from pytest_mlguard.skew._compare import ABSENT, differences, offline_table, online_row, same_value

SCHEMA = {"x": (0.0, 10.0), "y": (0.0, 10.0)}


def doubled(records):
    return [[r["x"] * 2.0, r["y"]] for r in records]


def paths(online, **kwargs):
    return FeaturePaths(offline=doubled, online=online, schema=SCHEMA, columns=("x2", "y"), **kwargs)


def test_paths_that_differ_are_found_and_the_record_shrunk():
    finding = find_skew(paths(lambda r: [r["x"] + 1.0, r["y"]]), max_examples=50)
    assert finding.record == {"x": 0.0, "y": 0.0}  # shrunk: the simplest record of the schema
    assert [d.column for d in finding.outcome.differences] == ["x2"]
    assert finding.disagreed >= 1 and finding.agreement < 1
    assert "x2: offline 0.0, online 1.0" in finding.message()


def test_paths_that_agree_pass_every_record_drawn():
    finding = find_skew(paths(lambda r: [r["x"] + r["x"], r["y"]]), max_examples=60)
    assert finding.record is None and finding.agreement == 1.0 and finding.tried >= 30


def test_a_difference_only_where_the_search_must_look_is_found():
    finding = find_skew(paths(lambda r: [r["x"] * 2.0, r["y"] if r["y"] < 7.5 else r["y"] + 0.5]), max_examples=200)
    assert finding.record is not None and finding.record["x"] == 0.0 and 7.5 <= finding.record["y"] <= 8  # shrunk toward simple values


def test_the_same_seed_searches_the_same_records():
    online = lambda r: [r["x"] * 2.0, round(r["y"], 1)]  # noqa: E731
    first, second = (find_skew(paths(online), max_examples=40, seed=7) for _ in range(2))
    assert (first.record, first.tried, first.disagreed) == (second.record, second.tried, second.disagreed)
    assert first.record is not None


def test_tolerance_is_per_column_and_relative_to_the_offline_value():
    online = lambda r: [r["x"] * 2.0 + 1e-7, r["y"] + 1e-7]  # noqa: E731
    assert find_skew(paths(online, tolerance={"x2": 1e-6, "y": 1e-6}, relative=0.0), max_examples=30).record is None
    found = find_skew(paths(online, tolerance={"x2": 1e-6}, relative=0.0), max_examples=30)  # y: the default 1e-9
    assert [d.column for d in found.outcome.differences] == ["y"]
    assert find_skew(paths(online, tolerance=0.0, relative=1e-3), max_examples=30).record == {"x": 0.0, "y": 0.0}  # 1e-7 > 1e-3 * 0


def test_a_path_that_raises_where_the_other_does_not_disagrees():
    def online(record):
        if record["x"] > 5:
            raise KeyError("x")
        return [record["x"] * 2.0, record["y"]]

    finding = find_skew(paths(online), max_examples=100)
    assert finding.record == {"x": 5.000000000000001, "y": 0.0} or finding.record["x"] > 5
    assert finding.outcome.online_error == "KeyError: 'x'" and "the online path raised KeyError" in finding.message()


def test_predictions_fail_only_where_the_class_changes():
    model = lambda x: np.stack([x[:, 0] < 10, x[:, 0] >= 10], axis=1).astype(float)  # noqa: E731
    small = paths(lambda r: [r["x"] * 2.0 + 0.01, r["y"]])
    assert find_skew(small, max_examples=60).record is not None
    assert find_skew(small, "predictions", model=model, max_examples=60).record is None  # x2 within 0.01 of 10: no draw flips it
    flipping = find_skew(paths(lambda r: [r["x"] * 2.0 + 1.0, r["y"]]), "predictions", model=model, max_examples=200)
    assert flipping.record is not None and 4.5 <= flipping.record["x"] < 5 and flipping.outcome.classes == (0, 1)


def test_a_dataframe_and_dicts_compare_by_column_name():
    import pandas as pd

    declared = FeaturePaths(
        offline=lambda rs: pd.DataFrame({"b": [r["x"] for r in rs], "a": [str(r["c"]) for r in rs]}),
        online=lambda r: {"a": str(r["c"]), "b": r["x"]},  # another order, the same features
        schema={"x": (0.0, 1.0), "c": ["p", "q"]},
    )
    assert find_skew(declared, max_examples=30).record is None
    renamed = FeaturePaths(offline=declared.offline, online=lambda r: {"a": r["c"], "B": r["x"]}, schema=declared.schema)
    found = find_skew(renamed, max_examples=30)
    assert [(d.column, d.online) for d in found.outcome.differences] == [("b", ABSENT)]


def test_the_comparison_of_values():
    assert same_value(math.nan, math.nan, 0, 0) == (True, None)
    assert same_value(1.0, math.nan, 0, 0)[0] is False and same_value(math.inf, math.inf, 0, 0)[0]
    assert same_value("Paris", "Paris", 0, 0)[0] and not same_value("1", 1, 0, 0)[0]
    assert same_value(np.float32(0.1), 0.1, 1e-9, 1e-6) == (True, pytest.approx(1.49e-9, rel=0.01))
    columns, rows = offline_table(np.array([[1.0, 2.0]]), None)
    assert columns == ("feature_0", "feature_1") and online_row(np.array([[1.0, 2.0, 3.0]]), columns) == [1.0, 2.0, 3.0]
    assert [d.column for d in differences(columns, rows[0], [1.0, 2.0, 3.0], lambda c: 0.0, 0.0)] == ["feature_2"]


def test_the_wine_example_paths_agree_and_the_variance_variant_does_not(tmp_path):
    assert find_skew(zoo.wine_feature_paths(), max_examples=60).record is None
    with pytest.raises(AssertionError, match=r"(?s)different features on .* saved as .*skew\.json") as raised:
        assert_no_skew(zoo.variance_skewed_feature_paths(), max_examples=60, save=tmp_path / "skew.json")
    saved = json.loads((tmp_path / "skew.json").read_text())
    assert saved["record"] and saved["differences"] and saved["offline"].keys() == saved["online"].keys()
    assert "ash: offline" in str(raised.value)


def test_the_skew_checks_without_pytest(tmp_path):
    model, data = zoo.wine_model(), zoo.wine_data()
    settings = {"output": str(tmp_path), "skew.max_examples": 40}
    good = check_model(model, data, ["skew[features]", "skew[predictions]"], settings, extras={"features": zoo.wine_feature_paths()})
    assert [(r.id, r.passed, r.value) for r in good] == [("skew[features]", True, 1.0), ("skew[predictions]", True, 1.0)]
    bad = check_model(model, data, ["skew[features]", "skew[predictions]"], settings, extras={"features": zoo.variance_skewed_feature_paths()})
    assert [r.passed for r in bad] == [False, False]
    for result in bad:
        saved = Path(result.details["saved"])
        assert saved.is_file() and f"saved as {saved}" in result.message and json.loads(saved.read_text())["record"] == result.details["record"]
    assert bad[1].details["classes"]["offline"] != bad[1].details["classes"]["online"]


def test_without_feature_paths_the_checks_do_not_apply():
    from pytest_mlguard.errors import NotApplicable

    with pytest.raises(NotApplicable, match="define a fixture mlguard_features"):
        check_model(zoo.wine_model(), zoo.wine_data(), "skew[features]", extras={"features": None})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: FeaturePaths(offline=1, online=print, schema=SCHEMA), "Expected a callable for the offline feature path but got offline=1"),
        (lambda: FeaturePaths(offline=print, online=print), "Expected example raw records .* or a schema but got examples=None"),
        (lambda: FeaturePaths(offline=print, online=print, examples=[1]), "Expected a list of raw records .* but got examples=\\[1\\]"),
        (lambda: FeaturePaths(offline=print, online=print, schema=SCHEMA, tolerance={"x": -1}), "Expected tolerances that are finite numbers >= 0"),
        (lambda: FeaturePaths(offline=print, online=print, schema=SCHEMA, columns="ab"), "Expected a sequence of column names"),
        (lambda: FeaturePaths(offline=print, online=print, schema=SCHEMA, model=3), "Expected a model with predict_proba"),
        (lambda: find_skew(paths(print), "labels"), "Expected 'features' or 'predictions' but got check='labels'"),
        (lambda: find_skew(paths(print), "predictions"), "Expected a model to predict from the features"),
        (lambda: find_skew(FeaturePaths(offline=print, online=print, schema=SCHEMA)), "Expected the offline path to return a table .* but it returned None"),
        (lambda: find_skew(paths(lambda r: [r["x"], r["y"]]), "predictions", model=lambda x: 1 / 0), "Expected a model that predicts from the offline path's features but it raised ZeroDivisionError"),
    ],
)
def test_invalid_arguments(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


def test_a_callable_model_adapter_predicts_from_the_features():
    model = CallableModel(lambda x: np.stack([x[:, 0] < 10, x[:, 0] >= 10], axis=1).astype(float), input_shape=(2,), n_classes=2)
    assert find_skew(paths(lambda r: [r["x"] * 2.0, r["y"]]), "predictions", model=model, max_examples=20).record is None
    assert EvalData  # the adapters and the evaluation data are the public ones


def test_malformed_records_find_paths_that_fill_a_missing_value_differently():
    def offline(records):  # the batch job filled missing values with 0
        return [[float(r.get("x") if r.get("x") is not None else 0.0) * 2.0, r.get("y")] for r in records]

    def online(record):  # the service fills them with the training mean, 5
        x = record.get("x")
        return [float(x if x is not None else 5.0) * 2.0, record.get("y")]

    declared = FeaturePaths(offline=offline, online=online, schema=SCHEMA, columns=("x2", "y"))
    assert find_skew(declared, max_examples=100).record is None  # valid records only: no field is ever missing
    found = find_skew(declared, max_examples=200, mutations=["missing-field", "null"])
    assert found.record is not None and found.record.get("x") is None and "y" in found.record
    assert [(d.column, d.offline, d.online) for d in found.outcome.differences] == [("x2", 0.0, 10.0)]


def test_the_mutations_setting_reaches_the_search(tmp_path):
    settings = {"output": str(tmp_path), "skew.max_examples": 40, "skew.mutations": ["missing-field"]}
    [result] = check_model(zoo.wine_model(), zoo.wine_data(), "skew[features]", settings, extras={"features": zoo.wine_feature_paths()})
    # the example's offline path turns a missing field into NaN, its online path raises KeyError
    assert not result.passed and len(result.details["record"]) == 12
    assert result.details["online_error"].startswith("KeyError") and result.details["offline_error"] is None
