"""Baselines and regression gates: tolerances, the comparison, saving and loading."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from pytest_mlguard._baseline import BASELINE_KEYS, Tolerance, parse_tolerance
from pytest_mlguard._baseline.compare import compare_runs, comparison_lines
from pytest_mlguard._baseline.store import BASELINE_SCHEMA, baseline_from_report, load_baseline, resolve_baseline, save_baseline
from pytest_mlguard.config import resolve
from pytest_mlguard.errors import ConfigError


def check(check_id, value, *, model="m", metric="accuracy", kind="floor", family=None):
    return {
        "id": check_id,
        "model": model,
        "family": family or check_id.partition("[")[0],
        "metric": metric,
        "value": value,
        kind: 0.5,
        "threshold": "0.5",
        "n": 100,
        "passed": True,
        "details": {"big": list(range(5))},
    }


def run(*checks, score=90.0, seed=0, samples=None):
    return {
        "schema": "pytest-mlguard/report/1",
        "version": "0.1.0",
        "seed": seed,
        "samples": samples,
        "score": score,
        "score_components": {"m": {"score": score, "components": {"accuracy": 0.9}, "weights": {"accuracy": 1.0}}},
        "checks": list(checks),
    }


BASE = run(
    check("accuracy", 0.95),
    check("attack[pgd-linf-0.1]", 0.50, metric="robust_accuracy"),
    check("calibration[ece]", 0.02, metric="ece", kind="ceiling"),
)


def rows(comparison):
    return {(r["model"], r["check"]): r for r in comparison["rows"]}


@pytest.mark.parametrize(
    ("text", "baseline", "metric", "allowed"),
    [
        ("robust_accuracy:2pp", 0.5, "robust_accuracy", 0.02),
        ("ece:0.01", 0.02, "ece", 0.01),
        ("accuracy:5%", 0.8, "accuracy", 0.04),
        ("score:2pp", 80.0, "score", 2.0),  # the score is on 0..100: a point is a percentage point
        ("score:3", 80.0, "score", 3.0),
        ("attack[pgd-linf-8/255]:1pp", 0.4, "robust_accuracy", 0.01),
        ("*:0", 0.4, "accuracy", 0.0),
        (" ece : 1e-3 ", 0.1, "ece", 0.001),
    ],
)
def test_tolerances_parse_into_allowed_regressions(text, baseline, metric, allowed):
    assert Tolerance.parse(text).allowed(baseline, metric) == pytest.approx(allowed)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("robust_accuracy", "invalid value 'robust_accuracy' (type=str) for 'baseline.compare_fail' in pyproject.toml: expected METRIC:TOLERANCE"),
        ("ece:-1", "invalid value 'ece:-1' (type=str) for 'baseline.compare_fail' in pyproject.toml: expected METRIC:TOLERANCE"),
        ("ece:2px", "invalid value 'ece:2px'"),
        (":2pp", "invalid value ':2pp'"),
        (3, "invalid value 3 (type=int)"),
    ],
)
def test_invalid_tolerances_name_key_value_and_place(value, message):
    with pytest.raises(ConfigError) as raised:
        parse_tolerance(value, "baseline.compare_fail", "pyproject.toml")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("baseline.save", "../main", "invalid value '../main' (type=str) for 'baseline.save' in command line (--mlguard-save-baseline)"),
        ("baseline.save", "main.json", "invalid value 'main.json'"),
        ("baseline.compare", "has space", "invalid value 'has space' (type=str) for 'baseline.compare'"),
        ("baseline.compare_fail", "accuracy:2pp,ece", "invalid value 'ece' (type=str) for 'baseline.compare_fail[1]'"),
        ("progress.every", "0", "invalid value '0' (type=str) for 'progress.every'"),
        ("report.examples", "-1", "invalid value '-1' (type=str) for 'report.examples'"),
    ],
)
def test_invalid_baseline_report_and_progress_settings(key, value, message):
    from pytest_mlguard.checks._registry import all_keys

    with pytest.raises(ConfigError, match="expected") as raised:
        resolve(cli={key: value}, environ={}, keys=all_keys())
    assert message in str(raised.value)


def test_settings_read_tolerance_lists_from_command_line_and_toml():
    settings = resolve(cli={"baseline.compare_fail": "robust_accuracy:2pp, ece:0.01"}, environ={}, keys=BASELINE_KEYS)
    assert settings.get("baseline.compare_fail") == (Tolerance("robust_accuracy", 2.0, "pp"), Tolerance("ece", 0.01, ""))
    listed = resolve(cli={"baseline.compare_fail": ["score:5%"]}, environ={}, keys=BASELINE_KEYS)
    assert listed.get("baseline.compare_fail") == (Tolerance("score", 5.0, "%"),)


def test_regressions_beyond_tolerance_fail_and_direction_follows_floor_or_ceiling():
    now = run(
        check("accuracy", 0.94),  # -1pp: within 2pp
        check("attack[pgd-linf-0.1]", 0.45, metric="robust_accuracy"),  # -5pp: beyond 2pp
        check("calibration[ece]", 0.035, metric="ece", kind="ceiling"),  # +0.015: beyond 0.01 (lower is better)
        score=86.0,
    )
    tolerances = [Tolerance.parse(t) for t in ("accuracy:2pp", "robust_accuracy:2pp", "ece:0.01", "score:5")]
    comparison = compare_runs(now, BASE, tolerances)
    by = rows(comparison)
    assert by[("m", "accuracy")]["status"] == "worse"
    assert by[("m", "attack[pgd-linf-0.1]")]["status"] == "regressed"
    assert by[("m", "attack[pgd-linf-0.1]")]["change"] == pytest.approx(-0.05)
    assert by[("m", "calibration[ece]")]["status"] == "regressed" and by[("m", "calibration[ece]")]["better"] == "lower"
    assert by[("m", "score")]["status"] == "worse"  # -4 points within 5
    assert comparison["regressed"] == ["m::attack[pgd-linf-0.1] robust_accuracy", "m::calibration[ece] ece"]
    assert not comparison["passed"]
    assert json.loads(json.dumps(comparison)) == comparison


def test_improvements_pass_and_lower_ece_is_better():
    now = run(
        check("accuracy", 0.97),
        check("attack[pgd-linf-0.1]", 0.50, metric="robust_accuracy"),
        check("calibration[ece]", 0.01, metric="ece", kind="ceiling"),
    )
    comparison = compare_runs(now, BASE, [Tolerance.parse("*:0")])
    assert [r["status"] for r in comparison["rows"]] == ["better", "same", "better", "same"]
    assert comparison["passed"] and comparison["regressed"] == []


def test_without_tolerance_nothing_can_regress_but_rows_still_show_it():
    now = run(check("accuracy", 0.10))
    comparison = compare_runs(now, BASE)
    assert rows(comparison)[("m", "accuracy")]["status"] == "worse" and comparison["passed"]


def test_most_specific_tolerance_wins():
    now = run(check("attack[pgd-linf-0.1]", 0.47, metric="robust_accuracy"))
    base = run(check("attack[pgd-linf-0.1]", 0.50, metric="robust_accuracy"))
    loose = [Tolerance.parse("*:0"), Tolerance.parse("robust_accuracy:1pp"), Tolerance.parse("attack[pgd-linf-0.1]:5pp")]
    assert compare_runs(now, base, loose)["passed"]
    strict = [Tolerance.parse("*:10pp"), Tolerance.parse("attack[pgd-linf-0.1]:1pp")]
    assert not compare_runs(now, base, strict)["passed"]


def test_relative_tolerance_is_a_share_of_the_baseline_value():
    base = run(check("accuracy", 0.80))
    assert compare_runs(run(check("accuracy", 0.77)), base, [Tolerance.parse("accuracy:5%")])["passed"]  # -0.03 <= 0.04
    assert not compare_runs(run(check("accuracy", 0.75)), base, [Tolerance.parse("accuracy:5%")])["passed"]


def test_new_missing_and_nan_checks():
    now = run(check("accuracy", None), check("corruption[gaussian_noise-3]", 0.9))
    comparison = compare_runs(now, BASE, [Tolerance.parse("accuracy:1pp")])
    by = rows(comparison)
    assert by[("m", "accuracy")]["status"] == "regressed"  # NaN now: as bad as it gets
    assert by[("m", "corruption[gaussian_noise-3]")]["status"] == "new"
    assert by[("m", "attack[pgd-linf-0.1]")]["status"] == "missing"  # deselected with -k: not a failure
    assert comparison["regressed"] == ["m::accuracy accuracy"]


def test_rows_follow_suite_order_and_notes_say_when_seed_or_samples_differ():
    comparison = compare_runs(run(check("calibration[ece]", 0.02, metric="ece", kind="ceiling"), seed=1, samples=500), BASE)
    assert [r["check"] for r in comparison["rows"]] == ["accuracy", "attack[pgd-linf-0.1]", "calibration[ece]", "score"]
    assert comparison["notes"] == ["seed differs: baseline 0, this run 1", "samples differs: baseline None, this run 500"]


def test_comparison_table_names_regressed_metrics():
    now = run(check("accuracy", 0.90), check("attack[pgd-linf-0.1]", 0.50, metric="robust_accuracy"))
    lines = list(comparison_lines(compare_runs(now, dict(BASE, name="main"), [Tolerance.parse("accuracy:2pp")])))
    text = [line for line, _ in lines]
    assert text[0] == "comparison with baseline 'main'"
    assert text[1].split() == ["model", "check", "metric", "baseline", "current", "change", "tolerance", "status"]
    assert text[2].split() == ["m", "accuracy", "accuracy", "0.9500", "0.9000", "-0.0500", "2pp", "REGRESSED"]
    assert lines[2][1]["red"]
    assert text[-1] == "regressed beyond tolerance against baseline 'main': m::accuracy accuracy"


def test_saved_baseline_is_plain_json_without_details_and_loads_back(tmp_path):
    path = save_baseline(BASE, "main", tmp_path / "baselines")
    assert path == tmp_path / "baselines" / "main.json"
    data = json.loads(path.read_text())
    assert data["schema"] == BASELINE_SCHEMA and data["name"] == "main" and data["score"] == 90.0
    assert all("details" not in c for c in data["checks"])
    assert datetime.fromisoformat(data["saved_at"]).tzinfo == timezone.utc
    loaded = load_baseline(path, name="main", where="command line")
    assert compare_runs(BASE, loaded)["passed"]
    assert baseline_from_report(BASE, "x", saved_at=datetime(2025, 1, 2, tzinfo=timezone.utc))["saved_at"] == "2025-01-02T00:00:00+00:00"


def test_a_report_json_serves_as_baseline(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(BASE))
    loaded = load_baseline(path, name=str(path), where="command line")
    assert loaded["path"] == str(path) and len(loaded["checks"]) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "baseline 'main' (pyproject.toml) not found: expected a file at {path}; save one with `pytest --mlguard --mlguard-save-baseline main`"),
        ("{not json", "baseline 'main' (pyproject.toml) at {path} is not readable JSON"),
        ('{"schema": "other/1", "checks": []}', "has schema 'other/1': expected 'pytest-mlguard/baseline/1' or a pytest-mlguard report.json"),
        ('{"schema": "pytest-mlguard/baseline/1", "checks": [{"id": "x"}]}', "expected a list of checks with id, model, metric and value"),
    ],
)
def test_unusable_baselines_are_config_errors(tmp_path, content, message):
    path = tmp_path / "main.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_baseline(path, name="main", where="pyproject.toml")
    assert message.format(path=path) in str(raised.value)


def test_baseline_names_and_paths_resolve(tmp_path):
    root, here = tmp_path, tmp_path / "sub"
    assert resolve_baseline("main", root / "mlguard-baselines", "default", here, root) == root / "mlguard-baselines" / "main.json"
    assert resolve_baseline("ci/report.json", root / "b", "command line (--mlguard-compare)", here, root) == here / "ci" / "report.json"
    assert resolve_baseline("ci/report.json", root / "b", "pyproject.toml", here, root) == root / "ci" / "report.json"
    assert resolve_baseline(str(root / "x.json"), root / "b", "pyproject.toml", here, root) == root / "x.json"
