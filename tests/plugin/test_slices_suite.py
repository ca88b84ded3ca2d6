"""The slices family as a user runs it: a record model poor on one region fails slices[accuracy] and
nothing else, with the ranked weakest slices in the message, report.json and report.html."""

from __future__ import annotations

import json

from conftest import run_pytest, zoo_project


def test_a_model_poor_on_one_region_fails_slices_only(pytester):
    zoo_project(pytester, "poor_on_east_model", "regions_data", "[tool.mlguard.slices]\nchecks = ['accuracy']\n")
    result = run_pytest(pytester, "--mlguard", "-k", "accuracy or calibration or slices")
    result.assert_outcomes(passed=2, failed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(
        [
            "*slices[[]accuracy[]] on model 'poor-on-east': accuracy * < floor * (0.8*clean)*",
            "*the weakest of * slices of at least 30 samples (* surely below the floor*",
            "*region = east *accuracy 0.4971 [[]*below the floor",
        ]
    )
    report = json.loads((pytester.path / "mlguard-report" / "report.json").read_text())
    slices = next(c for c in report["checks"] if c["id"] == "slices[accuracy]")
    assert not slices["passed"] and slices["details"]["weakest"][0]["high"] < slices["floor"]
    assert 'data-plot="slices"' in (pytester.path / "mlguard-report" / "report.html").read_text()
