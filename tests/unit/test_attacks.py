"""The attack family: registry and settings, the ART adapters, metrics against independent code, the
soundness probes against broken models, and what an attack leaves behind."""

from __future__ import annotations

import json
import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import zoo

from pytest_mlguard.attacks import UnsoundEvaluationWarning
from pytest_mlguard.attacks._adapters import QueryLog
from pytest_mlguard.attacks._build import hopskipjump_schedule
from pytest_mlguard.attacks._metrics import curve_from_masks, minimal_norms, perturbation_norms, robust_curve
from pytest_mlguard.attacks._registry import ATTACKS, parse_attack_id
from pytest_mlguard.attacks.run import load_adversarial
from pytest_mlguard.attacks._soundness import black_box_beats_white_box, clean_mismatch, rising
from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.contract import CallableModel, SklearnModel
from pytest_mlguard import check_model
from pytest_mlguard.errors import CheckError, ConfigError, NotApplicable
from pytest_mlguard.fixture import MlguardFixture

KEYS = all_keys()
ATTACK = family("attack")


def settings(**cli):
    return resolve(cli={k.replace("__", "."): str(v) for k, v in cli.items()}, environ={}, keys=KEYS)


def run(model, check, tmp_path, **cli):
    """One attack check on the digits test split (``attack.samples`` of it), reports under tmp_path."""
    values = {"output": tmp_path, **cli}
    (result,) = check_model(model, zoo.digits(), f"attack[{check}]", settings={k.replace("__", "."): str(v) for k, v in values.items()})
    return result


# -- registry and settings ---------------------------------------------------------------------------


def test_check_ids_parse_and_keep_their_spelling():
    assert parse_attack_id("pgd-linf-8/255").eps == pytest.approx(8 / 255)
    assert parse_attack_id("pgd-linf-8/255").name == "pgd-linf-8/255"
    sweep = parse_attack_id("pgd-l2-sweep")
    assert (sweep.sweep, sweep.eps, sweep.name) == (True, None, "pgd-l2-sweep")
    minimal = parse_attack_id("deepfool-l2")
    assert (minimal.minimal, minimal.eps, minimal.name) == (True, None, "deepfool-l2")
    assert {a.access for a in ATTACKS.values()} == {"gradients", "scores", "decisions"}


@pytest.mark.parametrize(
    "cli, message",
    [
        ({"attack.checks": "pgd-l3-0.1"}, "expected an attack check such as 'pgd-linf-0.1'"),
        ({"attack.checks": "foo-linf-0.1"}, "expected an attack name, one of fgsm, pgd, autoattack, cw, deepfool, square, hopskipjump"),
        ({"attack.checks": "deepfool-linf"}, "expected a norm of 'deepfool', one of l2"),
        ({"attack.checks": "deepfool-l2-0.5"}, "expected 'deepfool-l2' without an epsilon: deepfool is a minimal-perturbation attack"),
        ({"attack.checks": "pgd-linf"}, "expected an epsilon or 'sweep' after 'pgd-linf-'"),
        ({"attack.checks": "square-l2-1/0"}, "expected a positive epsilon such as 0.1 or 8/255"),
        ({"attack.sweep": "0.1,0.05"}, "for 'attack.sweep' in command line (--mlguard-set attack.sweep=...): expected a non-empty list of epsilons in increasing order"),
        ({"attack.sweep_l2": "0.1,x"}, "invalid value 'x' (type=str) for 'attack.sweep_l2[1]'"),
        ({"attack.params.pgd.stepz": "3"}, "invalid value 'stepz' (type=str) for 'attack.params.pgd' in command line (--mlguard-set attack.params.pgd.stepz=...): expected a parameter of pgd, one of steps, step_size, restarts"),
        ({"attack.params.square.queries": "0"}, "for 'attack.params.square.queries' in command line (--mlguard-set attack.params.square.queries=...): expected an integer in [1, 10000000]"),
        ({"attack.params.fgsm.steps": "3"}, "expected a parameter of fgsm, none: it has no parameters"),
        ({"attack.params.pdg.steps": "3"}, "invalid value 'pdg' (type=str) for 'attack.params'"),
        ({"attack.floors.deepfool-l2": "0.5*clean"}, "for 'attack.floors.deepfool-l2' in command line (--mlguard-set attack.floors.deepfool-l2=...): expected a radius >= 0 in raw input units: deepfool-l2 is a minimal attack"),
        ({"attack.floors.pgd-linf-0.1": "1.5"}, "expected a number in [0, 1], or a relative threshold"),
        ({"attack.soundness": "ignore"}, "for 'attack.soundness' in command line (--mlguard-set attack.soundness=...): expected one of 'fail', 'warn'"),
        ({"attack.tolerance": "2"}, "for 'attack.tolerance' in command line (--mlguard-set attack.tolerance=...): expected a number in [0, 1]"),
    ],
)
def test_invalid_attack_settings_name_key_value_and_place(cli, message):
    with pytest.raises(ConfigError) as info:
        settings(**cli)
    assert message in str(info.value)


