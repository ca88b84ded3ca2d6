"""The shift family's statistics and contract: each test passes a sample from the reference
distribution and fails a shifted one (fixed seeds), Holm's correction against a direct reading of its
definition, ATC against the accuracy it estimates, and the errors of mlguard_production."""

from __future__ import annotations

import base64
import io
import itertools

import numpy as np
import pytest
from PIL import Image

from pytest_mlguard.checks.api import check_model
from pytest_mlguard.contract import CallableModel, EvalData
from pytest_mlguard.errors import ContractError, NotApplicable
from pytest_mlguard.production._shift.sample import production_sample
from pytest_mlguard.production._shift.statistics import (
    atc_estimate,
    atc_interval,
    column_tests,
    confidence_scores,
    frequency_test,
    holm,
    image_statistics,
    missing_test,
    numeric_test,
)

ALPHA = 0.01


def holm_by_definition(p):
    """Holm's adjusted p-value of hypothesis i: the largest (m - k) p_(k) over the k-th smallest
    p-values up to and including p_i, capped at 1 (ties in the order given)."""
    m = len(p)
    order = sorted(range(m), key=lambda i: (p[i], i))
    rank = {i: k for k, i in enumerate(order)}
    return [min(1.0, max((m - k) * p[order[k]] for k in range(rank[i] + 1))) for i in range(m)]


@pytest.mark.parametrize("p", [[0.01, 0.04, 0.03], [0.5, 0.001, 0.2, 0.001], [0.9], [0.02, 0.02, 0.5, 1.0, 1e-9]])
def test_holm_matches_its_definition(p):
    assert holm(p).tolist() == pytest.approx(holm_by_definition(p))


def test_holm_controls_the_family_wise_error_on_independent_nulls():
    rng = np.random.default_rng(0)
    false_alarms = np.mean([holm(rng.uniform(size=8)).min() < 0.05 for _ in range(4000)])
    assert false_alarms <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 4000)  # and Bonferroni's would be 0.0488 on average
    assert false_alarms > 0.03  # not a test that never rejects


def test_frequency_test_passes_the_same_distribution_and_names_the_class_that_moved():
    rng = np.random.default_rng(1)
    same = frequency_test("classes", rng.integers(0, 5, 400), rng.integers(0, 5, 300), labels=list("abcde"))
    assert same.p_value > ALPHA
    shifted = frequency_test("classes", rng.integers(0, 5, 400), np.r_[rng.integers(0, 5, 200), np.full(100, 3)], labels=list("abcde"))
    assert shifted.p_value < 1e-6 and shifted.what.startswith("'d': ")
    assert 0.15 < shifted.effect < 0.35  # total variation: a quarter of the mass moved to 'd', less its 5% share


def test_a_category_new_in_production_is_a_change():
    reference = ["red"] * 50 + ["blue"] * 50
    test = frequency_test("colour", reference, ["red"] * 40 + ["blue"] * 40 + ["green"] * 20)
    assert test.p_value < 1e-4 and test.what == "'green' (not in the reference): 0.0% -> 20.0%"


def test_numeric_test_passes_the_same_distribution_and_fails_a_shifted_one():
    rng = np.random.default_rng(2)
    assert numeric_test("x", rng.normal(0, 1, 400), rng.normal(0, 1, 300)).p_value > ALPHA
    shifted = numeric_test("x", rng.normal(0, 1, 400), rng.normal(0.5, 1, 300))
    assert shifted.p_value < 1e-3 and shifted.test == "ks"
    assert shifted.effect == pytest.approx(shifted.statistic) and 0.1 < shifted.effect < 0.35


def test_missing_rate_change():
    rng = np.random.default_rng(3)
    assert missing_test("x", rng.uniform(size=400) < 0.05, rng.uniform(size=300) < 0.05).p_value > ALPHA
    grown = missing_test("x", rng.uniform(size=400) < 0.05, rng.uniform(size=300) < 0.3)
    assert grown.p_value < 1e-6 and grown.effect > 0.15 and grown.what.startswith("missing ")


