"""examples/segmentation: `pytest --mlguard examples/segmentation` plans the checks of a segmentation
model (task = "segmentation"), passes its floors, and its report carries mIoU, the corruption summary's
mPC and rPC, the attack checks' robust mIoU and their figures in report.html."""

from __future__ import annotations

import json

import pytest
from conftest import TESTS, run_pytest

EXAMPLE = TESTS.parent / "examples" / "segmentation"
#: a short run of the example: fewer images, one severity and one attack
SHORT = (
    "--mlguard-samples=60",
    "--mlguard-set=corruption.severities=3",
    "--mlguard-set=attack.checks=pgd-linf-1/255",
    "--mlguard-set=inputs.max_examples=5",
)


#: the service's inputs checks, determinism and drift (pixel-level agreement), which every run plans
PRODUCTION = ("inputs[corrupt-files]", "inputs[odd-modes]", "inputs[same-content]", "determinism[repeat]", "determinism[batch]", "drift[bfloat16]", "drift[torchscript]")
FULL = {  # the checks of the example's pyproject.toml, as the docs run it
    "contract[eval-mode]", "accuracy", "calibration[ece]", "attack[fgsm-linf-1/255]", "attack[pgd-linf-1/255]", "attack[pgd-l2-0.25]",
    *(f"corruption[{name}-{s}]" for name in ("gaussian_noise", "defocus_blur", "fog", "jpeg_compression") for s in (1, 3, 5)),
    *PRODUCTION,
}


@pytest.mark.parametrize(
    ("args", "planned"),
    [
        pytest.param(SHORT, {c for c in FULL if not c.startswith("attack") and c[-3:-1] not in ("-1", "-5")} | {"attack[pgd-linf-1/255]"}, id="short"),
        pytest.param((), FULL, id="as-the-docs-run-it", marks=pytest.mark.slow),
    ],
)
def test_the_example_passes_and_reports_miou_mpc_rpc_and_robust_miou(pytester, args, planned):
    output = pytester.path / "out"
    result = run_pytest(pytester, "--mlguard", str(EXAMPLE), "-p", "no:cacheprovider", f"--mlguard-output={output}", *args)
    assert result.ret == 0, result.stdout.str()[-4000:]
    count = sum(1 for c in planned if c.startswith("corruption"))
    result.stdout.fnmatch_lines([f"*shapes: mPC 0.* (mean mIoU over {count} corruption checks), rPC 0.* (of the clean mIoU 0.*)"])
    report = json.loads((output / "report.json").read_text())
    checks = {c["id"]: c for c in report["checks"]}
    assert set(checks) == planned and all(c["passed"] for c in checks.values()) and not report["skipped"]
    assert checks["accuracy"]["metric"] == "miou" and checks["attack[pgd-linf-1/255]"]["metric"] == "robust_miou"
    summary = report["corruption"]["shapes"]
    assert summary["metric"] == "miou" and summary["rPC"] == pytest.approx(summary["mPC"] / checks["accuracy"]["value"], rel=1e-4)
    page = (output / "report.html").read_text()
    assert 'data-plot="corruption"' in page and 'data-plot="attack"' in page


def test_families_that_assume_a_class_vector_are_not_collected_for_a_segmentation_model(pytester):
    result = run_pytest(pytester, "--mlguard", str(EXAMPLE), "-p", "no:cacheprovider", "--collect-only", "-q", "--mlguard-set=attack.checks=pgd-linf-1/255,deepfool-l2,square-linf-0.1")
    items = [line.split("::mlguard::")[1] for line in result.stdout.lines if "::mlguard::" in line]
    assert "attack[pgd-linf-1/255]" in items and not any(item.startswith(("shift", "attack[deepfool", "attack[square")) for item in items), items
    assert set(PRODUCTION) <= set(items)  # the inputs and production families compare masks pixel by pixel