def test_params_merge_per_attack_and_floors_resolve_per_check():
    s = resolve(
        cli={"attack.params.pgd.restarts": "2", "attack.floors.deepfool": "0.3"},
        files=[],
        marker={"attack.params": {"pgd": {"steps": 20, "step_size": 0.1}}, "attack.steps": 7},
        environ={},
        keys=KEYS,
    )
    pgd = ATTACK.spec("pgd-linf-0.1", s)
    assert dict(pgd.param("params")) == {"steps": 20, "step_size": 0.1, "restarts": 2}
    assert dict(ATTACK.spec("autoattack-linf-0.1", s).param("params"))["steps"] == 100
    deepfool = ATTACK.spec("deepfool-l2", s)
    assert (deepfool.metric, deepfool.threshold.resolve()) == ("median_perturbation", 0.3)
    assert ATTACK.spec("pgd-l2-sweep", s).metric == "mean_robust_accuracy"
    assert ATTACK.spec("pgd-l2-sweep", s).param("sweep") == (0.125, 0.25, 0.5, 1.0, 2.0)


# -- pure metrics and probes against independent code -------------------------------------------------


def test_perturbation_norms_match_torch():
    rng = np.random.default_rng(0)
    x, x_adv = rng.uniform(size=(5, 1, 8, 8)), rng.uniform(size=(5, 1, 8, 8))
    delta = torch.from_numpy(x_adv - x).flatten(1)
    assert np.allclose(perturbation_norms(x, x_adv, "l2"), torch.linalg.vector_norm(delta, 2, dim=1).numpy())
    assert np.allclose(perturbation_norms(x, x_adv, "linf"), torch.linalg.vector_norm(delta, float("inf"), dim=1).numpy())


def test_minimal_norms_and_their_curve():
    x = np.zeros((4, 1, 2, 2))
    x_adv = x.copy()
    x_adv[0, 0, 0, 0] = 0.5  # flipped at 0.5
    y, clean, adv = np.array([0, 0, 0, 0]), np.array([0, 0, 1, 0]), np.array([1, 0, 1, 0])
    norms = minimal_norms(x, x_adv, y, clean, adv, "l2", (0.0, 1.0))
    assert norms.tolist() == [0.5, 2.0, 0.0, 2.0]  # failed attacks: the L2 diameter of the box, sqrt(4)
    assert robust_curve(norms, [0.1, 1.0, 3.0]) == [0.75, 0.5, 0.0]


