"""Calibration metrics against independent implementations and closed forms; temperature advice;
garbage inputs; the calibration checks on the zoo; ECE curves under shift."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import zoo

from pytest_mlguard import CallableModel, check_model
from pytest_mlguard.calibration import CHECKS
from pytest_mlguard.calibration._garbage import (
    confidence_summary,
    constant_inputs,
    garbage_inputs,
    load_ood,
    sample_constant_levels,
    sample_noise,
)
from pytest_mlguard.calibration.metrics import (
    brier_score,
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
    reliability_bins,
)
from pytest_mlguard.calibration.shift import ece_curves
from pytest_mlguard.calibration.temperature import fit_temperature, temperature_advice, temperature_scale
from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.errors import CheckError, ConfigError, InvalidArgument

CALIBRATION = family("calibration")
# the example's ceilings (examples/digits/pyproject.toml), with every check
EXAMPLE = {"calibration.ece_ceiling": "0.05", "calibration.garbage_ceiling": "0.85", "calibration.checks": ",".join(CHECKS)}


# -- metrics against independent implementations -------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("bins", [5, 15])
def test_mce_and_classwise_ece_match_torchmetrics(seed, bins):
    from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

    proba, labels = zoo.random_proba(500, 10, seed)
    theirs_mce = multiclass_calibration_error(
        torch.from_numpy(proba), torch.from_numpy(labels), num_classes=10, n_bins=bins, norm="max"
    ).item()
    assert maximum_calibration_error(proba, labels, bins) == pytest.approx(theirs_mce, abs=1e-6)
    per_class = [
        binary_calibration_error(torch.from_numpy(proba[:, k]), torch.from_numpy((labels == k).astype(np.int64)), n_bins=bins).item()
        for k in range(10)
    ]
    assert classwise_calibration_error(proba, labels, bins) == pytest.approx(np.mean(per_class), abs=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_brier_and_nll_match_sklearn_and_torch(seed):
    from sklearn.metrics import brier_score_loss, log_loss

    proba, labels = zoo.random_proba(300, 7, seed)
    assert brier_score(proba, labels) == pytest.approx(brier_score_loss(labels, proba, labels=range(7), scale_by_half=False), abs=1e-9)
    assert negative_log_likelihood(proba, labels) == pytest.approx(log_loss(labels, proba, labels=range(7)), abs=1e-9)
    torch_nll = torch.nn.functional.nll_loss(torch.log(torch.from_numpy(proba)), torch.from_numpy(labels)).item()
    assert negative_log_likelihood(proba, labels) == pytest.approx(torch_nll, abs=1e-9)


def loop_equal_mass_ece(proba: np.ndarray, labels: np.ndarray, n_bins: int) -> float:
    """An independent equal-mass ECE: sort, cut into groups of nearly equal size, average the gaps."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == labels
    order = sorted(range(len(confidence)), key=lambda i: confidence[i])
    n, total = len(order), 0.0
    bins = min(n_bins, n)
    size, extra = divmod(n, bins)
    start = 0
    for b in range(bins):
        stop = start + size + (1 if b < extra else 0)
        members = order[start:stop]
        total += abs(np.mean([correct[i] for i in members]) - np.mean([confidence[i] for i in members])) * len(members)
        start = stop
    return total / n


@pytest.mark.parametrize("seed, n, bins", [(0, 500, 15), (1, 37, 10), (2, 9, 15)])
def test_equal_mass_ece_matches_a_loop_and_bins_hold_equal_counts(seed, n, bins):
    proba, labels = zoo.random_proba(n, 5, seed)
    ours = expected_calibration_error(proba, labels, bins, binning="equal-mass")
    assert ours == pytest.approx(loop_equal_mass_ece(proba, labels, bins), abs=1e-9)
    reliability = reliability_bins(proba, labels, bins, binning="equal-mass")
    counts = reliability["count"]
    assert len(counts) == min(bins, n) and sum(counts) == n and max(counts) - min(counts) <= 1
    assert reliability["edges"][0] == 0.0 and reliability["edges"][-1] == 1.0
    assert reliability["edges"] == sorted(reliability["edges"])


