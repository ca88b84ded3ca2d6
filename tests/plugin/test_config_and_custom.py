"""Configuration errors and precedence as a user meets them; custom tests with the marker and fixture;
the broken-model zoo failing the right checks; --help."""

from __future__ import annotations

import pytest
from conftest import FAST

USAGE_ERROR = 4


@pytest.mark.parametrize(
    "pyproject, args, message",
    [
        ("[tool.mlguard.accuracy]\nfloor = 1.7\n", [], "ERROR: invalid value 1.7 (type=float) for 'accuracy.floor' in pyproject.toml [[]tool.mlguard[]]: expected a number in [[]0, 1[]]*"),
        ("[tool.mlguard]\nsead = 1\n", [], "ERROR: unknown mlguard setting 'sead' in pyproject.toml [[]tool.mlguard[]]; did you mean 'seed'?"),
        ("[tool.mlguard.corruption]\ncorruptions = ['fog_of_war']\n", [], "ERROR: invalid value 'fog_of_war' (type=str) for 'corruption.corruptions[[]0[]]' in pyproject.toml*expected a corruption name*"),
        ("", ["--mlguard-set", "attack.checks=pgd-linf-zero"], "ERROR: invalid value 'pgd-linf-zero' (type=str) for 'attack.checks[[]0[]]' in command line (--mlguard-set attack.checks=...)*"),
        ("", ["--mlguard-samples", "-3"], "ERROR: invalid value '-3' (type=str) for 'samples' in command line (--mlguard-samples): expected an integer in [[]1, inf[]], or none"),
        ("", ["--mlguard-set", "nonsense"], "ERROR: invalid --mlguard-set 'nonsense': expected KEY=VALUE*"),
        ('[tool.mlguard.corruption]\nseverities = "1,3"\n', [], "ERROR: invalid value '1,3' (type=str) for 'corruption.severities' in pyproject.toml [[]tool.mlguard[]]: expected a list, such as [[]1, 3[]]*"),
        ("", ["--mlguard-set", "score.weights.bogus=1"], "ERROR: invalid value 'bogus' (type=str) for 'score.weights' in command line (--mlguard-set score.weights.bogus=...): expected a family name, one of contract, accuracy, *"),
        ("", ["--mlguard-budget", ""], "ERROR: invalid value '' (type=str) for 'budget' in command line (--mlguard-budget): expected a duration such as 120*"),
        ("", ["--mlguard-device", "gpu7"], "ERROR: invalid value 'gpu7' (type=str) for 'device' in command line (--mlguard-device): expected a torch device such as cpu, cuda, cuda:0 or mps*"),
    ],
)
def test_invalid_settings_stop_the_run(project, pyproject, args, message):
    project.write(pyproject=pyproject)
    result = project.run("--mlguard", *args)
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_environment_variable_errors_name_the_variable(project, monkeypatch):
    project.write()
    monkeypatch.setenv("MLGUARD_SEED", "abc")
    result = project.run("--mlguard", "--collect-only")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: invalid value 'abc' (type=str) for 'seed' in environment variable MLGUARD_SEED*"])


def test_precedence_cli_over_env_over_pyproject(project, monkeypatch):
    project.write(pyproject=FAST.replace("samples = 120", "samples = 50\nseed = 7"))
    monkeypatch.setenv("MLGUARD_SAMPLES", "60")
    result = project.run("--mlguard", "--collect-only", "--mlguard-seed", "3")
    result.stdout.fnmatch_lines(["mlguard: seed=3, samples=60, device=cpu, output=*mlguard-report"])
    monkeypatch.delenv("MLGUARD_SAMPLES")
    result = project.run("--mlguard", "--collect-only")
    result.stdout.fnmatch_lines(["mlguard: seed=7, samples=50, *"])


def test_asking_for_more_samples_than_the_data_holds_says_so(project):
    project.write()
    result = project.run("--mlguard", "-k", "accuracy and not gate", "--mlguard-samples", "5000", "-p", "no:randomly")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*samples = 5000 (from command line (--mlguard-samples)) but mlguard_data 'digits-test' holds 360 samples: the checks use all 360*"])
    result.stdout.fnmatch_lines(["digits::accuracy * n=360 *"])