def test_sound_curve_keeps_a_sample_broken_once_broken():
    masks = [np.array([True, True, False]), np.array([True, False, True]), np.array([False, False, True])]
    raw, sound, inconsistent = curve_from_masks(masks)
    assert raw == pytest.approx([2 / 3, 2 / 3, 1 / 3])
    assert sound == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert inconsistent == 1
    assert rising([0.5, 0.4, 0.3], [1, 2, 3], 0.0) is None
    assert rising([0.5, 0.4, 0.45], [1, 2, 3], 0.02)["code"] == "rising-with-epsilon"
    assert black_box_beats_white_box(("pgd", 0.6), ("square", 0.59), 0.1, 0.02) is None
    assert black_box_beats_white_box(("pgd", 0.6), ("square", 0.5), 0.1, 0.02)["code"] == "black-box-beats-white-box"
    assert clean_mismatch(np.array([0, 1]), np.array([0, 1]), np.array([0, 0])) is None
    assert clean_mismatch(np.array([0, 1]), np.array([0, 0]), np.array([0, 0]))["differ"] == 1


def test_query_log_evaluates_each_distinct_row_once_and_counts():
    calls = []
    log = QueryLog()

    def compute(rows):
        calls.append(len(rows))
        return rows.reshape(len(rows), -1)[:, :2] * 2

    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    first = log.predict(np.concatenate([x, x[:1]]), compute)
    again = log.predict(x[::-1], compute)
    assert np.array_equal(first[:3], x[:, :2] * 2) and np.array_equal(again, x[::-1, :2] * 2)
    assert calls == [3] and (log.evaluations, log.requested) == (3, 7)
    log.gradients(torch.tensor([[0.0, 0.0], [1.0, float("nan")], [0.0, 2.0]]))
    assert (log.gradient_rows, log.zero_gradient_rows, log.nonfinite_gradient_rows) == (3, 1, 1)


@pytest.mark.parametrize("queries", [50, 300, 1000, 5000])
def test_hopskipjump_schedule_keeps_to_the_budget(queries):
    iterations, max_eval, init_eval = hopskipjump_schedule(queries, 100)
    spent = sum(min(int(init_eval * math.sqrt(i + 1)), max_eval) + 25 for i in range(iterations))
    assert iterations >= 1 and (spent <= queries or iterations == 1)


class _Built:
    def __init__(self, art, *args, **kwargs):
        self.art, self.args, self.kwargs = art, args, kwargs


class _Evasion:
    """A stand-in for ``art.attacks.evasion`` that records which attack is built, and how."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: _Built(name, *args, **kwargs)


class _Params(dict):
    def __missing__(self, key):
        return 3


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_every_preset_has_a_builder_of_its_art_attack_quiet_and_batched(attack):
    """make_attack is a table: every registry preset builds the ART attack it names, with the check's
    batch size and ART's progress bars off; an unknown attack says which are known."""
    from pytest_mlguard.attacks._build import _BUILDERS, make_attack

    built = _BUILDERS[attack](_Evasion(), SimpleNamespace(nb_classes=10), "linf", 0.1, _Params(), 7)
    assert built.art == ATTACKS[attack].art and built.kwargs["batch_size"] == 7
    assert built.kwargs.get("verbose", False) is False
    with pytest.raises(ValueError, match="unknown attack 'nope'; expected one of fgsm, pgd"):
        make_attack(None, "nope", "linf", 0.1, {}, batch_size=7)


# -- against an independent PGD ----------------------------------------------------------------------


def independent_pgd(module, x, y, eps, steps, norm):
    """Madry et al.'s PGD from the clean input in a few lines of torch (step 2.5 * eps / steps)."""
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    step = np.float32(2.5 * eps / steps)
    adv = x.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(module(adv), y), adv)
        if norm == "linf":
            direction = grad.sign()
        else:
            direction = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-30).reshape(-1, 1, 1, 1)
        adv = (adv.detach() + step * direction).clamp(0, 1)
        delta = adv - x
        if norm == "linf":
            delta = delta.clamp(-eps, eps)
        else:
            delta = delta * (eps / delta.flatten(1).norm(dim=1).clamp_min(1e-30)).clamp(max=1).reshape(-1, 1, 1, 1)
        adv = x + delta
    return adv.detach().numpy()


