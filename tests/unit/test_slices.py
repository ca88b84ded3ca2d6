"""Weak slices (pytest_mlguard._slices): slices of a table's columns, their simultaneous intervals, and
slices[accuracy] without pytest on the zoo's record models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zoo
from scipy.stats import binomtest

from pytest_mlguard import CallableModel, EvalData, check_model
from pytest_mlguard.errors import InvalidArgument, NotApplicable
from pytest_mlguard._slices.figures import weakest_slices
from pytest_mlguard._slices.functional import define_slices, measure_slices, weakest

COLUMNS = {
    "city": np.array(["a", "a", "b", "b", None, "a"], dtype=object),
    "age": np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan]),
}
KINDS = {"city": "categorical", "age": "numeric"}


def test_slices_of_categories_quantile_bins_missing_values_and_pairs():
    found = {s.name: s.mask.nonzero()[0].tolist() for s in define_slices(COLUMNS, KINDS, bins=2, min_samples=1)}
    assert found["city = a"] == [0, 1, 5] and found["city is missing"] == [4]
    assert found["age <= 3"] == [0, 1, 2] and found["age > 3"] == [3, 4] and found["age is missing"] == [5]
    assert found["city = a and age <= 3"] == [0, 1] and found["city = b and age > 3"] == [3]
    kept = define_slices(COLUMNS, KINDS, bins=2, min_samples=3, pairs=True)
    assert [s.name for s in kept] == ["city = a", "age <= 3"]  # the others hold fewer than 3 rows
    few = define_slices({"grade": np.array([1.0, 1.0, 2.0, 2.0])}, {"grade": "numeric"}, bins=4, min_samples=1)
    assert [s.name for s in few] == ["grade = 1", "grade = 2"]  # fewer values than bins: each value


def test_intervals_hold_for_every_slice_at_once_and_match_an_exact_binomial_interval():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    proba = np.eye(2)[np.where(rng.random(200) < 0.8, labels, 1 - labels)]
    slices = define_slices({"v": rng.normal(size=200)}, {"v": "numeric"}, bins=4, min_samples=10)
    scores = measure_slices(slices, proba, labels, confidence=0.95)
    for score in scores:
        exact = binomtest(score.correct, score.n).proportion_ci(1 - 0.05 / 4, method="exact")  # Bonferroni over 4 slices
        assert (score.low, score.high) == (pytest.approx(exact.low), pytest.approx(exact.high))
    ranked = weakest(scores)
    assert [s.high for s in ranked] == sorted(s.high for s in scores)


def test_a_model_poor_on_one_category_fails_the_slices_check_only(tmp_path):
    settings = {"output": str(tmp_path)}
    checks = ["accuracy", "calibration[ece]", "slices[accuracy]"]
    poor = check_model(zoo.poor_on_east_model(), zoo.regions_data(), checks, settings)
    assert [(r.id, r.passed) for r in poor] == [("accuracy", True), ("calibration[ece]", True), ("slices[accuracy]", False)]
    result = poor[-1]
    assert result.label == "failed" and result.interval[1] < result.threshold
    assert all("region = east" in row["slice"] for row in result.details["weakest"][:4])
    assert "below the floor" in result.message and result.details["below_floor"] >= 1
    every = json.loads(Path(result.details["saved"]).read_text())
    assert len(every) == result.details["slices"] and any(row["slice"] == "region = east" and row["accuracy"] < 0.6 for row in every)
    good = check_model(zoo.regions_model(), zoo.regions_data(), "slices[accuracy]", settings)[0]
    assert good.passed and good.label in ("passed", "inconclusive") and good.value > good.threshold


def test_the_figure_ranks_the_weakest_slices(tmp_path):
    result = check_model(zoo.poor_on_east_model(), zoo.regions_data(), "slices[accuracy]", {"output": str(tmp_path)})[0]
    figures = weakest_slices("poor-on-east", [{"id": result.id, "details": result.details}])
    assert len(figures) == 1 and figures[0]["alt"].startswith("weakest slices of poor-on-east: x2 > ")
    assert weakest_slices("m", [{"id": "slices[accuracy]", "details": {}}]) == []


def test_a_plain_2d_array_slices_by_feature_index_and_images_do_not_apply(tmp_path):
    x = np.linspace(0, 1, 120).reshape(-1, 1)
    model = CallableModel(lambda b: np.eye(2)[(b[:, 0] > 0.5).astype(int)], input_shape=(1,), n_classes=2)
    result = check_model(model, EvalData(x, (x[:, 0] > 0.5).astype(int)), "slices[accuracy]", {"output": str(tmp_path)})[0]
    assert result.passed and result.details["columns"] == ["feature_0"] and result.details["slices"] == 4
    with pytest.raises(NotApplicable, match="slices need a table"):
        check_model(zoo.good_model(), zoo.digits(), "slices[accuracy]", {"output": str(tmp_path)})
    with pytest.raises(NotApplicable, match="no slice holds 500 of the 120 evaluation samples"):
        check_model(model, EvalData(x, (x[:, 0] > 0.5).astype(int)), "slices[accuracy]", {"output": str(tmp_path), "slices.min_samples": 500})
    with pytest.raises(InvalidArgument, match=r"Expected slices.columns to name columns of mlguard_data, among \['feature_0'\], but got \['age'\]"):
        check_model(model, EvalData(x, (x[:, 0] > 0.5).astype(int)), "slices[accuracy]", {"output": str(tmp_path), "slices.columns": ["age"]})


def test_an_inconclusive_slice_names_the_n_that_decides_at_the_level_of_the_slice_intervals(tmp_path):
    """The weakest slice's interval is drawn at 1 - (1 - c) / K (Bonferroni over K slices), not at the
    check's c: the n that would decide it is the n at which a slice of the same accuracy (all right, here)
    gets an exact interval at that level wholly above the floor, and no fewer."""
    settings = {"output": str(tmp_path), "slices.bins": 2, "slices.min_samples": 20}
    result = check_model(zoo.wine_record_model(), zoo.wine_table(), "slices[accuracy]", settings)[0]
    assert result.label == "inconclusive" and result.value == 1.0 and result.details["slices"] > 1
    each = 1 - (1 - result.confidence) / result.details["slices"]

    def decided(n: int) -> bool:
        return binomtest(n, n).proportion_ci(each, method="exact").low >= result.threshold

    assert decided(result.required_n) and not decided(result.required_n - 1)