def test_closed_forms():
    # perfectly calibrated bins: in each, the accuracy equals the confidence
    proba = np.array([[0.75, 0.25]] * 4 + [[0.5, 0.5]] * 4)
    labels = np.array([0, 0, 0, 1, 0, 1, 0, 1])
    assert expected_calibration_error(proba, labels, 10) == 0.0
    assert expected_calibration_error(proba, labels, 2, binning="equal-mass") == 0.0
    # one bin: ECE = |accuracy - mean confidence|
    proba, labels = zoo.random_proba(200, 4, 3)
    accuracy = (proba.argmax(axis=1) == labels).mean()
    assert expected_calibration_error(proba, labels, 1) == pytest.approx(abs(accuracy - proba.max(axis=1).mean()), abs=1e-12)
    # a uniform prediction: Brier = 1 - 1/K, NLL = log K
    uniform = np.full((6, 4), 0.25)
    assert brier_score(uniform, np.arange(6) % 4) == pytest.approx(0.75)
    assert negative_log_likelihood(uniform, np.arange(6) % 4) == pytest.approx(np.log(4))
    # a zero probability on the label costs -log(eps), not infinity
    assert negative_log_likelihood(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(-np.log(1e-15))


def test_confidence_of_one_shares_the_last_bin_where_torchmetrics_gives_it_its_own():
    from torchmetrics.functional.classification import multiclass_calibration_error

    # a confident mistake at exactly 1.0 and a right answer at 0.95
    proba, labels = np.array([[1.0, 0.0], [0.95, 0.05]]), np.array([1, 0])
    bins = reliability_bins(proba, labels, n_bins=10)
    assert bins["count"][-1] == 2 and len(bins["count"]) == 10
    ours = expected_calibration_error(proba, labels, 10)
    assert ours == pytest.approx(abs(0.5 - 0.975))  # one closed bin [0.9, 1]
    theirs = multiclass_calibration_error(torch.from_numpy(proba), torch.from_numpy(labels), num_classes=2, n_bins=10).item()
    assert theirs == pytest.approx((abs(1 - 0.95) + abs(0 - 1.0)) / 2)  # [0.9, 1) and an extra bin for 1.0


def test_empty_bins_carry_no_weight_and_never_raise_the_mce():
    proba, labels = np.array([[0.55, 0.45], [0.55, 0.45]]), np.array([0, 1])
    bins = reliability_bins(proba, labels, n_bins=10)
    assert [i for i, c in enumerate(bins["count"]) if c] == [5]
    assert bins["accuracy"][0] == 0.0 and bins["confidence"][0] == 0.0
    assert maximum_calibration_error(proba, labels, 10) == pytest.approx(0.05)
    assert expected_calibration_error(proba, labels, 10) == pytest.approx(0.05)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: expected_calibration_error(np.ones(3), np.zeros(3, int)), r"Expected proba of shape \(N, K\) and labels of shape \(N,\)"),
        (lambda: brier_score(np.ones((3, 2)), np.zeros(2, int)), r"shapes \(3, 2\) and \(2,\)"),
        (lambda: negative_log_likelihood(np.ones((2, 2)) / 2, np.array([0, 2])), r"Expected integer labels in 0\.\.1"),
        (lambda: negative_log_likelihood(np.ones((2, 2)) / 2, np.array([0.0, 1.0])), r"Expected integer labels"),
        (lambda: expected_calibration_error(np.ones((2, 2)) / 2, np.array([0, 1]), 0), r"Expected an int >= 1 but got n_bins=0"),
        (
            lambda: reliability_bins(np.ones((2, 2)) / 2, np.array([0, 1]), binning="quantile"),
            r"Expected one of \('equal-width', 'equal-mass'\) but got binning='quantile'",
        ),
        (lambda: temperature_scale(np.ones((2, 2)) / 2, -1.0), r"Expected a positive finite number but got temperature=-1\.0"),
    ],
)
def test_invalid_arguments(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


# -- temperature scaling --------------------------------------------------------------------------
def test_fitted_temperature_matches_torch_lbfgs_and_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3000, 6)) * 2
    true = temperature_scale(np.exp(logits), 1.0)
    labels = (true.cumsum(axis=1) > rng.random((3000, 1))).argmax(axis=1)  # sampled from the true probabilities
    overconfident = temperature_scale(np.exp(logits), 1 / 2.5)  # logits multiplied by 2.5
    ours = fit_temperature(overconfident, labels)
    assert ours == pytest.approx(2.5, rel=0.1)

    # Guo et al.'s recipe: LBFGS on one temperature parameter
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    z, y = torch.log(torch.from_numpy(overconfident)), torch.from_numpy(labels)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / torch.exp(log_t), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    assert ours == pytest.approx(torch.exp(log_t).item(), rel=1e-3)