def test_column_tests_find_the_drifting_columns_and_the_missing_values():
    rng = np.random.default_rng(4)
    reference, production = rng.normal(size=(400, 5)), rng.normal(size=(300, 5))
    production[:, 2] *= 1000.0  # a unit change: grams logged as milligrams
    production[:60, 4] = np.nan
    tests = {test.name: test for test in column_tests(reference, production, names=list("abcde"))}
    assert set(tests) == {"a", "b", "c", "d", "e", "e (missing)"}
    drifting = {name for name, test in tests.items() if test.p_value < ALPHA / len(tests)}
    assert drifting == {"c", "e (missing)"}


def test_image_statistics_see_a_brighter_sample():
    rng = np.random.default_rng(5)
    images = rng.uniform(0, 0.6, size=(200, 3, 8, 8))
    stats = image_statistics(images)
    assert set(stats) == {"brightness", "contrast", "red mean", "green mean", "blue mean"}
    assert stats["brightness"] == pytest.approx(images.reshape(200, -1).mean(axis=1))
    brighter = image_statistics(images[:100] + 0.2)
    assert numeric_test("brightness", stats["brightness"][100:], brighter["brightness"]).p_value < 1e-6
    assert numeric_test("contrast", stats["contrast"][100:], brighter["contrast"]).p_value > ALPHA


def test_atc_recovers_the_accuracy_where_the_confidence_ranks_the_errors():
    """ATC's assumption: the errors are the least confident inputs, at a threshold that production
    shares with the evaluation data; a shift of the confidences then moves the accuracy with them."""
    rng = np.random.default_rng(6)
    scores = rng.uniform(0.2, 1.0, 2000)
    correct = (scores > 0.4) ^ (rng.uniform(size=2000) < 0.02)  # 2% of outcomes that the confidence does not rank
    assert atc_estimate(scores, correct, scores) == pytest.approx(correct.mean())  # on its own data: the accuracy
    shifted = rng.beta(1, 3, 2000) * 0.8 + 0.2  # fewer confident inputs
    shifted_correct = (shifted > 0.4) ^ (rng.uniform(size=2000) < 0.02)
    estimate = atc_estimate(scores, correct, shifted)
    assert abs(estimate - shifted_correct.mean()) < 0.03 and estimate < correct.mean() - 0.05
    low, high = atc_interval(scores, correct, shifted, 0.95, resamples=300, rng=np.random.default_rng(0))
    assert low < shifted_correct.mean() < high and high - low < 0.1


def test_atc_is_off_where_its_assumption_fails():
    """A calibrated model whose confidences spread (an input of confidence 0.7 is right 70% of the
    time) breaks the assumption: ATC then underestimates the accuracy under a shift to less
    confident inputs by 0.19 here, which docs/drift.md states."""
    rng = np.random.default_rng(6)
    scores = rng.uniform(0.6, 1.0, 2000)
    correct = rng.uniform(size=2000) < scores
    shifted = rng.uniform(0.2, 1.0, 2000)
    truth = np.mean(rng.uniform(size=2000) < shifted)
    assert truth - atc_estimate(scores, correct, shifted) > 0.15


def test_atc_counts_tied_confidences_in_part():
    """A confident model's top probability is often exactly 1.0: ties at the threshold count in part,
    so that the estimate on the labelled data is its accuracy, not the share of ties."""
    scores = np.array([1.0] * 8 + [0.7, 0.6])
    correct = np.array([True] * 7 + [False] * 3)
    assert atc_estimate(scores, correct, scores) == pytest.approx(0.7)
    assert atc_estimate(scores, correct, np.array([1.0, 0.5])) == pytest.approx(0.5 * 7 / 8)


def test_confidence_scores():
    proba = np.array([[0.5, 0.5], [1.0, 0.0]])
    assert confidence_scores(proba).tolist() == [0.5, 1.0]
    assert confidence_scores(proba, "negative-entropy") == pytest.approx([np.log(0.5), 0.0])
    with pytest.raises(ValueError, match="expected score"):
        confidence_scores(proba, "margin")


# -- the contract of mlguard_production ----------------------------------------------------------
def _model(shape=(1, 4, 4)):
    return CallableModel(lambda x: np.tile([0.7, 0.3], (len(x), 1)), input_shape=shape, n_classes=2, name="m")


