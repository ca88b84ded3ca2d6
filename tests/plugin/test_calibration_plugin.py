"""The calibration checks as a user runs them: garbage inputs, out-of-domain data from a file named
in pyproject.toml, and the temperature advice in a failing ECE check's message."""

from __future__ import annotations

import numpy as np
import pytest
import zoo
from conftest import FAST

CALIBRATION = """
checks = ["ece", "garbage-noise", "garbage-constant", "garbage-ood"]
garbage_ceiling = 0.85
ood_data = "data/photos.npy"
"""


@pytest.mark.parametrize(
    "model, args, failing",
    [
        # the example CNN, under an ECE ceiling it cannot meet: the failure gives the temperature advice
        # (by the point estimate: its ECE is consistent with perfect calibration, so no interval excludes 0.001)
        ("good_model", ("--mlguard-set", "calibration.ece_ceiling=0.001", "--mlguard-set", "verdict.policy=estimate"), {"ece"}),
        ("static_confident_model", (), {"garbage-noise", "garbage-constant", "garbage-ood"}),
    ],
)
def test_calibration_checks_fail_the_models_that_are_sure_about_garbage(project, model, args, failing):
    pyproject = FAST.replace("ece_ceiling = 0.08\n", "ece_ceiling = 0.08\n" + CALIBRATION)
    project.write(model=model, pipeline=None, pyproject=pyproject)
    (project.pytester.path / "data").mkdir()
    np.save(project.pytester.path / "data" / "photos.npy", zoo.photo_patches())
    result = project.run("--mlguard", "-k", "calibration", *args)
    result.assert_outcomes(passed=4 - len(failing), failed=len(failing), deselected=4)
    result.stdout.fnmatch_lines_random([f"FAILED conftest.py::mlguard::calibration[[]{check}[]] - *" for check in failing])
    checks = {c["id"]: c for c in project.report()["checks"]}
    assert set(checks) == {f"calibration[{name}]" for name in ("ece", "garbage-noise", "garbage-constant", "garbage-ood")}
    assert checks["calibration[garbage-ood]"]["details"]["ood_data"] == str(project.pytester.path / "data" / "photos.npy")
    assert checks["calibration[garbage-ood]"]["n"] == 200
    if "garbage-noise" in failing:
        result.stdout.fnmatch_lines(
            [
                "*calibration[[]garbage-noise[]] on model '*': mean_confidence 0.9* > ceiling 0.8500",
                "*on 200 uniform-noise inputs, which carry no class, the top-class probability is 0.9* on average*",
                "*the most confident input (* for '*') is saved as *most-confident-noise.npy",
                "*rerun alone: pytest --mlguard *conftest.py::mlguard::calibration[[]garbage-noise[]]* --mlguard-seed 0",
            ]
        )
    if "ece" in failing:
        result.stdout.fnmatch_lines(
            [
                "*calibration[[]ece[]] on model 'digits': ece 0.0* > ceiling 0.0010*",
                "*temperature *.** would give ECE 0.0* (now 0.0*); T > 1 softens the probabilities without changing a "
                "prediction. Advice, not a fix*",
            ]
        )


def test_unknown_calibration_check_is_a_usage_error(project):
    result = project.write(pipeline=None).run("--mlguard", "--mlguard-set", "calibration.checks=ece,entropy")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: invalid value 'entropy' (type=str) for 'calibration.checks[[]1[]]' in command line *: expected a calibration check, one of ece, mce, *"]
    )
