"""examples/photos, the colour example: `pytest --mlguard examples/photos` passes its floors as the README
runs it, saturate included; its nightly profile plans the full corruption grid."""

from __future__ import annotations

import json

import pytest
from conftest import TESTS, run_pytest

EXAMPLE = TESTS.parent / "examples" / "photos"


@pytest.mark.slow
def test_the_photos_example_passes_its_floors_as_the_readme_runs_it(pytester):
    output = pytester.path / "out"
    result = run_pytest(pytester, "--mlguard", str(EXAMPLE), "-p", "no:cacheprovider", f"--mlguard-output={output}")
    assert result.ret == 0, result.stdout.str()[-4000:]
    report = json.loads((output / "report.json").read_text())
    checks = {c["id"]: c for c in report["checks"]}
    assert all(c["passed"] for c in checks.values()) and not report["skipped"], report["skipped"]
    assert checks["accuracy"]["value"] >= 0.9 and checks["accuracy"]["n"] == 800
    saturate = checks["corruption[saturate-3]"]  # a colour model: saturate applies and changes the patches
    assert saturate["details"]["mean_abs_change"] > 0.01
    assert {c["family"] for c in checks.values()} >= {"accuracy", "corruption", "attack", "calibration", "gate"}


def test_the_nightly_profile_runs_every_corruption_at_every_severity(pytester):
    result = run_pytest(pytester, "--mlguard", str(EXAMPLE), "-p", "no:cacheprovider", "--mlguard-profile", "nightly", "--collect-only", "-q", "-k", "corruption")
    items = [line for line in result.stdout.lines if "::mlguard::corruption[" in line]
    assert len(items) == 95, result.stdout.str()
    assert any("corruption[saturate-5]" in line for line in items) and any("corruption[frost-1]" in line for line in items)