def _png(value):
    buffer = io.BytesIO()
    Image.fromarray(np.full((6, 6), value, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros((20, 1, 5, 5)), r"samples of the model's input shape \(1, 4, 4\), but got ndarray of shape \(20, 1, 5, 5\)"),
        (np.zeros((3, 1, 4, 4)), "but got 3 samples"),
        (np.r_[np.zeros((19, 1, 4, 4)), np.full((1, 1, 4, 4), np.nan)], "1 of 20 samples hold NaN or inf, such as sample 19"),
        ([{"a": 1}] * 20, r"Expected model inputs \(N, \*\(1, 4, 4\)\) but got a table of columns \['a'\]: a table is for a model of 1-D inputs"),
        ("logs/today.jsonl", "but got the path 'logs/today.jsonl', which does not exist"),
        ([b"not an image"] * 12, r"item 0 \(12 bytes\) does not"),
        ({"a": np.zeros(20), "b": np.zeros(20)}, r"Expected model inputs \(N, \*\(1, 4, 4\)\) but got a table of columns \['a', 'b'\]: a table is for a model of 1-D inputs"),
    ],
)
def test_contract_errors_name_the_fixture_what_was_expected_and_what_was_given(value, message):
    with pytest.raises(ContractError, match=message) as raised:
        production_sample(value, _model())
    assert str(raised.value).startswith("mlguard_production: Expected ")


def test_a_table_of_columns_must_have_the_model_columns_of_one_length():
    model = CallableModel(lambda x: np.tile([0.5, 0.5], (len(x), 1)), input_shape=(2,), n_classes=2, name="t")
    with pytest.raises(ContractError, match=r"mlguard_production: Expected the model's 2 input columns, in its input order, but got 3 columns"):
        production_sample({"a": np.zeros(20), "b": np.zeros(20), "c": np.zeros(20)}, model)
    with pytest.raises(ContractError, match=r"mlguard_production: Expected columns of one length but got lengths \[19, 20\]"):
        production_sample({"a": np.zeros(20), "b": np.zeros(19)}, model)
    sample = production_sample({"a": np.arange(20), "b": np.ones(20)}, model)
    assert sample.columns == ("a", "b") and sample.x[:, 0].tolist() == list(range(20))


def test_the_inputs_check_names_the_drifting_columns_of_a_table():
    rng = np.random.default_rng(8)
    names = ("alcohol", "proline", "ash")
    x = rng.normal([13, 700, 2.4], [1, 300, 0.3], size=(300, 3))
    model = CallableModel(lambda b: np.stack([1 / (1 + np.exp(b[:, 1] / 300 - 2.3)), 1 - 1 / (1 + np.exp(b[:, 1] / 300 - 2.3))], 1),
                          input_shape=(3,), n_classes=2, value_range=(0.0, 2000.0), name="wine")
    production = dict(zip(names, rng.normal([13, 700, 2.4], [1, 300, 0.3], size=(200, 3)).T))
    production["proline"] = production["proline"] / 1000.0  # a unit change upstream: mg/l logged as g/l
    results = check_model(model, EvalData(x, np.zeros(300, dtype=int)), "shift[inputs]", settings={"shift.checks": ["inputs"]}, extras={"production": production})
    assert not results[0].passed
    assert "in 1 of 3 inputs tests" in results[0].message and "proline (ks distance 0.997, median 692 -> 0.6984" in results[0].message


def test_image_files_are_decoded_to_the_model_input():
    sample = production_sample([_png(v) for v in (0, 51, 255)] * 4, _model())
    assert sample.x.shape == (12, 1, 4, 4) and sample.x.dtype == np.float32
    assert sample.x[:3, 0, 0, 0] == pytest.approx([0.0, 0.2, 1.0])
    assert sample.files == {"formats": {"PNG": 12}, "modes": {"L": 12}, "sizes": {"6x6": 12}}


def test_without_a_production_sample_the_checks_do_not_apply():
    x = np.random.default_rng(0).uniform(size=(40, 1, 4, 4))
    with pytest.raises(NotApplicable, match="define a fixture mlguard_production"):
        check_model(_model(), EvalData(x, np.zeros(40, dtype=int)), "shift[classes]")


