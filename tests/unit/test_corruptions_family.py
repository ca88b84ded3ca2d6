"""The corruption family: plan and settings, the check on the digits CNN, the overlap machinery,
the ImageNet-C metrics and the Hypothesis strategy."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import zoo
from hypothesis import find, given, settings
from hypothesis import strategies as st

from pytest_mlguard import check_model
from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.config.parse import Threshold
from pytest_mlguard.contract import CallableModel, EvalData
from pytest_mlguard.corruptions import FAMILY, floor_for, selected
from pytest_mlguard.corruptions._metrics import corruption_error, relative_corruption_error, summarize
from pytest_mlguard.corruptions._pipelining import chunk_size, corrupt_images, corrupted_predictions, pipelined
from pytest_mlguard.corruptions._run import BUSY_FOR_THREADS, AutoWorkers, Prefetcher
from pytest_mlguard.corruptions._strategies import CorruptionCase, corruptions
from pytest_mlguard.errors import CheckError, ConfigError, InvalidArgument, NotApplicable

CORRUPTION = family("corruption")


def noise_augmented_model():
    """The digits CNN trained with Gaussian noise of sigma 0.4 on its training images
    (``examples/digits/train.py --noise 0.4``): as accurate as the plain CNN (97.8%)."""
    from model import CLASS_NAMES, MEAN, STD, load_model

    from pytest_mlguard import TorchModel

    net = load_model(zoo.DIGITS / "weights_noise.pt")
    return TorchModel(net, input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="digits-noise")


def make_settings(**cli: str):
    return resolve(cli={"output": "/tmp/mlguard-unit-corruptions", **cli}, environ={}, keys=all_keys())


def run(model, check: str, **cli: str):
    values = {"output": "/tmp/mlguard-unit-corruptions", **cli}
    return check_model(model, zoo.digits(), f"corruption[{check}]", settings=values)[0]


@pytest.fixture(scope="module")
def good():
    return zoo.good_model()


# -- plan and settings -------------------------------------------------------------------------------
def test_plan_expands_groups_and_all_in_registry_order():
    assert selected(("blur", "gaussian_noise", "noise")) == (
        "defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "gaussian_blur",
        "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise",
    )  # fmt: skip
    specs = FAMILY.plan(make_settings(**{"corruption.corruptions": "all", "corruption.severities": "all"}))
    assert len(specs) == 95 and specs[0].id == "corruption[gaussian_noise-1]" and specs[-1].id == "corruption[saturate-5]"
    motion = next(s for s in specs if s.name == "motion_blur-3")
    assert motion.keywords == ("blur", "motion_blur") and motion.params == (("corruption", "motion_blur"), ("severity", 3))


def test_floor_precedence_most_specific_first():
    floors = {
        "corruption.floor": "0.1",
        "corruption.floors.severity-5": "0.2",
        "corruption.floors.blur": "0.3",
        "corruption.floors.blur-5": "0.4",
        "corruption.floors.motion_blur": "0.5*clean",
        "corruption.floors.motion_blur-5": "0.6",
    }
    s = make_settings(**floors)
    assert floor_for("motion_blur", 5, s) == Threshold(0.6)
    assert floor_for("motion_blur", 4, s) == Threshold(0.5, "clean")
    assert floor_for("zoom_blur", 5, s) == Threshold(0.4)
    assert floor_for("zoom_blur", 4, s) == Threshold(0.3)
    assert floor_for("fog", 5, s) == Threshold(0.2)
    assert floor_for("fog", 4, s) == Threshold(0.1)


@pytest.mark.parametrize(
    "cli, message",
    [
        ({"corruption.corruptions": "noize"}, "invalid value 'noize' (type=str) for 'corruption.corruptions[0]' in command line"),
        ({"corruption.severities": "0"}, "for 'corruption.severities[0]'"),
        ({"corruption.floors.severity-6": "0.5"}, "or 'severity-<severity>'"),
        ({"corruption.floors.weather-9": "0.5"}, "invalid value 'weather-9'"),
        ({"corruption.scale": "0"}, "expected 'auto' or a number in (0, 100]"),
        ({"corruption.reference": "imagenet"}, "expected 'auto' or a published set, one of cifar-10-c, tiny-imagenet-c, imagenet-c"),
        ({"corruption.workers": "-1"}, "expected 'auto' or an integer in [0, 64]"),
    ],
)
def test_invalid_settings(cli, message):
    with pytest.raises(ConfigError) as info:
        make_settings(**cli)
    assert message in str(info.value)


def test_make_rejects_unknown_checks():
    with pytest.raises(KeyError, match="expected a check '<corruption>-<severity>'"):
        FAMILY.spec("motion_blur", make_settings())


# -- the check -----------------------------------------------------------------------------------------
def test_check_details_and_relative_floor(good):
    cli = {"corruption.floor": "0.9*clean", "corruption.scale": "0.25", "corruption.reference": "imagenet-c"}
    result = run(good, "motion_blur-5", **cli)
    details = result.details
    assert details["group"] == "blur" and details["severity"] == 5 and details["scale"] == 0.25
    assert details["reference"] == "imagenet-c"
    assert run(good, "motion_blur-5").details["reference"] == "cifar-10-c"  # auto, for 8-pixel images
    assert details["relative_robustness"] == pytest.approx(result.value / details["clean_accuracy"])
    assert result.threshold == pytest.approx(0.9 * details["clean_accuracy"])
    assert 0 < details["mean_abs_change"] < 1 and 0 <= details["ece"] <= 1
    assert details["flipped"] >= round((details["clean_accuracy"] - result.value) * result.n)


def test_a_floor_that_the_samples_leave_undecided_draws_more_of_the_data_until_decided(good):
    """60 of the 360 digits leave a floor of 0.85 under Gaussian noise undecided (inconclusive, and
    passed by policy); before, the corruption checks stopped there. Now the check draws the samples that
    ``samples`` left out, corrupted as the check's own, until the anytime-valid sequence decides."""
    cli = {"samples": "60", "corruption.floor": "0.85"}
    off = run(good, "gaussian_noise-3", **cli, **{"verdict.more_samples": "off"})
    drawn = run(good, "gaussian_noise-3", **cli)
    assert off.label == "inconclusive" and off.n == 60 and off.interval_method == "clopper-pearson"
    assert drawn.label == "passed" and 60 < drawn.n <= 360 and drawn.interval_method == "confidence-sequence"
    assert drawn.details["more_samples"] == {"mode": "sequential", "available": 300, "drawn": drawn.n - 60, "decided": "passed"}
    assert drawn.interval[0] >= 0.85 and "more samples than the 60 of 'samples'" in drawn.message
    assert run(good, "gaussian_noise-3", **cli).value == drawn.value  # the drawn samples are corrupted reproducibly


