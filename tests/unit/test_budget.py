"""The time budget's plan, on a clock the test moves: shares, shortening, cuts, learning, durations."""

from __future__ import annotations

import pytest

from pytest_mlguard._budget import MIN_SAMPLES, Budget, parse_duration, rank
from pytest_mlguard.checks._base import CheckResult
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config._settings import resolve
from pytest_mlguard.errors import ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def specs(**cli):
    settings = resolve(cli={"attack.checks": "fgsm-linf-0.1,pgd-linf-0.1,pgd-linf-sweep", **cli}, environ={}, keys=all_keys())
    return {spec.id: spec for name in ("accuracy", "corruption", "attack", "calibration") for spec in family(name).planned(settings)}


def result(spec, n):
    return CheckResult(spec.id, "m", spec.family, spec.metric, 0.9, 0.5, "0.5", spec.kind, n, True, 0, 0.0)


def budget(seconds, clock, checks):
    plan = Budget(seconds, start=0.0, reserve=0.0, clock=clock)
    plan.pending = {f"node::{spec_id}": spec for spec_id, spec in checks.items()}
    return plan


@pytest.mark.parametrize(
    "text, seconds",
    [(120, 120.0), ("120", 120.0), ("120s", 120.0), ("2m", 120.0), ("1m30s", 90.0), ("0.5h", 1800.0), (" 45 s ", 45.0)],
)
def test_durations(text, seconds):
    assert parse_duration(text, "budget", "here") == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5s", "0", "1m30", True, "5x"])
def test_bad_durations_say_what_was_expected_and_where(text):
    with pytest.raises(ConfigError, match=r"for 'budget' in the command line: expected a duration such as 120, '120s', '2m'"):
        parse_duration(text, "budget", "the command line")


def test_the_most_informative_checks_run_first():
    checks = specs()
    order = sorted(checks.values(), key=rank)
    ids = [spec.id for spec in order]
    assert ids.index("accuracy") < ids.index("calibration[ece]") < ids.index("corruption[gaussian_noise-3]")
    assert ids.index("corruption[gaussian_noise-3]") < ids.index("attack[pgd-linf-0.1]") < ids.index("attack[pgd-linf-sweep]")
    settings = resolve(cli={}, environ={}, keys=all_keys())
    searches = [s for s in family("inputs").planned(settings) if s.param("kind") not in ("corpus", "compression")]
    assert searches and all(rank(s) > rank(checks["attack[pgd-linf-sweep]"]) for s in searches)  # they take what is left


def test_a_budget_that_fits_shortens_nothing_and_one_that_does_not_shortens_in_proportion():
    clock, checks = Clock(), specs()
    plan = budget(1000.0, clock, checks)
    plan.measure(forwards=1000, seconds=1.0)  # 1 ms a forward pass
    pgd = checks["attack[pgd-linf-0.1]"]
    assert plan.limits("node::attack[pgd-linf-0.1]", pgd, 360).samples is None  # about 12 s of 1000: all samples
    tight = budget(4.0, Clock(), checks)
    tight.measure(forwards=1000, seconds=1.0)
    limits = tight.limits("node::attack[pgd-linf-0.1]", pgd, 360)
    assert MIN_SAMPLES <= limits.samples < 360
    tight.done("node::attack[pgd-linf-0.1]", pgd, result(pgd, limits.samples), 1.0, limits, 360)
    assert tight.shortened == [{"check": "attack[pgd-linf-0.1]", "model": "m", "n": limits.samples, "planned_n": 360}]


def test_checks_are_cut_with_the_reason_once_the_budget_is_spent():
    clock, checks = Clock(), specs()
    plan = budget(10.0, clock, checks)
    plan.measure(forwards=100, seconds=1.0)  # 10 ms a forward pass: PGD on 30 samples takes about 10 s
    clock.now = 9.0
    pgd = checks["attack[pgd-linf-0.1]"]
    assert plan.limits("node::attack[pgd-linf-0.1]", pgd, 360) is None
    assert plan.cut[0]["check"] == "attack[pgd-linf-0.1]" and "30 samples would take about" in plan.cut[0]["reason"]
    clock.now = 11.0
    assert plan.limits("node::accuracy", checks["accuracy"], 360) is None
    assert plan.cut[1]["reason"] == "the budget of 10 s was spent"
    assert "node::accuracy" not in plan.pending and plan.summary()["cut"] == plan.cut