def _digits_model():
    """A model over 4 pixels that says class 1 where the image is bright."""

    def predict(x):
        p = np.clip(x.reshape(len(x), -1).mean(axis=1), 0.05, 0.95)
        return np.stack([1 - p, p], axis=1)

    return CallableModel(predict, input_shape=(1, 2, 2), n_classes=2, name="bright")


@pytest.mark.parametrize("shift", [0.0, 0.25])
def test_the_checks_pass_a_sample_of_the_evaluation_distribution_and_fail_a_shifted_one(shift):
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, size=(400, 1, 2, 2))
    y = (rng.uniform(size=400) < x.reshape(400, -1).mean(axis=1)).astype(int)
    production = np.clip(rng.uniform(0, 1, size=(300, 1, 2, 2)) + shift, 0, 1)
    checks = ["shift[classes]", "shift[confidence]", "shift[inputs]", "shift[accuracy]"]
    settings = {"shift.checks": ["classes", "confidence", "inputs", "accuracy"], "shift.accuracy_floor": 0.6, "verdict.bootstrap": 200}
    results = check_model(_digits_model(), EvalData(x, y), checks, settings=settings, extras={"production": production})
    tests = [test for result in results[:3] for test in result.details["tests"]]  # Holm across the family, not per check
    assert [test["p_adjusted"] for test in tests] == pytest.approx(holm([test["p_value"] for test in tests]).tolist())
    assert all(result.value == min(test["p_adjusted"] for test in result.details["tests"]) for result in results[:3])
    if not shift:
        assert all(result.passed for result in results), [result.verdict() for result in results]
        return
    failed = {result.id for result in results if not result.passed}
    assert failed == {"shift[classes]", "shift[confidence]", "shift[inputs]"}, [r.verdict() for r in results]
    inputs = next(result for result in results if result.id == "shift[inputs]")
    assert "brightness (ks distance" in inputs.message and inputs.details["holm_tests"] == 4
    for a, b in itertools.combinations(results[:3], 2):
        assert a.details["holm_tests"] == b.details["holm_tests"]


# -- shift[embedding] ------------------------------------------------------------------------------
def test_mmd_passes_the_same_distribution_and_fails_a_shifted_one():
    from pytest_mlguard.production._shift.embedding import mmd_test

    rng = np.random.default_rng(9)
    same = mmd_test(rng.normal(size=(150, 8)), rng.normal(size=(120, 8)), permutations=300, rng=rng)
    assert same.p_value > ALPHA and same.test == "mmd"
    moved = rng.normal(size=(120, 8))
    moved[:, 0] += 0.8  # one direction of eight
    shifted = mmd_test(rng.normal(size=(150, 8)), moved, permutations=300, rng=rng)
    assert shifted.p_value == pytest.approx(1 / 301) and shifted.effect > 5 * same.effect


def test_mmd_false_alarms_stay_at_the_level():
    from pytest_mlguard.production._shift.embedding import mmd_test

    rng = np.random.default_rng(10)
    rejections = [mmd_test(rng.normal(size=(40, 3)), rng.normal(size=(40, 3)), permutations=99, rng=rng).p_value <= 0.1 for _ in range(200)]
    assert 0.03 < np.mean(rejections) <= 0.1 + 3 * np.sqrt(0.09 / 200)


def test_the_embedding_is_the_input_of_the_last_linear_layer_or_a_named_layer():
    import zoo

    from pytest_mlguard.production._shift.embedding import embed

    model, x = zoo.good_model(), zoo.digits().x[:5]
    assert embed(model, x).shape == (5, 64)  # the digits CNN: Linear(512, 64), ReLU, Linear(64, 10)
    assert embed(model, x, "features").shape == (5, 32 * 4 * 4)
    with pytest.raises(NotApplicable, match=r"shift\.layer 'nope' is no submodule of the model; expected one of"):
        embed(model, x, "nope")