def test_ece_is_measured_on_the_corrupted_predictions(good):
    from pytest_mlguard.calibration.metrics import expected_calibration_error

    s = make_settings(**{"corruption.workers": "0", "verdict.early_stop": "off"})
    evaluation = Evaluation(good, zoo.digits(), s)
    spec = CORRUPTION.spec("gaussian_noise-5", s)
    result = evaluation.run(CORRUPTION, spec)
    from pytest_mlguard.corruptions._run import check_seed

    again = corrupted_predictions(good, evaluation.data.x, "gaussian_noise", 5, check_seed(spec, evaluation), workers=0)
    assert result.value == pytest.approx(float((again.proba.argmax(1) == evaluation.data.y).mean()))
    assert result.details["ece"] == pytest.approx(expected_calibration_error(again.proba, evaluation.data.y, 15))


def test_same_value_whatever_the_workers_chunks_and_order(good):
    values = {workers: run(good, "shot_noise-4", **{"corruption.workers": workers}).value for workers in ("0", "1", "3")}
    assert len(set(values.values())) == 1, values
    x = zoo.digits().x[:50]
    whole = corrupted_predictions(good, x, "fog", 3, seed=5, workers=0, chunk=50).proba
    chunked = corrupted_predictions(good, x, "fog", 3, seed=5, workers=2, chunk=7).proba
    np.testing.assert_array_equal(whole.argmax(1), chunked.argmax(1))
    np.testing.assert_allclose(whole, chunked, atol=1e-5)  # inference at another batch size: float noise only
    # checks in plan order (with prefetching) and alone give the same results
    s = make_settings(**{"corruption.corruptions": "snow,glass_blur", "corruption.severities": "2,4"})
    evaluation = Evaluation(good, zoo.digits(), s)
    in_order = [evaluation.run(CORRUPTION, spec).value for spec in CORRUPTION.plan(s)]
    alone = [Evaluation(good, zoo.digits(), s).run(CORRUPTION, spec).value for spec in CORRUPTION.plan(s)]
    assert in_order == alone


def test_other_seed_other_corruption(good):
    assert run(good, "impulse_noise-5").value != run(good, "impulse_noise-5", seed="1").value