@pytest.mark.parametrize("check, norm, eps", [("pgd-linf-0.1", "linf", 0.1), ("pgd-l2-0.5", "l2", 0.5)])
def test_pgd_agrees_with_an_independent_pgd(check, norm, eps, tmp_path):
    model = zoo.good_model()
    data = zoo.digits()
    x, y = data.x[:96], data.y[:96]
    fixture = MlguardFixture(lambda: Evaluation(model, data, settings(output=tmp_path, **{"attack.batch_size": 96})))
    ours = fixture.attack(check, x, y)
    theirs = independent_pgd(model.raw_module().eval(), x, y, eps, 10, norm)
    assert np.abs(ours - theirs).max() < 1e-5
    assert not np.array_equal(ours, x)


# -- the model is left as it was ---------------------------------------------------------------------


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_attack_inside_no_grad_leaves_the_model_exactly_as_it_was(context, tmp_path):
    model = zoo.good_model()
    module = model.module
    module.train()
    module.head.eval()
    module.features[0].weight.requires_grad_(False)
    module.head[1].bias.grad = torch.ones_like(module.head[1].bias)
    grad = module.head[1].bias.grad
    modes = [m.training for m in module.modules()]
    flags = [p.requires_grad for p in module.parameters()]
    values = [p.detach().clone() for p in module.parameters()]
    np.random.seed(123)
    torch.manual_seed(123)
    user_random = (np.random.random(), torch.rand(1))
    np.random.seed(123)
    torch.manual_seed(123)
    with context():
        result = run(model, "pgd-linf-0.1", tmp_path, **{"attack.samples": 40})
        adversarial = MlguardFixture(lambda: Evaluation(model, zoo.digits(), settings(output=tmp_path))).attack(
            "fgsm-linf-0.1", zoo.digits().x[:8], zoo.digits().y[:8]
        )
    assert result.value < result.details["clean_accuracy"] and np.abs(adversarial - zoo.digits().x[:8]).max() > 0
    assert [m.training for m in module.modules()] == modes
    assert [p.requires_grad for p in module.parameters()] == flags
    assert module.head[1].bias.grad is grad and all(p.grad is None for p in module.features.parameters())
    assert all(torch.equal(p, v) and p.device.type == "cpu" for p, v in zip(module.parameters(), values))
    assert (np.random.random(), torch.rand(1)) == user_random  # the attacks' seeding restored the global generators


def test_attack_prints_no_progress_bars(capfd, tmp_path):
    run(zoo.good_model(), "pgd-linf-0.1", tmp_path, **{"attack.samples": 20})
    run(zoo.good_model(), "square-linf-0.1", tmp_path, **{"attack.samples": 20, "attack.queries": 5})
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


# -- metrics of a check, saved outcomes, replay -------------------------------------------------------


def test_adversarial_ece_matches_torchmetrics(tmp_path):
    from torchmetrics.functional.classification import multiclass_calibration_error

    model = zoo.good_model()
    result = run(model, "fgsm-linf-0.1", tmp_path, **{"verdict.early_stop": "off"})
    evaluation = Evaluation(model, zoo.digits(), settings(output=tmp_path, **{"verdict.early_stop": "off"}))
    x_adv = MlguardFixture(lambda: evaluation).attack("fgsm-linf-0.1")
    proba = torch.from_numpy(model.predict_proba(x_adv)).double()
    labels = torch.from_numpy(evaluation.data.y)
    expected = multiclass_calibration_error(proba, labels, num_classes=10, n_bins=15, norm="l1")
    assert result.details["ece_adversarial"] == pytest.approx(float(expected), abs=1e-6)
    clean = multiclass_calibration_error(
        torch.from_numpy(model.predict_proba(evaluation.data.x)).double(), labels, num_classes=10, n_bins=15, norm="l1"
    )
    assert result.details["clean_ece"] == pytest.approx(float(clean), abs=1e-6)
    assert result.details["clean_ece"] < result.details["ece_adversarial"]