def test_temperature_advice_improves_nll_and_keeps_predictions():
    proba, labels = zoo.random_proba(400, 5, 7)
    sharp = temperature_scale(proba, 0.4)
    advice = temperature_advice(sharp, labels)
    assert advice["temperature"] > 1 and not advice["at_bound"]
    assert advice["after"]["nll"] < advice["before"]["nll"]
    assert set(advice["before"]) == {"ece", "mce", "classwise_ece", "nll", "brier"}
    scaled = temperature_scale(sharp, advice["temperature"])
    assert np.array_equal(scaled.argmax(axis=1), sharp.argmax(axis=1))
    assert np.allclose(scaled.sum(axis=1), 1.0)


# -- garbage inputs -------------------------------------------------------------------------------
def test_noise_and_constant_inputs():
    rng = np.random.default_rng(0)
    noise = sample_noise(rng, 50, (3, 4, 4), (0.0, 255.0))
    assert noise.shape == (50, 3, 4, 4) and noise.dtype == np.float32 and noise.min() >= 0 and noise.max() <= 255
    assert np.array_equal(noise, sample_noise(np.random.default_rng(0), 50, (3, 4, 4), (0.0, 255.0)))
    levels = sample_constant_levels(rng, 5, 3, (-1.0, 1.0))
    flat = constant_inputs(levels, (3, 4, 4))
    assert flat.shape == (5, 3, 4, 4)
    assert np.array_equal(flat[:, :, 0, 0], levels) and (flat == flat[:, :, :1, :1]).all()  # flat per channel
    assert (flat[0] == -1.0).all() and (flat[1] == 1.0).all()  # the extremes of the value range
    tabular = constant_inputs(sample_constant_levels(rng, 4, 1, (0.0, 1.0)), (6,))
    assert tabular.shape == (4, 6) and (tabular == tabular[:, :1]).all()