def test_noise_augmented_model_passes_the_relative_floor_the_plain_model_fails(good):
    # one check, at its own 95%; ImageNet-C's noise (sigma 0.38 at severity 5, CIFAR-10-C's 0.10)
    floor = {"corruption.floor": "0.82*clean", "verdict.error_control": "none", "corruption.reference": "imagenet-c"}
    plain, augmented = run(good, "gaussian_noise-5", **floor), run(noise_augmented_model(), "gaussian_noise-5", **floor)
    assert not plain.passed and augmented.passed, (plain.verdict(), augmented.verdict())
    assert plain.details["clean_accuracy"] == pytest.approx(augmented.details["clean_accuracy"], abs=0.02)


def test_failing_check_saves_the_flipped_inputs(good, tmp_path):
    cli = {"corruption.floor": "0.95*clean", "corruption.reference": "imagenet-c"}
    result = run(good, "gaussian_noise-5", output=str(tmp_path), **cli)
    assert not result.passed and "saved in" in result.message
    clean, corrupted = (np.load(tmp_path / "artifacts" / "digits-corruption_gaussian_noise-5_" / f"{k}.npy") for k in ("clean", "corrupted"))
    assert clean.shape == corrupted.shape and clean.shape[1:] == (1, 8, 8) and 0 < len(clean) <= 16
    assert [e["file"].endswith(".npy") for e in result.details["examples"]] == [True, True]


def test_saturate_does_not_apply_to_gray_and_tabular_models_cannot_run(good):
    with pytest.raises(NotApplicable, match="saturate changes colour only"):
        run(good, "saturate-3")
    tabular = CallableModel(lambda x: np.full((len(x), 2), 0.5), input_shape=(64,), n_classes=2)
    s = make_settings()
    with pytest.raises(CheckError, match="corruptions apply to images"):
        Evaluation(tabular, EvalData(np.zeros((4, 64)), [0, 1, 0, 1]), s).run(CORRUPTION, CORRUPTION.spec("fog-1", s))


def test_colour_model_in_0_255_units():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(12, 3, 16, 16)).astype(np.float32)

    def brightness_model(batch: np.ndarray) -> np.ndarray:
        bright = batch.mean(axis=(1, 2, 3)) > 140
        return np.stack([~bright, bright], axis=1).astype(np.float32)

    model = CallableModel(brightness_model, input_shape=(3, 16, 16), n_classes=2, value_range=(0, 255))
    data = EvalData(x, (x.mean(axis=(1, 2, 3)) > 140).astype(int))
    s = make_settings(**{"corruption.workers": "1"})
    results = [Evaluation(model, data, s).run(CORRUPTION, CORRUPTION.spec(f"brightness-{sev}", s)) for sev in (1, 5)]
    assert results[0].value > results[1].value, "brighter images flip a brightness threshold"


def test_chunk_size_and_pipelined_order_and_errors():
    assert chunk_size(zoo.good_model(), 360) == 180
    seen: list[int] = []
    lock = threading.Lock()

    def produce(i: int) -> int:
        time.sleep(0.002 * (i % 3))
        with lock:
            seen.append(i)
        return i * i

    assert list(pipelined(range(10), produce, workers=3)) == [i * i for i in range(10)]
    assert list(pipelined(range(4), produce, workers=0)) == [0, 1, 4, 9]

    def boom(i: int) -> int:
        raise ValueError(f"chunk {i}")

    with pytest.raises(ValueError, match="chunk 0"):
        list(pipelined(range(3), boom, workers=1))


def test_auto_workers_thread_only_where_inference_leaves_the_cpu_idle(good):
    """A model behind an API (here: one that sleeps) leaves the CPU free: after the first check, a
    thread corrupts ahead of inference; the torch CNN on CPU keeps a core busy: no thread. The
    results do not depend on it."""

    def remote(batch: np.ndarray) -> np.ndarray:
        time.sleep(0.2)
        return good.predict_proba(batch)

    model = CallableModel(remote, input_shape=(1, 8, 8), n_classes=10, name="remote")
    s = make_settings(**{"corruption.corruptions": "gaussian_noise", "corruption.severities": "1,2", "verdict.early_stop": "off"})
    evaluation = Evaluation(model, zoo.digits(), s)
    first, second = (evaluation.run(CORRUPTION, spec) for spec in CORRUPTION.plan(s))
    assert (first.details["workers"], second.details["workers"]) == (0, 1)
    local = Evaluation(good, zoo.digits(), s)
    workers = [local.run(CORRUPTION, spec).details["workers"] for spec in CORRUPTION.plan(s)]
    busy = local.memo(("corruption-auto-workers",), AutoWorkers).busy  # cores the CNN kept busy (less on a loaded machine)
    assert workers == [0, 0 if busy >= BUSY_FOR_THREADS else 1]
    serial = make_settings(
        **{"corruption.corruptions": "gaussian_noise", "corruption.severities": "1,2", "corruption.workers": "0", "verdict.early_stop": "off"}
    )
    assert second.value == Evaluation(model, zoo.digits(), serial).run(CORRUPTION, CORRUPTION.spec("gaussian_noise-2", serial)).value