def test_per_sample_outcomes_are_saved_and_replay(tmp_path):
    model = zoo.good_model()
    result = run(model, "pgd-linf-0.1", tmp_path, **{"attack.samples": 80})
    directory = result.details["artifacts"]
    outcomes = json.loads((tmp_path / "artifacts").joinpath(directory.rsplit("/", 1)[-1], "outcomes.json").read_text())
    saved = load_adversarial(directory)
    flipped = [f["index"] for f in result.details["flipped"]]
    assert saved["index"].tolist() == flipped == [i for i, f in enumerate(outcomes["flipped"]) if f]
    assert np.array_equal(model.predict(saved["x_adv"]), saved["adversarial_class"])
    assert (saved["adversarial_class"] != saved["y"]).all() and (model.predict(saved["x"]) == saved["y"]).all()
    assert np.abs(saved["x_adv"] - saved["x"]).max() <= 0.1 + 1e-6
    assert result.details["soundness"] == {"mode": "fail", "problems": []}
    assert result.details["model_evaluations"] >= 80 * 10 and result.details["seeded"] is True


def test_sweep_is_a_falling_curve_and_its_mean(tmp_path):
    result = run(zoo.good_model(), "pgd-linf-sweep", tmp_path, **{"attack.samples": 64, "attack.sweep": "0.02,0.05,0.1,0.2"})
    curve = result.details["curve"]
    assert curve["eps"] == [0.02, 0.05, 0.1, 0.2]
    assert curve["robust_accuracy"] == sorted(curve["robust_accuracy"], reverse=True)
    assert result.value == pytest.approx(np.mean(curve["robust_accuracy"]))
    assert curve["robust_accuracy"][-1] < curve["robust_accuracy"][0]


def test_deepfool_reports_the_distribution_of_minimal_perturbations(tmp_path):
    result = run(zoo.good_model(), "deepfool-l2", tmp_path, **{"attack.samples": 32, "attack.params.deepfool.steps": 6})
    details = result.details
    saved = load_adversarial(details["artifacts"])
    norms = np.linalg.norm((saved["x_adv"] - saved["x"]).reshape(len(saved["x"]), -1), axis=1)
    assert details["perturbation"]["flipped"]["median"] == pytest.approx(np.median(norms), rel=1e-5)
    assert 0 < result.value < details["perturbation"]["box_diameter"]
    assert details["curve"]["robust_accuracy"] == sorted(details["curve"]["robust_accuracy"], reverse=True)
    assert result.metric == "median_perturbation" and "clean_accuracy" not in details


@pytest.mark.slow
@pytest.mark.parametrize(
    "check, cli",
    [
        ("cw-l2", {"attack.params.cw.search_steps": 3}),
        ("autoattack-linf-0.1", {"attack.params.autoattack.steps": 5, "attack.queries": 10}),
    ],
)
def test_carlini_wagner_and_autoattack_run(check, cli, tmp_path):
    result = run(zoo.good_model(), check, tmp_path, **{"attack.samples": 16, **cli})
    assert result.details["success_rate"] > 0 and not math.isnan(result.value)


# -- floors and early stopping -----------------------------------------------------------------------


def test_adversarially_trained_model_passes_the_pgd_floor_the_plain_model_fails(tmp_path):
    floor = {"attack.floors.pgd-linf-0.1": "0.75"}
    adversarial = run(zoo.adversarial_model(), "pgd-linf-0.1", tmp_path, **floor)
    plain = run(zoo.good_model(), "pgd-linf-0.1", tmp_path, **floor)
    assert adversarial.passed and adversarial.value > 0.8, adversarial.verdict()
    assert not plain.passed and plain.value < 0.6, plain.verdict()