def test_custom_tests_with_marker_and_fixture(project):
    project.write()
    project.pytester.makepyfile(
        test_robust="""
        import numpy as np
        import pytest

        @pytest.mark.mlguard(seed=5, samples=10)  # samples: pyproject.toml's 120 takes precedence
        def test_noise_keeps_most_accuracy(mlguard):
            result = mlguard.check("corruption[gaussian_noise-2]", floor="0.9*clean")
            assert (result.seed, result.n + result.details["early_stop"]["samples_skipped"]) == (5, 120)

        @pytest.mark.mlguard(settings={"attack.steps": 3})
        def test_pgd_floor_fails(mlguard):
            mlguard.check("attack[pgd-linf-0.2]", floor=0.9)

        @pytest.mark.mlguard
        def test_helpers(mlguard):
            x, y = mlguard.data.x[:20], mlguard.data.y[:20]
            noisy = mlguard.corrupt(x, "gaussian_noise", 1, seed=0)
            assert noisy.shape == x.shape and not np.array_equal(noisy, x)
            adversarial = mlguard.attack("fgsm-linf-0.1", x, y)
            assert np.abs(adversarial - x).max() <= 0.1 + 1e-6
            assert mlguard.accuracy(adversarial, y) < mlguard.accuracy(x, y)
            assert 0 <= mlguard.ece() < 0.1
        """,
        test_typo="""
        import pytest

        @pytest.mark.mlguard(sample=3)
        def test_typo(mlguard):
            pass
        """,
    )
    result = project.run("--mlguard", "test_robust.py")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *AssertionError: attack[[]pgd-linf-0.2[]] on model 'digits': robust_accuracy 0.* < floor 0.9000",
            "E *rerun alone: pytest --mlguard test_robust.py::test_pgd_floor_fails --mlguard-seed 0",
        ]
    )
    report = project.report()
    assert {c["id"] for c in report["checks"]} == {"corruption[gaussian_noise-2]", "attack[pgd-linf-0.2]"}
    typo = project.run("--mlguard", "test_typo.py")
    assert typo.ret == USAGE_ERROR
    typo.stderr.fnmatch_lines(["ERROR: unknown keyword 'sample' in @pytest.mark.mlguard(...) on test_typo.py::test_typo*"])


@pytest.mark.parametrize(
    "model, pipeline, args, failing",
    [
        # no gradient reaches the input: the attacks cannot evaluate it, and say so
        ("ignores_input_model", "good_pipeline", (), {"accuracy", "calibration[[]ece[]]", "attack[[]fgsm-linf-0.1[]]", "attack[[]pgd-linf-0.1[]]"}),
        # its logits x 20 saturate the softmax: half its loss gradients are exactly zero, so the attacks
        # flag their own evaluation as unsound (its decision function, unscaled, fails the PGD floor);
        # its ECE (0.09) against a ceiling of 0.02, decided on all 360 images
        ("overconfident_model", "good_pipeline", ("--mlguard-samples", "none", "--mlguard-set", "calibration.ece_ceiling=0.02"),
         {"calibration[[]ece[]]", "attack[[]fgsm-linf-0.1[]]", "attack[[]pgd-linf-0.1[]]"}),
        # its FGSM accuracy (0.31 against 0.4) is decided on all 360 images, not on 120
        ("linear_model", "good_pipeline", ("--mlguard-samples", "none"), {"attack[[]fgsm-linf-0.1[]]", "attack[[]pgd-linf-0.1[]]"}),
        ("good_model", "index_error_pipeline", (), {"inputs[[]corrupt-files[]]"}),
    ],
)
def test_zoo_fails_the_right_checks(project, model, pipeline, args, failing):
    # under the default policy (lenient: only a decided failure fails), on enough samples to decide
    result = project.write(model=model, pipeline=pipeline).run("--mlguard", "-q", *args)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == len(failing), result.stdout.str()
    result.stdout.fnmatch_lines_random([f"FAILED conftest.py::mlguard::{check} - *" for check in failing])


def test_help_lists_every_option_with_its_default(pytester):
    result = pytester.runpytest_subprocess("--help")
    for option in ("--mlguard ", "--mlguard-seed=INT", "--mlguard-samples=N", "--mlguard-output=DIR", "--mlguard-device=DEVICE", "--mlguard-set=KEY=VALUE"):
        result.stdout.fnmatch_lines([f"*{option}*"])
    result.stdout.fnmatch_lines(["*mlguard_seed (string):*", "*pytest-mlguard: seed of every random choice; a run is*"])


def test_markers_are_registered(pytester):
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.mlguard(*, seed=None, samples=None, device=None, output=None, profile=None, settings=None): *"])