def test_prefetcher_only_prefetches_in_plan_order(good):
    s = make_settings(**{"corruption.corruptions": "noise", "corruption.severities": "1"})
    plan = CORRUPTION.plan(s)
    evaluation = Evaluation(good, zoo.digits(), s)
    prefetcher = Prefetcher()
    prefetcher.after(plan[0], evaluation)
    assert prefetcher.take(plan[1].id) is not None
    prefetcher.after(plan[1], evaluation)
    prefetcher.after(plan[3], evaluation)  # skipped plan[2]: out of order, nothing prefetched
    assert prefetcher.take(plan[2].id) is None


def test_no_corrupting_thread_before_the_checks_or_after_them(good):
    """Building the family's objects starts no thread; the threads that corrupt ahead of inference
    (``corruption.workers``) and prefetch the next check's first chunk end with their work."""

    def corrupting() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith(("mlguard-prefetch", "mlguard-corrupt"))]

    before = corrupting()
    Prefetcher(), AutoWorkers()
    assert corrupting() == before
    s = make_settings(samples="60", **{"corruption.corruptions": "gaussian_noise", "corruption.severities": "1,2,3", "corruption.workers": "1", "verdict.early_stop": "off"})
    evaluation = Evaluation(good, zoo.digits(), s)
    assert [evaluation.run(CORRUPTION, spec).details["workers"] for spec in CORRUPTION.plan(s)] == [1, 1, 1]
    evaluation.memo(("corruption-prefetcher",), Prefetcher).drain()
    for thread in set(corrupting()) - set(before):
        thread.join(timeout=2)
    assert [t.name for t in corrupting() if t not in before] == []