@pytest.mark.parametrize("mode", ["exact", "sequential"])
@pytest.mark.parametrize("model, floor, passes", [(zoo.good_model, 0.25, True), (zoo.linear_model, 0.4, False)])
def test_early_stop_keeps_the_verdict_and_saves_evaluations(model, floor, passes, mode, tmp_path):
    cli = {"attack.floor": str(floor), "attack.batch_size": 32, "attack.samples": 120, "verdict.error_control": "none"}
    full = run(model(), "pgd-linf-0.1", tmp_path, **cli, **{"verdict.early_stop": "off"})
    early = run(model(), "pgd-linf-0.1", tmp_path, **cli, **{"verdict.early_stop": mode})
    stop = early.details["early_stop"]
    assert full.passed is early.passed is passes
    assert stop["stopped"] and stop["decision"] == ("passed" if passes else "failed") and stop["mode"] == mode
    assert stop["evaluations_saved"] > 0 and early.evaluations < full.evaluations
    assert early.evaluations_saved == stop["evaluations_saved"] and early.n == stop["samples_used"] < full.n
    if mode == "exact":  # the bound that decided the full run's verdict
        assert (early.value <= full.value) if passes else (early.value >= full.value)
    else:  # the estimate with its confidence sequence, which excludes the floor
        low, high = early.interval
        assert early.interval_method == "confidence-sequence" and ((low > floor) if passes else (high < floor))
    assert full.interval_method.endswith("clopper-pearson") and full.interval[0] <= full.value <= full.interval[1]


# -- soundness: the zoo's broken models are flagged -----------------------------------------------------


def test_a_robust_accuracy_floor_the_samples_leave_undecided_draws_more_of_the_data(tmp_path):
    """60 digits leave a robust-accuracy floor of 0.45 under FGSM undecided (inconclusive); before, the
    attack checks stopped there. Now the check attacks samples that ``samples`` left out (a sample the
    model gets wrong counts as broken) until the anytime-valid sequence decides."""
    cli = {"samples": 60, "attack__floor": 0.45}
    off = run(zoo.good_model(), "fgsm-linf-0.1", tmp_path, verdict__more_samples="off", **cli)
    drawn = run(zoo.good_model(), "fgsm-linf-0.1", tmp_path, **cli)
    assert off.label == "inconclusive" and off.n == 60 and off.interval_method == "clopper-pearson"
    assert drawn.label == "passed" and 60 < drawn.n <= 360 and drawn.interval_method == "confidence-sequence"
    assert drawn.details["more_samples"]["drawn"] == drawn.n - 60 and drawn.interval[0] >= 0.45
    assert "more samples than the 60 of 'samples'" in drawn.message


def test_gradient_masking_fails_the_check_or_warns(tmp_path):
    failed = run(zoo.rounding_model(), "pgd-linf-0.1", tmp_path, **{"attack.samples": 48})
    assert math.isnan(failed.value) and not failed.passed
    assert failed.details["untrusted_value"] == failed.details["clean_accuracy"]  # PGD could not move at all
    assert "unsound evaluation" in failed.message and "zero-gradients: the loss gradient was exactly zero for 100%" in failed.message
    with pytest.warns(UnsoundEvaluationWarning, match="exactly zero"):
        warned = run(zoo.rounding_model(), "pgd-linf-0.1", tmp_path, **{"attack.samples": 48, "attack.soundness": "warn"})
    assert warned.passed and warned.value == warned.details["clean_accuracy"]


def test_black_box_attack_beating_the_white_box_one_is_flagged(tmp_path):
    s = settings(output=tmp_path, **{"attack.samples": 48, "attack.queries": 30, "attack.soundness": "warn"})
    evaluation = Evaluation(zoo.rounding_model(), zoo.digits(), s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsoundEvaluationWarning)
        white = evaluation.run(ATTACK, ATTACK.spec("pgd-linf-0.1", s))
        black = evaluation.run(ATTACK, ATTACK.spec("square-linf-0.1", s))
    codes = [p["code"] for p in black.details["soundness"]["problems"]]
    assert codes == ["black-box-beats-white-box"] and black.value < white.value