def test_measured_costs_replace_the_priors():
    clock, checks = Clock(), specs()
    plan = budget(100.0, clock, checks)
    plan.measure(forwards=1000, seconds=1.0)  # 1 ms a forward pass
    noise = checks["corruption[gaussian_noise-3]"]
    prior = 8 * 360 / 1000  # 8 forward passes a sample
    assert plan.estimate(noise, 360) == pytest.approx(prior)
    plan.done("node::corruption[gaussian_noise-1]", noise, result(noise, 360), seconds=5.0, limits=None, n=360)
    assert plan.estimate(noise, 360) == pytest.approx(prior)  # the first check paid for imports: the prior stands
    plan.done("node::corruption[gaussian_noise-3]", noise, result(noise, 90), seconds=9.0, limits=None, n=360)
    assert plan.used["corruption"] == pytest.approx(0.625)  # all, then a quarter of its samples (stopped early)
    fixed, slope = plan.cost("corruption")
    assert fixed + slope * 90 == pytest.approx(9.0)  # the fit explains the second check's time
    assert plan.estimate(noise, 360) > prior


def test_a_first_check_that_paid_for_imports_does_not_make_the_next_ones_look_expensive():
    """FGSM came first and paid for building the attack machinery; PGD, 38 times the work per sample,
    took a fraction of that. The first check's time is not charged to the checks after it (the old
    per-sample average planned PGD at 30 times what it took, and the run finished far inside its
    budget), neither per sample nor as a fixed cost (a second corruption check was cut to 30 samples)."""
    clock, checks = Clock(), specs()
    plan = budget(100.0, clock, checks)
    plan.measure(forwards=100_000, seconds=1.0)  # 10 us a forward pass
    fgsm, pgd, sweep = checks["attack[fgsm-linf-0.1]"], checks["attack[pgd-linf-0.1]"], checks["attack[pgd-linf-sweep]"]
    plan.done("node::attack[fgsm-linf-0.1]", fgsm, result(fgsm, 360), seconds=0.8, limits=None, n=360)
    assert plan.cost("attack") == (0.0, pytest.approx(1e-5))  # the prior, not 0.8 s again
    assert plan.estimate(pgd, 360) == pytest.approx(32 * 360 * 1e-5)  # not 0.8 * 32 / 4 = 6.4 s
    plan.done("node::attack[pgd-linf-0.1]", pgd, result(pgd, 360), seconds=0.28, limits=None, n=360)
    assert plan.estimate(pgd, 360) == pytest.approx(0.28)  # from the second check alone: not the import's fixed cost
    assert plan.estimate(sweep, 360) > plan.estimate(pgd, 360) > plan.estimate(fgsm, 360)
    plan.done("node::attack[pgd-linf-0.1]", pgd, result(pgd, 100), seconds=0.114, limits=None, n=360)
    fixed, slope = plan.cost("attack")  # two sizes: a least-squares fit, 0.05 s + 20 us a forward pass
    assert slope == pytest.approx(2e-5, rel=0.01) and fixed == pytest.approx(0.05, abs=0.002)


def test_the_searches_share_the_time_that_everything_else_leaves_over():
    clock, checks = Clock(), specs()
    settings = resolve(cli={}, environ={}, keys=all_keys())
    inputs = [s for s in family("inputs").planned(settings) if s.name in ("corrupt-files", "odd-modes")]
    plan = budget(100.0, clock, {"accuracy": checks["accuracy"], **{s.id: s for s in inputs}})
    plan.search_seconds, plan.pipeline_input = {"inputs": 600.0}, "image-bytes"
    plan.measure(forwards=1000, seconds=1.0)
    first = plan.limits(f"node::{inputs[0].id}", inputs[0], 360)
    assert first.seconds == pytest.approx((100.0 - 0.0) / 2, rel=0.05)  # half of what is left: one more search to come
    tight = budget(4.0, Clock(), {s.id: s for s in inputs})
    tight.search_seconds = {"inputs": 600.0}
    assert tight.limits(f"node::{inputs[0].id}", inputs[0], 360).seconds == pytest.approx(2.0)  # over budget: shares
    assert plan.searches(inputs[1]) and not plan.searches(family("inputs").spec("missing-fields", settings))  # image pipelines
    plan.pipeline_input = "record"  # a record pipeline: the image searches are skipped, and take no time
    assert not plan.searches(inputs[1]) and plan.estimate(inputs[1], 360) == 0.0
    assert plan.searches(family("inputs").spec("missing-fields", settings))


def test_a_search_counts_as_shortened_only_if_it_ran_out_of_time():
    import dataclasses

    from pytest_mlguard._budget import Limits

    settings = resolve(cli={}, environ={}, keys=all_keys())
    search = family("inputs").spec("corrupt-files", settings)
    plan = budget(100.0, Clock(), {search.id: search})
    plan.search_seconds = {"inputs": 600.0}
    for out_of_time in (False, True):  # both used their whole share of 5 s
        done = dataclasses.replace(result(search, 400), details={"out_of_time": out_of_time})
        plan.done(f"node::{search.id}", search, done, 5.0, Limits(seconds=5.0), 360)
    assert plan.shortened == [{"check": search.id, "model": "m", "seconds": 5.0, "planned_seconds": 600.0}]


