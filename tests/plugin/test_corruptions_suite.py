"""The corruption suite as a user runs it: the full 19 x 5 grid, -k by group, the report's
corruption summary, relative floors that tell a noise-augmented model from a plain one, and the
Corruption Error against a baseline report."""

from __future__ import annotations

import re

from conftest import TESTS

CORRUPTION_ONLY = """
[tool.mlguard]
samples = {samples}
[tool.mlguard.accuracy]
enabled = false
[tool.mlguard.attack]
enabled = false
[tool.mlguard.calibration]
enabled = false
[tool.mlguard.inputs]
enabled = false
[tool.mlguard.contract]
enabled = false
[tool.mlguard.corruption]
{corruption}
"""


def pyproject(corruption: str, samples: int = 90) -> str:
    return CORRUPTION_ONLY.format(samples=samples, corruption=corruption)


def test_full_grid_collects_95_items_and_k_selects_a_group(project):
    project.write(pipeline=None, pyproject=pyproject('corruptions = "all"\nseverities = "all"\nfloor = 0'))
    collected = project.run("--mlguard", "--collect-only", "-q")
    ids = [line for line in collected.stdout.lines if "::mlguard::corruption[" in line]
    assert len(ids) == 95
    assert "conftest.py::mlguard::corruption[motion_blur-3]" in ids and ids[0].endswith("corruption[gaussian_noise-1]")
    blur = project.run("--mlguard", "--collect-only", "-q", "-k", "blur")
    assert len([line for line in blur.stdout.lines if "::mlguard::corruption[" in line]) == 25

    result = project.run("--mlguard", "-k", "noise or fog or saturate", "-rs")
    result.assert_outcomes(passed=25, skipped=5)
    result.stdout.fnmatch_lines(
        [
            "*- mlguard corruption summary -*",
            "digits: mean corruption accuracy 0.* over 25 checks (clean 0.9*, relative robustness 0.*)",
            "  noise    severity 1: 0.9*  2: *  3: *  4: *  5: 0.*",
            "  weather  severity 1: *",
            "*saturate changes colour only and model 'digits' takes gray images*",
        ]
    )
    summary = project.report()["corruption"]["digits"]
    assert list(summary["curves"]) == ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "fog"]
    noise = summary["groups"]["noise"]
    assert noise["severity"] == [1, 2, 3, 4, 5] and noise["accuracy"][4] < noise["accuracy"][0] <= summary["clean_accuracy"]
    assert sum(c["non_increasing"] for c in summary["corruptions"].values()) >= 3  # mostly non-increasing
    fog = next(c for c in project.report()["checks"] if c["id"] == "corruption[fog-5]")
    assert {"ece", "relative_robustness", "mean_abs_change", "group"} <= set(fog["details"])


NOISE_AUGMENTED = """
import sys
sys.path.insert(0, {tests!r})
import pytest
import zoo
from model import CLASS_NAMES, MEAN, STD, load_model
from pytest_mlguard import TorchModel


@pytest.fixture(scope="session", params=["plain", "noise-augmented"])
def mlguard_model(request):
    if request.param == "plain":
        return zoo.good_model()
    # examples/digits/train.py --noise 0.4: Gaussian noise of sigma 0.4 on the training images
    net = load_model(zoo.DIGITS / "weights_noise.pt")
    return TorchModel(net, input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="digits-noise")


@pytest.fixture(scope="session")
def mlguard_data():
    return zoo.digits()
"""


def test_relative_floor_fails_the_plain_model_and_passes_the_noise_augmented_one(project):
    project.write(pyproject=pyproject('corruptions = ["gaussian_noise"]\nseverities = [5]\nfloors = {gaussian_noise-5 = "0.82*clean"}\nreference = "imagenet-c"', samples=360))
    project.pytester.makeconftest(NOISE_AUGMENTED.format(tests=str(TESTS)))
    result = project.run("--mlguard")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*corruption[[]gaussian_noise-5[]] on model 'digits': accuracy 0.7* < floor 0.80* (0.82*clean)",
            "*under gaussian_noise at severity 5: accuracy 0.7*, clean 0.97* (relative 0.7*)*",
            "*rerun alone: pytest --mlguard 'conftest.py::mlguard::corruption[[]gaussian_noise-5-plain[]]'*",
            "FAILED conftest.py::mlguard::corruption[[]gaussian_noise-5-plain[]]*",
        ]
    )
    checks = {c["model"]: c for c in project.report()["checks"]}
    assert checks["digits-noise"]["passed"] and not checks["digits"]["passed"]


def test_corruption_error_against_a_baseline_report(project):
    project.write(pipeline=None, pyproject=pyproject('corruptions = ["impulse_noise", "contrast"]\nseverities = [2, 5]\nfloor = 0', samples=60))
    project.run("--mlguard").assert_outcomes(passed=4)
    again = project.run("--mlguard", "--mlguard-set", "corruption.baseline=mlguard-report/report.json", "--mlguard-output", "second")
    again.assert_outcomes(passed=4)
    again.stdout.fnmatch_lines(["digits: mean corruption accuracy * mCE 1.000, relative mCE 1.000 against 'digits'"])
    summary = project.report("second")["corruption"]["digits"]
    assert summary["mce"] == 1.0 and summary["mce_corruptions"] == ["impulse_noise", "contrast"]

    missing = project.run("--mlguard", "--mlguard-set", "corruption.baseline=nowhere/report.json")
    assert missing.ret == 4  # a usage error, before the suite runs
    assert re.search(r"invalid value '.*nowhere/report.json' for 'corruption.baseline' in command line", missing.stderr.str())