def test_an_unsound_check_quotes_one_number_the_sound_one_where_there_is_one(tmp_path):
    """Issue 12: when Square beats PGD the value is the black-box robust accuracy (an upper bound) with
    its own interval, and the check fails for the soundness problem; without a sound measurement the
    value is nan with no interval of the untrusted one."""
    s = settings(output=tmp_path, **{"attack.samples": 48, "attack.queries": 30, "verdict.early_stop": "off"})
    evaluation = Evaluation(zoo.rounding_model(), zoo.digits(), s)
    white = evaluation.run(ATTACK, ATTACK.spec("pgd-linf-0.1", s))
    black = evaluation.run(ATTACK, ATTACK.spec("square-linf-0.1", s))
    assert math.isnan(white.value) and white.interval is None and not white.passed
    assert white.details["failure"] == "unsound evaluation (zero-gradients)"
    assert not black.passed and black.value == black.details["untrusted_value"] < white.details["untrusted_value"]
    assert black.interval[0] <= black.value <= black.interval[1] and black.value >= black.threshold  # fails all the same
    assert black.verdict().endswith("fails, unsound evaluation (black-box-beats-white-box)")
    again = Evaluation(zoo.rounding_model(), zoo.digits(), s)  # the other order: PGD's check takes Square's value
    first = again.run(ATTACK, ATTACK.spec("square-linf-0.1", s))
    second = again.run(ATTACK, ATTACK.spec("pgd-linf-0.1", s))
    assert first.passed and second.value == first.value and not second.passed and second.interval == first.interval


def test_robust_accuracy_rising_with_epsilon_is_flagged(tmp_path):
    cli = {"attack.samples": 120, "attack.sweep": "1/64,1/32,3/64,1/16,5/64,3/32"}
    result = run(zoo.shattered_model(), "pgd-linf-sweep", tmp_path, **cli)
    raw = result.details["curve"]["raw_robust_accuracy"]
    assert raw[-1] - raw[0] > 0.05 and not result.passed
    assert [p["code"] for p in result.details["soundness"]["problems"]] == ["rising-with-epsilon"]
    assert result.details["inconsistent_samples"] > 0
    assert result.details["untrusted_value"] == pytest.approx(np.mean(result.details["curve"]["robust_accuracy"]))
    good = run(zoo.good_model(), "pgd-linf-sweep", tmp_path, **cli)
    assert good.passed and good.details["soundness"]["problems"] == []


def test_randomised_model_is_flagged_as_nondeterministic(tmp_path):
    result = run(zoo.randomized_model(), "fgsm-linf-0.1", tmp_path, **{"attack.samples": 40})
    assert [p["code"] for p in result.details["soundness"]["problems"]] == ["nondeterministic"]
    assert not result.passed


def test_model_without_input_gradient_cannot_be_evaluated(tmp_path):
    with pytest.raises(CheckError, match="has no gradient with respect to its input"):
        run(zoo.ignores_input_model(), "pgd-linf-0.1", tmp_path, **{"attack.samples": 20})


