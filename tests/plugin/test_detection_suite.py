"""examples/detection: `pytest --mlguard examples/detection` plans the detection checks of a detector
(task = "detection"), the inputs and production checks with box-level agreement, and nothing that assumes a class vector, passes its floors, and its report carries mAP,
mPC and rPC (and prints them in the terminal), the detection ECE, the robust mAP under PGD and the figure of mAP against severity."""

from __future__ import annotations

import json

import pytest
from conftest import TESTS, run_pytest

EXAMPLE = TESTS.parent / "examples" / "detection"
#: a short run of the example: fewer images, one corruption cell, a short attack on few images
SHORT = (
    "--mlguard-samples=60",
    "--mlguard-set=detection.corruptions=jpeg_compression",
    "--mlguard-set=detection.severities=3",
    "--mlguard-set=detection.attack_samples=12",
    "--mlguard-set=detection.attack_steps=2",
    "--mlguard-set=inputs.max_examples=5",
)
CELLS = [f"detection[{name}-{s}]" for name in ("gaussian_noise", "motion_blur", "fog", "jpeg_compression") for s in (1, 3, 5)]
#: the service's inputs checks, determinism and drift (box-level agreement), which every run plans
PRODUCTION = ["inputs[corrupt-files]", "inputs[odd-modes]", "inputs[same-content]", "determinism[repeat]", "drift[threads]", "drift[torchscript]"]
FULL = ["contract[eval-mode]", *PRODUCTION, "detection[map]", "detection[map_50]", *CELLS, "detection[mpc]", "detection[ece]", "detection[pgd-linf-1/255]"]

pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")


def test_only_the_contract_and_detection_checks_are_collected_for_a_detector(pytester):
    result = run_pytest(pytester, "--mlguard", str(EXAMPLE), "-p", "no:cacheprovider", "--collect-only", "-q")
    items = [line.split("::mlguard::")[1] for line in result.stdout.lines if "::mlguard::" in line]
    assert items == FULL, items


@pytest.mark.slow  # about two minutes on the shared 2-core machine
def test_the_example_passes_and_reports_map_mpc_rpc_ece_and_robust_map(pytester):
    output = pytester.path / "out"
    result = run_pytest(pytester, "--mlguard", str(EXAMPLE), "-p", "no:cacheprovider", f"--mlguard-output={output}", *SHORT)
    assert result.ret == 0, result.stdout.str()[-4000:]
    result.stdout.fnmatch_lines(["*- mlguard detection summary -*", "shapes: mPC 0.* (mean mAP over 1 corruption cell), rPC 0.* (of the clean mAP 0.*)", "  jpeg_compression  severity 3: 0.*"])
    report = json.loads((output / "report.json").read_text())
    checks = {c["id"]: c for c in report["checks"]}
    planned = ["contract[eval-mode]", "detection[map]", "detection[map_50]", "detection[jpeg_compression-3]", "detection[mpc]", "detection[ece]", "detection[pgd-linf-1/255]"]
    planned += PRODUCTION
    assert sorted(checks) == sorted(planned) and all(c["passed"] for c in checks.values()) and not report["skipped"]
    mpc = checks["detection[mpc]"]["details"]
    assert mpc["rPC"] == pytest.approx(mpc["mPC"] / checks["detection[map]"]["value"], rel=1e-4)
    assert checks["detection[map]"]["interval"]["method"] == "bootstrap" and checks["detection[map]"]["n"] == 60
    assert checks["detection[pgd-linf-1/255]"]["n"] == 12 and checks["detection[pgd-linf-1/255]"]["value"] < checks["detection[map]"]["value"]
    assert 'data-plot="detection"' in (output / "report.html").read_text()
