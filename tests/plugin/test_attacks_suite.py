"""The attack family as a user runs it: ``pytest --mlguard`` on temp projects with the zoo's models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EVERY_KIND = """
[tool.mlguard]
samples = 48
[tool.mlguard.attack]
checks = ["fgsm-linf-0.1", "pgd-linf-0.1", "pgd-l2-0.5", "pgd-linf-sweep", "deepfool-l2", "square-linf-0.1"]
sweep = [0.05, "1/10"]
queries = 20
floor = 0.3
floors = { "deepfool-l2" = 0.2, square = "0.5*clean" }
[tool.mlguard.attack.params.deepfool]
steps = 6
[tool.mlguard.contract]
enabled = false  # the contract checks: tests/plugin/test_deployed_suite.py
"""

CUSTOM = """
import numpy as np
import pytest
import torch

@pytest.mark.mlguard(settings={"attack.samples": 16})
def test_attack_helper_inside_no_grad(mlguard):
    x, y = mlguard.data.x[:16], mlguard.data.y[:16]
    with torch.no_grad():
        adversarial = mlguard.attack("pgd-linf-0.1", x, y)
    assert np.abs(adversarial - x).max() <= 0.1 + 1e-6
    assert mlguard.accuracy(adversarial, y) < mlguard.accuracy(x, y)
    mlguard.check("attack[deepfool-l2]", floor=0.05)
"""


def test_every_kind_of_attack_check_runs_and_reports(project):
    project.write(pipeline=None, pyproject=EVERY_KIND)
    project.pytester.makepyfile(test_custom=CUSTOM)
    result = project.run("--mlguard", "-k", "attack", "-v", "-W", "error::pytest_mlguard.attacks.UnsoundEvaluationWarning")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines_random(
        [
            f"conftest.py::mlguard::attack[[]{check}[]] PASSED*"
            for check in ("fgsm-linf-0.1", "pgd-linf-0.1", "pgd-l2-0.5", "pgd-linf-sweep", "deepfool-l2", "square-linf-0.1")
        ]
        + ["*digits::attack[[]pgd-linf-sweep[]]*mean_robust_accuracy * >= floor 0.3000*", "*digits::attack[[]deepfool-l2[]]*median_perturbation * >= floor 0.2000*"]
    )
    checks = {c["id"]: c for c in project.report()["checks"]}
    sweep = checks["attack[pgd-linf-sweep]"]["details"]["curve"]
    assert sweep["eps"] == [0.05, 0.1] and sweep["robust_accuracy"][0] >= sweep["robust_accuracy"][1]
    assert checks["attack[square-linf-0.1]"]["details"]["access"] == "scores"
    assert checks["attack[square-linf-0.1]"]["threshold"] == "0.5*clean"
    for check in checks.values():
        artifacts = Path(check["details"]["artifacts"])
        assert json.loads((artifacts / "outcomes.json").read_text())["check"] == check["id"]
        assert (artifacts / "adversarial.npz").is_file()


MASKED = """
[tool.mlguard]
samples = 48
[tool.mlguard.verdict]
early_stop = "off"
[tool.mlguard.attack]
checks = ["pgd-linf-0.1", "square-linf-0.1"]
queries = 30
floor = 0.4
[tool.mlguard.contract]
enabled = false  # the contract checks: tests/plugin/test_deployed_suite.py
"""


def test_gradient_masked_model_is_flagged(project):
    project.write(model="rounding_model", pipeline=None, pyproject=MASKED)
    result = project.run("--mlguard", "-k", "attack", "-p", "no:randomly")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*attack[[]pgd-linf-0.1[]] on model 'rounding': robust_accuracy nan, floor 0.4000: fails, unsound evaluation (zero-gradients)",
            "*measured on n=48 samples with seed=0",  # no interval of an untrusted value beside nan
            "*unsound evaluation: the measured robust_accuracy 0.9* is not evidence of robustness",
            "*- zero-gradients: the loss gradient was exactly zero for 100% of *",
            # the sound measurement, an upper bound, is the value; the soundness problem is why it fails
            "*attack[[]square-linf-0.1[]] on model 'rounding': robust_accuracy 0.9*, floor 0.4000: fails, unsound evaluation (black-box-beats-white-box)",
            "*measured on n=48 samples with seed=0; *% clopper-pearson interval *",
            "*unsound evaluation: the value is the robust accuracy attack[[]square-linf-0.1[]] leaves on the 48 samples both attacks looked at, an upper bound*",
            "*- black-box-beats-white-box: the black-box attack attack[[]square-linf-0.1[]] leaves robust accuracy *",
        ]
    )
    warned = project.run("--mlguard", "-k", "attack", "-p", "no:randomly", "--mlguard-set", "attack.soundness=warn")
    warned.assert_outcomes(passed=2, warnings=2)
    warned.stdout.fnmatch_lines(["*UnsoundEvaluationWarning: attack[[]pgd-linf-0.1[]] on model 'rounding': the loss gradient was exactly zero*"])


def test_adversarially_trained_model_passes_the_floor_the_plain_model_fails(project):
    pyproject = '[tool.mlguard.attack]\nchecks = ["pgd-linf-0.1"]\nfloors = { "pgd-linf-0.1" = 0.75 }\n'
    project.write(pipeline=None, pyproject=pyproject, params=["good_model", "adversarial_model"])
    result = project.run("--mlguard", "-k", "attack")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "FAILED conftest.py::mlguard::attack[[]pgd-linf-0.1-good_model[]]*",
            "digits::attack[[]pgd-linf-0.1[]]*robust_accuracy 0.* < floor 0.7500 * FAILED",
            "digits-adv::attack[[]pgd-linf-0.1[]]*robust_accuracy 0.8* >= floor 0.7500 * PASSED",
        ]
    )


@pytest.mark.parametrize(
    "pyproject, error",
    [
        (
            "[tool.mlguard.attack.params.pgd]\nstepz = 3\n",
            "ERROR: invalid value 'stepz' (type=str) for 'attack.params.pgd' in pyproject.toml [[]tool.mlguard[]]: expected a parameter of pgd, one of steps, step_size, restarts",
        ),
        (
            '[tool.mlguard.attack]\nchecks = ["hopskipjump-l2-0.5"]\n',
            "ERROR: invalid value 'hopskipjump-l2-0.5' (type=str) for 'attack.checks[[]0[]]' in pyproject.toml [[]tool.mlguard[]]: expected 'hopskipjump-l2' without an epsilon*",
        ),
    ],
)
def test_bad_attack_settings_stop_the_run(project, pyproject, error):
    result = project.write(pipeline=None, pyproject=pyproject).run("--mlguard", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([error])
