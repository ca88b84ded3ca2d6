"""examples/detection: `pytest --mlguard examples/detection` plans the families' checks of a detector
(task = "detection"), each in the task's metric, the inputs and production checks with box-level agreement,
and nothing that assumes a class vector; it passes its floors, and its report carries mAP, the corruption
summary's mPC and rPC over mAP (printed in the terminal), the detection ECE, the robust mAP under PGD and FGSM,
and the figures labelled by mAP."""

from __future__ import annotations

import json

import pytest
from conftest import TESTS, run_pytest

EXAMPLE = TESTS.parent / "examples" / "detection"
#: a short run of the example: fewer images, one corruption cell, a short attack on few images
SHORT = (
    "--mlguard-samples=60",
    "--mlguard-set=corruption.corruptions=jpeg_compression",
    "--mlguard-set=corruption.severities=3",
    "--mlguard-set=attack.checks=pgd-linf-1/255",
    "--mlguard-set=attack.samples=12",
    "--mlguard-set=attack.steps=2",
    "--mlguard-set=inputs.max_examples=5",
)
CELLS = [f"corruption[{name}-{s}]" for name in ("gaussian_noise", "motion_blur", "fog", "jpeg_compression") for s in (1, 3, 5)]
#: the service's inputs checks, determinism and drift (box-level agreement), which every run plans
PRODUCTION = ["inputs[corrupt-files]", "inputs[odd-modes]", "inputs[same-content]", "determinism[repeat]", "drift[threads]", "drift[torchscript]"]
FULL = ["contract[eval-mode]", "accuracy[map]", "accuracy[map_50]", *CELLS, "attack[fgsm-linf-1/255]", "attack[pgd-linf-1/255]", "calibration[ece]", *PRODUCTION]

pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")


def test_the_families_checks_of_a_detector_are_collected_and_nothing_that_assumes_a_class_vector(pytester):
    result = run_pytest(pytester, "--mlguard", str(EXAMPLE), "-p", "no:cacheprovider", "--collect-only", "-q")
    items = [line.split("::mlguard::")[1] for line in result.stdout.lines if "::mlguard::" in line]
    assert items == FULL, items


@pytest.mark.slow  # about two minutes on the shared 2-core machine
def test_the_example_passes_and_reports_map_mpc_rpc_ece_and_robust_map(pytester):
    output = pytester.path / "out"
    result = run_pytest(pytester, "--mlguard", str(EXAMPLE), "-p", "no:cacheprovider", f"--mlguard-output={output}", *SHORT)
    assert result.ret == 0, result.stdout.str()[-4000:]
    result.stdout.fnmatch_lines(["*- mlguard corruption summary -*", "shapes: mPC 0.* (mean mAP over 1 corruption check), rPC 0.* (of the clean mAP 0.*)", "  digital  severity 3: 0.*"])
    report = json.loads((output / "report.json").read_text())
    checks = {c["id"]: c for c in report["checks"]}
    planned = ["contract[eval-mode]", "accuracy[map]", "accuracy[map_50]", "corruption[jpeg_compression-3]", "attack[pgd-linf-1/255]", "calibration[ece]"]
    planned += PRODUCTION
    assert sorted(checks) == sorted(planned) and all(c["passed"] for c in checks.values()) and not report["skipped"]
    summary = report["corruption"]["shapes"]
    assert summary["metric"] == "map" and summary["clean_accuracy"] == checks["accuracy[map]"]["value"]
    assert summary["mPC"] == pytest.approx(checks["corruption[jpeg_compression-3]"]["value"]) and summary["rPC"] == pytest.approx(summary["mPC"] / checks["accuracy[map]"]["value"], rel=1e-4)
    assert checks["accuracy[map]"]["interval"]["method"] == "bootstrap-images" and checks["accuracy[map]"]["n"] == 60
    assert checks["attack[pgd-linf-1/255]"]["n"] == 12 and checks["attack[pgd-linf-1/255]"]["value"] < checks["attack[pgd-linf-1/255]"]["details"]["clean_map"]
    assert checks["calibration[ece]"]["interval"]["method"] == "bootstrap-images"
    page = (output / "report.html").read_text()
    assert 'data-plot="corruption"' in page and "mAP (IoU 0.5:0.95) against corruption severity" in page and "Robust mAP (IoU 0.5:0.95) against epsilon" in page