def test_ood_data_is_loaded_checked_and_subsampled(tmp_path):
    good = np.random.default_rng(0).random((30, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "ood.npy", good)
    np.savez(tmp_path / "ood.npz", x=good, y=np.zeros(30))
    np.savez(tmp_path / "two.npz", a=good, b=good)
    np.save(tmp_path / "flat.npy", good.reshape(30, 64))
    assert np.array_equal(load_ood(tmp_path / "ood.npy", (1, 8, 8)), good)
    assert np.array_equal(load_ood(tmp_path / "ood.npz", (1, 8, 8)), good)
    model = zoo.good_model()
    picked = garbage_inputs("ood", model, 10, np.random.default_rng(0), ood_data=tmp_path / "ood.npy")
    assert picked.shape == (10, 1, 8, 8) and all(any(np.array_equal(p, g) for g in good) for p in picked)
    for path, message in [
        (tmp_path / "flat.npy", r"has shape \(30, 64\): expected \(N, 1, 8, 8\)"),
        (tmp_path / "two.npz", r"holds arrays \['a', 'b'\]: expected one array, or one named 'x'"),
        (tmp_path / "missing.npy", r"cannot read the out-of-domain data"),
    ]:
        with pytest.raises(CheckError, match=message):
            load_ood(path, (1, 8, 8))
    with pytest.raises(CheckError, match=r"garbage-ood\] needs images from another domain: set \[tool.mlguard.calibration\] ood_data"):
        garbage_inputs("ood", model, 10, np.random.default_rng(0))


def test_confidence_summary():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    summary = confidence_summary(proba, ("cat", "dog"))
    assert summary["mean_confidence"] == pytest.approx(2.3 / 3) and summary["max_confidence"] == pytest.approx(0.9)
    assert summary["predicted"] == {"cat": 2, "dog": 1} and sum(summary["histogram"]) == 3


# -- the checks -----------------------------------------------------------------------------------
def evaluation(model, tmp_path, **overrides):
    settings = resolve(cli={**EXAMPLE, "output": str(tmp_path), **overrides}, environ={}, keys=all_keys())
    return Evaluation(model, zoo.digits(), settings), settings


def run(model, check, tmp_path, **overrides):
    settings = {**EXAMPLE, "output": str(tmp_path), **overrides}
    return check_model(model, zoo.digits(), f"calibration[{check}]", settings=settings)[0]


@pytest.fixture(scope="module")
def good():
    return zoo.good_model()


@pytest.fixture(scope="module")
def ood_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ood") / "photos.npy"
    np.save(path, zoo.photo_patches())
    return path


@pytest.mark.parametrize(
    "check, broken, overrides",
    [
        ("classwise-ece", zoo.ignores_input_model, {}),
        ("brier", zoo.ignores_input_model, {}),
        ("nll", zoo.overconfident_model, {}),
        ("garbage-noise", zoo.static_confident_model, {}),
        ("garbage-constant", zoo.static_confident_model, {}),
        ("garbage-ood", zoo.static_confident_model, {}),
        ("garbage-constant-max", zoo.static_confident_model, {}),
        ("garbage-ood-max", zoo.static_confident_model, {"calibration.garbage_max_ceiling": "0.9999"}),
        ("mce", zoo.overconfident_model, {"calibration.binning": "equal-mass", "calibration.mce_ceiling": "0.2"}),
    ],
)
def test_good_model_passes_and_broken_model_fails(good, check, broken, overrides, tmp_path, ood_file):
    overrides = {"calibration.ood_data": str(ood_file), **overrides}
    passed = run(good, check, tmp_path, **overrides)
    assert passed.passed, passed.verdict()
    failed = run(broken(), check, tmp_path, **overrides)
    assert not failed.passed, failed.verdict()


def test_static_confident_model_is_accurate_and_calibrated_on_digits(tmp_path):
    model = zoo.static_confident_model()
    ev, _ = evaluation(model, tmp_path)
    assert ev.clean_accuracy() >= 0.95
    assert run(model, "ece", tmp_path).passed


def test_good_model_fails_the_strict_max_ceiling_on_noise(good, tmp_path):
    result = run(good, "garbage-noise-max", tmp_path)
    assert result.value > 0.99 and not result.passed  # one noise image in 200 gets a confident answer


def test_garbage_failure_says_what_the_model_answered_and_saves_the_input(tmp_path):
    result = run(zoo.static_confident_model(), "garbage-noise", tmp_path)
    assert result.metric == "mean_confidence" and result.kind == "ceiling" and result.n == 200
    assert re.search(r"on 200 uniform-noise inputs, which carry no class, the top-class probability is 0\.9\d\d on average", result.message)
    answered = result.details["predicted"]["0"]
    assert answered >= 190 and f"the model answers '0' for {answered / 200:.0%} of them" in result.message
    saved = np.load(result.details["artifact"])
    assert saved.shape == (1, 1, 8, 8) and result.details["artifact"] in result.message
    assert result.details["chance"] == pytest.approx(0.1)


def test_relative_garbage_ceilings(good, tmp_path):
    above_chance = run(good, "garbage-constant", tmp_path, **{"calibration.garbage_ceiling": "0.5*above_chance"})
    assert above_chance.threshold == pytest.approx(0.55)
    clean = run(good, "garbage-constant", tmp_path, **{"calibration.garbage_ceiling": "0.8*clean"})
    assert clean.threshold == pytest.approx(0.8 * clean.details["clean_mean_confidence"])


def test_failing_ece_says_which_temperature_would_calibrate(tmp_path):
    # ECE 0.088 at n=360: above the example's ceiling of 0.05 but not decidedly so (inconclusive)
    result = run(zoo.overconfident_model(), "ece", tmp_path, **{"calibration.ece_ceiling": "0.02"})
    assert not result.passed and result.label == "failed"
    advice = result.details["temperature"]
    assert advice["temperature"] > 2 and advice["after"]["ece"] < advice["before"]["ece"] == pytest.approx(result.details["plugin"])
    expected = f"temperature {advice['temperature']:.2f} would give ECE {advice['after']['ece']:.4f} (now {result.details['plugin']:.4f})"
    assert result.message.startswith(expected), result.message
    assert "Advice, not a fix" in result.message
    assert result.details["reliability"]["binning"] == "equal-width" and len(result.details["reliability"]["count"]) == 15


def test_checks_reuse_clean_predictions_and_share_one_pass_per_garbage_source(good, tmp_path):
    batches = []

    def predict(x):
        batches.append(len(x))
        return good.predict_proba(x)

    model = CallableModel(predict, input_shape=(1, 8, 8), n_classes=10, batch_size=10_000)
    ev, settings = evaluation(model, tmp_path)
    for check in ("ece", "mce", "classwise-ece", "brier", "nll"):
        ev.run(CALIBRATION, CALIBRATION.spec(check, settings))
    assert batches == [360]  # the clean predictions, once
    mean = ev.run(CALIBRATION, CALIBRATION.spec("garbage-noise", settings))
    top = ev.run(CALIBRATION, CALIBRATION.spec("garbage-noise-max", settings))
    assert batches == [360, 200] and top.value == mean.details["max_confidence"]


def test_same_seed_same_garbage_other_seed_other_garbage(good, tmp_path):
    a = run(good, "garbage-noise", tmp_path)
    b = run(zoo.good_model(), "garbage-noise", tmp_path)
    c = run(good, "garbage-noise", tmp_path, seed="1")
    assert a.value == b.value != c.value


# -- settings -------------------------------------------------------------------------------------
def test_plan_and_settings():
    settings = resolve(environ={}, keys=all_keys())
    assert [spec.id for spec in CALIBRATION.planned(settings)] == ["calibration[ece]"]
    settings = resolve(cli={"calibration.checks": "nll,garbage-noise-max", "calibration.binning": "equal-mass"}, environ={}, keys=all_keys())
    nll, noise_max = CALIBRATION.planned(settings)
    assert (nll.metric, nll.kind, nll.threshold.resolve(), nll.param("binning")) == ("nll", "ceiling", 1.0, "equal-mass")
    assert (noise_max.metric, noise_max.param("source"), noise_max.param("statistic")) == ("max_confidence", "noise", "max")
    assert noise_max.threshold.resolve() == 0.99
    with pytest.raises(KeyError, match=r"no check calibration\[entropy\]"):
        CALIBRATION.spec("entropy", settings)


@pytest.mark.parametrize(
    "cli, message",
    [
        ({"calibration.checks": "ece,entropy"}, r"invalid value 'entropy' .* for 'calibration.checks\[1\]' .*: expected a calibration check, one of ece, mce"),
        ({"calibration.ece_ceiling": "0.5*clean"}, r"for 'calibration.ece_ceiling' .*: expected a number in \[0, 1\]"),
        ({"calibration.brier_ceiling": "2.5"}, r"for 'calibration.brier_ceiling' .*: expected a number in \[0, 2\]"),
        ({"calibration.nll_ceiling": "-1"}, r"for 'calibration.nll_ceiling' .*: expected a number in \[0, inf\]"),
        ({"calibration.binning": "quantile"}, r"for 'calibration.binning' .*: expected one of 'equal-width', 'equal-mass'"),
        ({"calibration.garbage_ceiling": "1.5"}, r"for 'calibration.garbage_ceiling' .*: expected a number in \[0, 1\], or a relative"),
        ({"calibration.garbage_samples": "0"}, r"for 'calibration.garbage_samples' .*: expected an integer in \[1, 100000\]"),
    ],
)
def test_invalid_settings(cli, message):
    with pytest.raises(ConfigError, match=message):
        resolve(cli=cli, environ={}, keys=all_keys())


# -- calibration under shift ----------------------------------------------------------------------
def test_ece_curves_from_report_checks():
    proba, labels = zoo.random_proba(100, 3, 0)
    ece = expected_calibration_error(proba, labels)
    checks = [
        {"model": "a", "family": "attack", "value": 0.3, "details": {"attack": "pgd", "norm": "linf", "eps": 0.1, "ece": 0.4}},
        {"model": "a", "family": "attack", "value": 0.6, "details": {"attack": "pgd", "norm": "linf", "eps": 0.05, "ece_adversarial": 0.2}},
        {"model": "a", "family": "attack", "value": 0.7, "details": {"attack": "fgsm", "norm": "linf", "eps": 0.05}},  # no ECE
        {"model": "a", "family": "corruption", "value": 0.9, "details": {"corruption": "gaussian_noise", "severity": 5, "ece": ece}},
        {"model": "a", "family": "calibration", "id": "calibration[ece]", "value": 0.02, "details": {}},
        {"model": "b", "family": "accuracy", "value": 0.9, "details": {}},
    ]
    curves = ece_curves(checks)
    assert curves["a"] == {
        "clean_ece": 0.02,
        "corruption": {"gaussian_noise": {"severity": [5], "ece": [ece], "accuracy": [0.9]}},
        "attack": {"pgd-linf": {"eps": [0.05, 0.1], "ece": [0.2, 0.4], "robust_accuracy": [0.6, 0.3]}},
    }
    assert curves["b"] == {"clean_ece": None, "corruption": {}, "attack": {}}
