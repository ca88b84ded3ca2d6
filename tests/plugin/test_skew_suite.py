"""The skew family as a user runs it: the tabular example's skewed variant fails skew[features] and
skew[predictions] and nothing else, naming the shrunk record and its JSON file; without
``mlguard_features`` the checks do not apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_pytest, zoo_project

TESTS = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS.parent / "examples"


@pytest.mark.slow
def test_the_skewed_example_fails_the_skew_checks_only(pytester):
    output = pytester.path / "report"
    result = run_pytest(pytester, "--mlguard", str(EXAMPLES / "tabular" / "skewed"), f"--mlguard-output={output}", "--mlguard-set", "skew.max_examples=60")
    result.assert_outcomes(passed=3, failed=2)  # accuracy, calibration[ece] and slices[accuracy] pass
    result.stdout.fnmatch_lines(
        [
            "*skew[[]features[]] on model 'wine-skewed': agreement * floor 1.0000: fails, the paths disagree on a raw record",
            "*the offline and online paths of 'wine-features-variance' give different features on *",
            "*saved as *skew-features.json",
            "*skew[[]predictions[]] on model 'wine-skewed'*",
            "*predicted class: offline *, online *",
        ]
    )
    checks = {c["id"]: c for c in json.loads((output / "report.json").read_text())["checks"]}
    assert {name for name, check in checks.items() if not check["passed"]} == {"skew[features]", "skew[predictions]"}
    saved = json.loads(Path(checks["skew[predictions]"]["details"]["saved"]).read_text())
    assert saved["classes"]["offline"] != saved["classes"]["online"] and set(saved["record"]) == set(saved["offline"])


def test_without_mlguard_features_the_checks_do_not_apply(pytester):
    zoo_project(pytester, "wine_model", "wine_data", "[tool.mlguard.skew]\nchecks = ['features']\n")
    result = run_pytest(pytester, "--mlguard", "-k", "skew", "-rs")
    result.assert_outcomes(skipped=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(["*skew[[]features[]]: no feature paths: define a fixture mlguard_features in conftest.py*"])