def test_the_embedding_check_does_not_apply_to_a_black_box_and_the_others_still_run():
    x = np.random.default_rng(0).uniform(size=(40, 1, 2, 2))
    checks = {"shift.checks": ["classes", "embedding"]}
    model, data = _digits_model(), EvalData(x, (x.reshape(40, -1).mean(axis=1) > 0.5).astype(int))
    with pytest.raises(NotApplicable, match="shift\\[embedding\\] needs a TorchModel; model 'bright' is a callable model"):
        check_model(model, data, "shift[embedding]", settings=checks, extras={"production": x})
    (result,) = check_model(model, data, "shift[classes]", settings=checks, extras={"production": x})
    assert result.passed and result.details["holm_tests"] == 1


# -- shift[ood] ------------------------------------------------------------------------------------
def test_the_ood_score_is_the_energy_of_logits_else_the_negative_top_probability():
    from scipy.special import logsumexp

    from pytest_mlguard.production._shift.ood import ood_scores

    logits = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    model = CallableModel(lambda x: logits[: len(x)], input_shape=(1,), n_classes=3, output="logits", name="l")
    x = np.zeros((2, 1), dtype=np.float32)
    scores, name = ood_scores(model, x, model.predict_proba(x))
    assert name == "energy" and scores == pytest.approx(-logsumexp(logits, axis=1))
    scores, name = ood_scores(_model(), np.zeros((2, 1, 4, 4)), np.array([[0.7, 0.3], [0.5, 0.5]]))
    assert name == "negative max-probability" and scores.tolist() == [-0.7, -0.5]


def test_the_flagged_share_is_the_rate_in_distribution_and_grows_under_shift():
    from pytest_mlguard.production._shift.ood import flagged_share

    rng = np.random.default_rng(11)
    same, threshold = flagged_share(rng.normal(size=2000), rng.normal(size=2000), rate=0.05)
    assert abs(same - 0.05) < 0.015 and threshold == pytest.approx(1.645, abs=0.1)
    shifted, _ = flagged_share(rng.normal(size=2000), rng.normal(1.5, 1, size=2000), rate=0.05)
    assert shifted > 0.3


def test_the_report_figure_draws_the_most_significant_histograms_first():
    from pytest_mlguard.production._shift.figures import histograms

    rng = np.random.default_rng(12)
    x = rng.uniform(0, 1, size=(200, 1, 2, 2))
    y = (x.reshape(200, -1).mean(axis=1) > 0.5).astype(int)
    settings = {"shift.checks": ["confidence", "inputs"]}
    production = np.clip(rng.uniform(0, 1, size=(150, 1, 2, 2)) + 0.3, 0, 1)
    results = check_model(_digits_model(), EvalData(x, y), ["shift[confidence]", "shift[inputs]"], settings=settings, extras={"production": production})
    drawn = results[1].details["histograms"]["brightness"]
    assert len(drawn["edges"]) == 21 and sum(drawn["reference"]) == pytest.approx(1.0) and sum(drawn["production"]) == pytest.approx(1.0)
    (figure,) = histograms("bright", [result.to_dict() for result in results])
    assert figure["alt"] == "histograms of bright's evaluation data and production sample: brightness, confidence, contrast"
    image = Image.open(io.BytesIO(base64.b64decode(figure["png"])))
    assert image.size == (960, 240)
    assert histograms("bright", [{"details": {}}]) == []


def test_bbse_recovers_a_change_of_class_frequencies_and_the_accuracy_it_gives():
    """Label shift alone: each class's predictions drawn from the same confusion as in the labelled
    data, the classes' frequencies changed from (1/3, 1/3, 1/3) to (0.6, 0.3, 0.1)."""
    from pytest_mlguard.production._shift.statistics import bbse

    rng = np.random.default_rng(13)
    confusion = np.array([[0.9, 0.05, 0.05], [0.1, 0.7, 0.2], [0.05, 0.25, 0.7]])  # row: true class, column: prediction

    def draw(labels):
        return np.array([rng.choice(3, p=confusion[label]) for label in labels])

    labels = rng.integers(0, 3, 3000)
    production_labels = rng.choice(3, size=3000, p=[0.6, 0.3, 0.1])
    distribution, accuracy = bbse(draw(labels), labels, draw(production_labels), 3)
    assert distribution == pytest.approx([0.6, 0.3, 0.1], abs=0.04)
    assert accuracy == pytest.approx(0.6 * 0.9 + 0.3 * 0.7 + 0.1 * 0.7, abs=0.02)