def test_corrupting_threads_end_when_inference_raises():
    # the failed check's exception is kept (pytest reports it): its traceback must not keep the threads waiting
    calls = []

    def fails(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        if len(calls) == 2:  # on the second chunk, while a thread corrupts the third
            raise RuntimeError("the model server went away")
        return np.full((len(batch), 2), 0.5, np.float32)

    model = CallableModel(fails, input_shape=(1, 8, 8), n_classes=2, batch_size=4)
    with pytest.raises(RuntimeError, match="went away") as raised:
        corrupted_predictions(model, np.zeros((16, 1, 8, 8), np.float32), "gaussian_noise", 1, 0, workers=1, chunk=4)
    assert raised.value.__traceback__ is not None
    assert [t.name for t in threading.enumerate() if t.name.startswith("mlguard-corrupt")] == []


def test_corrupt_images_rows_do_not_depend_on_the_batch():
    x = np.random.default_rng(1).random((6, 9, 9, 3)).astype(np.float32)
    whole = corrupt_images(x, "elastic_transform", 5, seed=3)
    np.testing.assert_array_equal(corrupt_images(x[4:], "elastic_transform", 5, seed=3, start=4), whole[4:])


# -- metrics ------------------------------------------------------------------------------------------
def check(model, name, severity, value, clean=0.9, ece=0.05):
    group = {"fog": "weather", "motion_blur": "blur", "gaussian_noise": "noise"}[name]
    details = {"corruption": name, "severity": severity, "group": group, "clean_accuracy": clean, "ece": ece}
    return {"id": f"corruption[{name}-{severity}]", "model": model, "family": "corruption", "value": value, "details": details}


def test_corruption_error_as_in_the_paper():
    # Hendrycks & Dietterich: CE = sum of errors / sum of the baseline's; relative CE subtracts clean errors
    assert corruption_error([0.3, 0.5], [0.6, 1.0]) == pytest.approx(0.5)
    assert relative_corruption_error([0.3, 0.5], 0.1, [0.6, 1.0], 0.2) == pytest.approx((0.2 + 0.4) / (0.4 + 0.8))
    assert corruption_error([0.1], [0.0]) is None
    with pytest.raises(ValueError, match="same severities"):
        corruption_error([0.1, 0.2], [0.1])


def test_summary_curves_means_and_mce_against_a_baseline():
    checks = [check("m", "fog", 1, 0.8), check("m", "fog", 3, 0.6), check("m", "motion_blur", 1, 0.7), check("m", "motion_blur", 3, 0.75)]
    base = [check("m", "fog", 1, 0.6, clean=0.8), check("m", "fog", 3, 0.4, clean=0.8), check("m", "motion_blur", 1, 0.5, clean=0.8)]
    summary = summarize(checks, base)["m"]
    assert summary["mean_corruption_accuracy"] == pytest.approx(0.7125)
    assert summary["relative_robustness"] == pytest.approx(0.7125 / 0.9)
    assert summary["curves"]["fog"] == {
        "group": "weather", "severity": [1, 3], "accuracy": [0.8, 0.6], "ece": [0.05, 0.05], "mean_abs_change": [None, None],
    }  # fmt: skip
    assert summary["groups"]["blur"]["accuracy"] == [0.7, 0.75]
    assert summary["corruptions"]["motion_blur"]["non_increasing"] is False
    fog_ce = (0.2 + 0.4) / (0.4 + 0.6)
    blur_ce = 0.3 / 0.5  # only severity 1 is in both reports
    assert summary["corruptions"]["fog"]["ce"] == pytest.approx(fog_ce)
    assert summary["corruptions"]["motion_blur"]["ce_severities"] == [1]
    assert summary["mce"] == pytest.approx((fog_ce + blur_ce) / 2)
    assert summary["relative_mce"] == pytest.approx(((0.1 + 0.3) / (0.2 + 0.4) + 0.2 / 0.3) / 2)
    assert summarize(checks, [check("other", "fog", 1, 0.5), check("third", "fog", 1, 0.5)])["m"]["baseline"]["model"] is None
    assert summarize(checks, checks)["m"]["mce"] == pytest.approx(1.0)


# -- the Hypothesis strategy ------------------------------------------------------------------------------
def test_strategy_shrinks_to_the_least_severe_corruption_that_breaks_a_property():
    """The top-1 class of a brightness-threshold model survives brightness up to some severity: the
    minimal failing example is the least severe brightness that flips it."""
    image = np.full((8, 8), 0.45, np.float32)
    flips_at = next(s for s in range(1, 6) if CorruptionCase("brightness", s).apply(image).mean() > 0.7)
    found = find(corruptions("brightness"), lambda case: case.apply(image).mean() > 0.7)
    assert found == CorruptionCase("brightness", flips_at, 0) and flips_at > 1
    noisy = find(corruptions(["gaussian_noise", "fog"]), lambda case: case.severity >= 3)
    assert noisy == CorruptionCase("gaussian_noise", 3, 0)


@given(case=corruptions("digital", severities=range(1, 3)))
@settings(max_examples=10, deadline=None)
def test_strategy_draws_within_its_arguments(case):
    assert case.corruption in ("contrast", "elastic_transform", "pixelate", "jpeg_compression", "saturate")
    assert case.severity in (1, 2)
    batch = np.zeros((2, 6, 6, 3), np.uint8)
    assert case.apply_batch(batch).shape == batch.shape


@given(case=corruptions(st.sampled_from(["fog", "snow"]), severities=st.integers(4, 5), seeds=7))
@settings(max_examples=5, deadline=None)
def test_strategy_arguments_may_be_strategies(case):
    assert case.corruption in ("fog", "snow") and case.severity >= 4 and case.seed == 7


@pytest.mark.parametrize(
    "strategy, message",
    [
        (lambda: corruptions("blurr"), "but got names='blurr' (type=str)"),
        (lambda: corruptions([]), "but got names=[] (type=list)"),
        (lambda: corruptions(severities=6), "Expected a severity, an int in 1..5 but got severities=6"),
        (lambda: corruptions(severities=[]), "but got severities=[] (type=list)"),
        (lambda: corruptions(severities=st.just(9)), "but got severities=9"),
        (lambda: corruptions(seeds=-1), "but got seeds=-1"),
        (lambda: corruptions(st.just("nope")), "but got names='nope'"),
    ],
)
def test_strategy_validates_on_first_use(strategy, message):
    lazy = strategy()  # no error yet
    with pytest.raises(InvalidArgument) as info:
        find(lazy, lambda case: True)
    assert message in str(info.value)


def test_a_prefetched_chunk_larger_than_the_check_is_not_used(good):
    """A budget can leave a check fewer samples than the chunk the prefetcher prepared for it."""
    from concurrent.futures import Future

    from pytest_mlguard.corruptions._pipelining import corrupt_chunk

    x = zoo.digits().x
    first: Future = Future()
    first.set_result(corrupt_chunk(good, x[:60], "gaussian_noise", 3, 7, 0, None))
    limited = corrupted_predictions(good, x[:30], "gaussian_noise", 3, 7, workers=0, first=first)
    alone = corrupted_predictions(good, x[:30], "gaussian_noise", 3, 7, workers=0)
    assert limited.proba.shape == (30, 10) and np.array_equal(limited.proba, alone.proba)