def test_checks_that_share_one_measurement_count_once():
    clock = Clock()
    settings = resolve(
        cli={"resources.latency_ms": {"p50": 2, "p95": 20}, "resources.throughput": {"1": 200, "64": 2000}, "gate.checks": "accuracy,agreement,robustness"},
        environ={},
        keys=all_keys(),
    )
    resources = {s.id: s for s in family("resources").planned(settings)}
    assert len(resources) == 4
    plan = budget(100.0, clock, resources)
    first = next(iter(resources.values()))
    later, _, _ = plan._later(f"node::{first.id}", 360)
    assert later == pytest.approx(3.0)  # the prior of one resources measurement, not one per check
    plan.done(f"node::{first.id}", first, result(first, 1), seconds=3.0, limits=None, n=360)
    assert plan.estimate(next(iter(list(resources.values())[1:])), 360) == 0.0  # the others read its results

    robustness = specs()
    gate = {s.id: s for s in family("gate").planned(settings)}
    plan = budget(100.0, clock, {**robustness, **gate})
    plan.planned = dict(plan.pending)
    plan.measure(forwards=1000, seconds=1.0)
    rerun = sum(plan.estimate(s, 360) for s in robustness.values())
    assert plan.estimate(gate["gate[robustness]"], 360) == pytest.approx(2 * rerun + 2 * 360 / 1000)
    settings = resolve(cli={"gate.checks": "robustness", "gate.compare": "corruption,attack[fgsm-linf-0.1]"}, environ={}, keys=all_keys())
    compared = family("gate").planned(settings)[0]
    rerun = sum(plan.estimate(s, 360) for s in robustness.values() if s.family == "corruption" or s.id == "attack[fgsm-linf-0.1]")
    assert plan.estimate(compared, 360) == pytest.approx(2 * rerun + 2 * 360 / 1000)  # only what gate.compare names


def test_a_checks_limits_are_a_view_of_the_evaluation_never_written_onto_it():
    """The runner gives a check its share of the budget as a value (a view of the shared evaluation):
    the evaluation the next checks use keeps no limits, and the view shares its clean predictions."""
    from types import SimpleNamespace

    import numpy as np

    from pytest_mlguard.checks._evaluation import Evaluation
    from pytest_mlguard.contract import CallableModel, EvalData

    calls = []

    def predict(x):
        calls.append(len(x))
        return np.eye(2)[(x[:, 0] > 0.5).astype(int)]

    data = EvalData(np.linspace(0, 1, 40)[:, None], (np.linspace(0, 1, 40) > 0.5).astype(int))
    shared = Evaluation(CallableModel(predict, input_shape=(1,), n_classes=2), data, resolve(environ={}, keys=all_keys()))
    limited = shared.with_limits(SimpleNamespace(samples=10, seconds=None))
    assert limited is not shared and shared.limits is None
    assert limited.sample_limit(40) == 10 and shared.sample_limit(40) == 40
    assert limited.clean_accuracy() == shared.clean_accuracy() == 1.0 and calls == [40]  # predicted once, for both
    assert shared.with_limits(None) is shared and limited.with_limits(None).limits is None


def test_a_gate_that_reruns_checks_costs_them_on_every_sample_of_both_models():
    """The gate's reruns neither stop early nor draw more samples (both models must be measured on the
    same samples), so they cost every sample, however early the suite's own checks of those families
    stopped. Before, the budget took the share of samples the early-stopping checks had used, and gave
    gate[robustness] a fifth of the time its reruns take when the corruption checks stopped at 20%."""
    clock = Clock()
    settings = resolve(cli={"gate.checks": "robustness", "gate.compare": "corruption,attack[fgsm-linf-0.1]"}, environ={}, keys=all_keys())
    robustness = specs()
    gate = family("gate").planned(settings)[0]
    plan = budget(100.0, clock, {**robustness, gate.id: gate})
    plan.planned = dict(plan.pending)
    plan.measure(forwards=1000, seconds=1.0)
    compared = [s for s in robustness.values() if s.family == "corruption" or s.id == "attack[fgsm-linf-0.1]"]
    full = sum(plan.estimate(s, 360) for s in compared)
    plan.used.update(corruption=0.2, attack=0.3)  # what early stopping left the suite's own checks
    assert sum(plan.estimate(s, 360) for s in compared) < 0.5 * full  # those checks are now expected to stop early
    assert plan.estimate(gate, 360) == pytest.approx(2 * full + 2 * 360 / 1000)  # the reruns do not
