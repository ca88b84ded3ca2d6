"""The time budget's plan, on a clock the test moves: shares, shortening, cuts, learning, durations."""

from __future__ import annotations

import pytest

from pytest_mlguard.budget import MIN_SAMPLES, Budget, parse_duration, rank
from pytest_mlguard.checks.base import CheckResult
from pytest_mlguard.checks.registry import all_keys, family
from pytest_mlguard.config.settings import resolve
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
    plan.measure(forwards=1000, seconds=1.0)
    noise = checks["corruption[gaussian_noise-3]"]
    before = plan.estimate(noise, 360)
    plan.done("node::corruption[gaussian_noise-3]", noise, result(noise, 90), seconds=9.0, limits=None, n=360)
    assert plan.per_sample["corruption"] == pytest.approx(0.1) and plan.used["corruption"] == pytest.approx(0.25)
    assert plan.estimate(noise, 360) == pytest.approx(0.1 * 360 * 0.25) != before
    pgd, fgsm = checks["attack[pgd-linf-0.1]"], checks["attack[fgsm-linf-0.1]"]
    plan.done("node::attack[pgd-linf-0.1]", pgd, result(pgd, 100), seconds=3.2, limits=None, n=360)
    assert plan.seconds_per_sample(fgsm) < plan.seconds_per_sample(pgd) == pytest.approx(0.032)
    assert plan.seconds_per_sample(checks["attack[pgd-linf-sweep]"]) > plan.seconds_per_sample(pgd)