def test_nan_on_adversarial_inputs_fails_the_attack(tmp_path):
    """NaN only away from the clean digits (off their 1/16 grid): the top class of a NaN row is class
    0, which counted as a prediction (a sample of class 0 stayed 'robust')."""

    class NanOffGrid(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            off = (x * 16 - torch.round(x * 16)).abs().flatten(1).amax(dim=1) > 1e-3
            logits = self.net((x - 0.3054) / 0.3761)
            return torch.where(off[:, None], torch.full_like(logits, float("nan")), logits)

    model = zoo.TorchModel(NanOffGrid(zoo.load_model()).eval(), input_shape=(1, 8, 8), n_classes=10, name="nan-off-grid")
    result = run(model, "fgsm-linf-0.1", tmp_path, **{"attack.samples": 40})
    assert not result.passed and "model 'nan-off-grid' returned NaN or inf probabilities of adversarial examples for" in result.message


# -- other adapters ------------------------------------------------------------------------------------


def test_black_box_gets_black_box_attacks_only_and_they_are_seeded(tmp_path):
    model = zoo.black_box_model()
    with pytest.raises(NotApplicable, match="use a black-box attack"):
        run(model, "deepfool-l2", tmp_path)
    cli = {"attack.samples": 12, "attack.queries": 60}
    first = run(model, "hopskipjump-l2", tmp_path, **cli)
    second = run(zoo.black_box_model(), "hopskipjump-l2", tmp_path, **cli)
    assert first.value == second.value and first.details["perturbation"] == second.details["perturbation"]
    assert first.details["seeded"] is False and "x_adv_init" in first.details["seed_note"]
    cli = {"attack.samples": 24, "attack.queries": 20, "verdict.early_stop": "off"}  # all 24: 20 queries break few
    square = run(model, "square-linf-0.1", tmp_path, **cli)
    assert square.value < square.details["clean_accuracy"] and square.details["queries_per_sample"] <= 2 * 20 + 2
    again = run(zoo.black_box_model(), "square-linf-0.1", tmp_path, **cli)
    other_seed = run(zoo.black_box_model(), "square-linf-0.1", tmp_path, seed=1, **cli)
    assert again.details["flipped"] == square.details["flipped"] and again.seed == 0
    assert other_seed.details["seed"] != square.details["seed"]


def test_sklearn_models_go_through_arts_sklearn_wrapper(tmp_path):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    train = zoo.digits("train")
    flat = train.x.reshape(len(train.x), -1)
    logistic = SklearnModel(LogisticRegression(max_iter=300).fit(flat, train.y), input_shape=(1, 8, 8))
    result = run(logistic, "pgd-linf-0.1", tmp_path, **{"attack.samples": 60})
    assert result.value < result.details["clean_accuracy"] and result.details["soundness"]["problems"] == []
    forest = SklearnModel(RandomForestClassifier(n_estimators=5, random_state=0).fit(flat, train.y), input_shape=(1, 8, 8))
    with pytest.raises(NotApplicable, match="ART has no gradients for RandomForestClassifier"):
        run(forest, "fgsm-linf-0.1", tmp_path)
    with pytest.raises(NotApplicable, match="Square attack needs a neural network"):
        run(forest, "square-linf-0.1", tmp_path)


def test_callable_black_box_model_with_square(tmp_path):
    net = zoo.good_model()
    box = CallableModel(net.predict_proba, input_shape=(1, 8, 8), n_classes=10, name="api")
    result = run(box, "square-linf-0.1", tmp_path, **{"attack.samples": 16, "attack.queries": 10})
    assert result.details["access"] == "scores" and result.details["gradient_evaluations"] == 0


def test_autoattack_says_which_component_attacks_ran(tmp_path):
    """ART's AutoAttack is not the reference AutoAttack (docs/attacks.md): the check's details and
    report.html name the components that ran, and they are those ART was given."""
    from pytest_mlguard.attacks._adapters import make_adapter
    from pytest_mlguard.attacks._build import make_attack
    from pytest_mlguard.reporting._html import _check_row

    cli = {"attack.samples": 16, "attack.params.autoattack.steps": 3, "attack.params.autoattack.restarts": 2, "attack.queries": 5}
    result = run(zoo.good_model(), "autoattack-linf-0.1", tmp_path, **cli)
    assert result.details["components"] == [
        "APGD-CE (cross-entropy loss, 3 steps, 2 random starts)",
        "APGD-DLR (difference-of-logits-ratio loss, 3 steps, 2 random starts)",
        "Square (5 queries, 1 restart)",
    ]
    assert "not the reference AutoAttack" in result.details["components_note"] and "DeepFool in place of FAB" in result.details["components_note"]
    built = make_attack(make_adapter(zoo.good_model(), 16).estimator, "autoattack", "linf", 0.1, {"steps": 3, "restarts": 2, "queries": 5}, batch_size=16)
    ran = [(type(a).__name__, getattr(a, "loss_type", None), a.max_iter, getattr(a, "nb_random_init", getattr(a, "nb_restarts", None))) for a in built.attacks]
    assert ran == [
        ("AutoProjectedGradientDescent", "cross_entropy", 3, 2),
        ("AutoProjectedGradientDescent", "difference_logits_ratio", 3, 2),
        ("SquareAttack", None, 5, 1),
    ]
    note = _check_row(result.to_dict())["note"]
    assert "ran APGD-CE (cross-entropy loss, 3 steps, 2 random starts), APGD-DLR" in note and "not the reference AutoAttack" in note
