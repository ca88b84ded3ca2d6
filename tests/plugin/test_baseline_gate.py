"""Baselines and regression gates as a team uses them: save a run, compare later runs with it, fail
when a metric regresses beyond its tolerance; and the progress lines of long checks, which the same
runs show (and hide under -q)."""

from __future__ import annotations

import json
import re

import pytest

CHECKS = ("-k", "accuracy or pgd or ece")
GATE = ("--mlguard-compare", "main", "--mlguard-compare-fail", "accuracy:1pp", "--mlguard-compare-fail", "robust_accuracy:2pp", "--mlguard-compare-fail", "ece:0.01")
PROGRESS = ("--mlguard-set", "progress.after=0", "--mlguard-set", "progress.every=0.2")


@pytest.mark.slow
def test_a_degraded_model_fails_the_comparison_with_a_table_naming_the_regressed_metrics(project):
    # in a fresh process, where ART's import (about a second, inside the attack check) makes the check
    # last longer than progress.every
    saved = project.write().run("--mlguard", *CHECKS, "--mlguard-save-baseline", "main", *PROGRESS, isolated=True)
    saved.assert_outcomes(passed=3)
    assert saved.ret == 0
    saved.stdout.fnmatch_lines(["baseline saved: mlguard-baselines/main.json"])
    # progress: which check, its place in the suite, how far; then done
    saved.stdout.fnmatch_lines(["mlguard [[]2/3[]] attack[[]pgd-linf-0.1[]] on digits: * s", "mlguard [[]2/3[]] attack[[]pgd-linf-0.1[]] on digits: done in * s"])
    baseline = json.loads((project.pytester.path / "mlguard-baselines" / "main.json").read_text())
    assert baseline["schema"] == "pytest-mlguard/baseline/1" and len(baseline["checks"]) == 3

    same = project.run("--mlguard", *CHECKS, *GATE, "-q", *PROGRESS)
    assert same.ret == 0, same.stdout.str()
    same.stdout.fnmatch_lines(["no metric regressed beyond tolerance against baseline 'main'"])
    assert "mlguard [" not in same.stdout.str()  # -q: no progress lines

    # the next version of the model: worse everywhere, still above the (loosened) floors
    floors = ("--mlguard-set", "accuracy.floor=0.5", "--mlguard-set", "attack.floor=0.05", "--mlguard-set", "calibration.ece_ceiling=0.5")
    degraded = project.write(model="degraded_model").run("--mlguard", *CHECKS, *GATE, *floors)
    degraded.assert_outcomes(passed=3)  # every check passes its floor...
    assert degraded.ret == pytest.ExitCode.TESTS_FAILED  # ...but the run fails the gate
    degraded.stdout.fnmatch_lines(
        [
            "comparison with baseline 'main' (*mlguard-baselines/main.json), saved *",
            "model * check * metric * baseline * current * change * tolerance * status",
            "digits * accuracy * accuracy * 0.9750 * 0.* -0.* 1pp * REGRESSED",
            # 0.4944: the saved run's PGD check, undecided on its 120 samples, drew more of the data (verdict.more_samples)
            "digits * attack[[]pgd-linf-0.1[]] * robust_accuracy * 0.4944 * 0.* -0.* 2pp * REGRESSED",
            "digits * calibration[[]ece[]] * ece * 0.0* * 0.0* +0.0* 0.01 * REGRESSED",
            "digits * score * score * * -* - * worse",  # no tolerance for the score: worse, not a failure
            "regressed beyond tolerance against baseline 'main': digits::accuracy accuracy, digits::attack[[]pgd-linf-0.1[]] robust_accuracy, digits::calibration[[]ece[]] ece",
        ]
    )
    report = project.report()
    comparison = report["comparison"]
    assert comparison["baseline"] == "main" and not comparison["passed"]
    assert comparison["regressed"] == ["digits::accuracy accuracy", "digits::attack[pgd-linf-0.1] robust_accuracy", "digits::calibration[ece] ece"]
    page = (project.pytester.path / "mlguard-report" / "report.html").read_text()
    assert "Comparison with baseline main" in page and re.search(r'<tr class="regressed">\s*<td>digits</td><td><code>accuracy</code>', page)


def test_a_missing_baseline_stops_the_run_before_any_check(project):
    result = project.write().run("--mlguard", "--mlguard-compare", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: baseline 'nope' (command line (--mlguard-compare)) not found: expected a file at *mlguard-baselines/nope.json; save one with `pytest --mlguard --mlguard-save-baseline nope`"]
    )
    bad = project.run("--mlguard", "--mlguard-compare-fail", "accuracy")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["ERROR: invalid value 'accuracy' (type=str) for 'baseline.compare_fail[[]0[]]' in command line (--mlguard-compare-fail): expected METRIC:TOLERANCE*"])
