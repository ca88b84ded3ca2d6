"""The skew family as a user runs it: the tabular example's skewed variant fails skew[features] and
skew[predictions] and nothing else, naming the shrunk record and its JSON file; without
``mlguard_features`` the checks do not apply."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import run_pytest

TESTS = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS.parent / "examples"


@pytest.mark.slow
def test_the_skewed_example_fails_the_skew_checks_only(pytester):
    output = pytester.path / "report"
    result = run_pytest(pytester, "--mlguard", str(EXAMPLES / "tabular" / "skewed"), f"--mlguard-output={output}", "--mlguard-set", "skew.max_examples=60")
    result.assert_outcomes(passed=2, failed=2)
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
    pytester.makeconftest(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(TESTS)!r})
            import pytest
            import zoo

            @pytest.fixture(scope="session")
            def mlguard_model():
                return zoo.wine_model()

            @pytest.fixture(scope="session")
            def mlguard_data():
                return zoo.wine_data()
            """
        )
    )
    pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n[tool.mlguard.skew]\nchecks = ['features']\n")
    result = run_pytest(pytester, "--mlguard", "-k", "skew", "-rs")
    result.assert_outcomes(skipped=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(["*skew[[]features[]]: no feature paths: define a fixture mlguard_features in conftest.py*"])
