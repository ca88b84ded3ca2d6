"""report.html as a browser shows it: the digits example's page in headless Chromium with every plot,
and a page full of hostile names that must show them as text, run nothing and fetch nothing.

Chromium comes from the system (`apt-get install -y chromium`, as .ci/run does) and is driven with
Playwright; `playwright install` is never needed. Without Chromium these tests skip and say why.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "digits"
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed: `apt-get install -y chromium` (the CI script .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")
    with tempfile.TemporaryDirectory(prefix="mlguard-chromium-") as home, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, env={"HOME": home})
        yield chromium
        chromium.close()


def open_page(browser, path: Path):
    """The page at ``path`` with what it tried to do: network requests, dialogs, console errors."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = {"requests": [], "dialogs": [], "errors": []}
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, seen


def rendered_images(page) -> list[dict]:
    return page.evaluate(
        "Array.from(document.images).map(i => ({alt: i.alt, width: i.naturalWidth, height: i.naturalHeight,"
        " shown: i.getBoundingClientRect().width, plot: i.closest('figure') ? i.closest('figure').dataset.plot : null}))"
    )


def test_digits_example_page_renders_every_plot_in_chromium(browser, pytester, tmp_path):
    output = tmp_path / "report"
    result = pytester.runpytest_subprocess(
        str(EXAMPLE),
        "--mlguard",
        "-p", "no:randomly",
        "-k", "(accuracy or corruption or attack or calibration) and not gate",
        f"--mlguard-output={output}",
        "--mlguard-samples", "120",
        "--mlguard-set", "corruption.severities=1,3,5",
        "--mlguard-set", "attack.checks=fgsm-linf-0.05,fgsm-linf-0.1,pgd-linf-0.1",
        "--mlguard-set", "calibration.checks=ece",
        # two failing checks, so that the page has failing examples to show
        "--mlguard-set", "attack.floors.fgsm-linf-0.1=0.95",
        "--mlguard-set", "corruption.floors.gaussian_noise-5=0.99",
        "--mlguard-set", "corruption.reference=imagenet-c",  # noise that flips digits (CIFAR-10-C's, the default at 8 px, is gentler)
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 2 and outcomes.get("passed") == 6, result.stdout.str()[-3000:]
    page, seen = open_page(browser, output / "report.html")
    images = rendered_images(page)
    plots = [i["plot"] for i in images if i["plot"]]
    assert plots == ["reliability", "corruption", "attack", "calibration-shift"]
    assert all(i["width"] > 0 and i["shown"] > 0 for i in images), images  # every image decoded and laid out
    thumbnails = page.locator("#examples .thumb img").count()
    assert thumbnails >= 2, "the failing attack and corruption saved examples; the page shows them"
    text = page.inner_text("body")
    for heading in ("Score", "Checks", "Plots", "Failing examples", "Models"):
        assert page.get_by_role("heading", name=heading, exact=True).count() == 1
    assert "attack[fgsm-linf-0.1]" in text and "gaussian_noise-5" in text
    assert page.locator("tr.failed").count() == 2
    assert [url for url in seen["requests"] if url != page.url] == [] and not seen["errors"]
    report = json.loads((output / "report.json").read_text())
    assert page.inner_text("#total-score") == f"{report['score']:.1f}"
    page.screenshot(path=str(tmp_path / "digits-report.png"), full_page=True)  # kept in the basetemp to look at


def test_hostile_names_show_as_text_and_nothing_runs_or_loads(browser, tmp_path):
    from pytest_mlguard.reporting import build_report, write_outputs
    from pytest_mlguard.reporting._examples import artifact_dir_name

    model = f'<img src=x onerror="alert(2)">{EVIL}'
    directory = tmp_path / "artifacts" / artifact_dir_name(model, "accuracy")
    directory.mkdir(parents=True)
    evil_file = '<iframe src="https:__example.com">.npy'
    np.save(directory / evil_file, np.zeros((1, 1, 8, 8)))
    check = {
        "id": "accuracy", "model": model, "family": "accuracy", "metric": "accuracy", "value": 0.1, "floor": 0.9,
        "threshold": "0.9", "n": 10, "passed": False, "seed": 0, "duration_s": 0.1,
        "details": {"examples": [{"file": str(directory / evil_file), "caption": f"{EVIL} caption"}]},
    }
    models = {model: {"name": model, "kind": "torch", "input_shape": [1, 8, 8], "value_range": [0, 1], "class_names": [EVIL, "<b>bold</b>"]}}
    paths = write_outputs(build_report([check], seed=0, samples=None, models=models), tmp_path)
    page, seen = open_page(browser, paths["html"])
    assert seen["dialogs"] == [] and seen["errors"] == []
    assert [url for url in seen["requests"] if url != page.url] == []
    assert page.evaluate("document.querySelectorAll('script, iframe, b').length") == 0
    assert page.evaluate("Array.from(document.images).every(i => i.src.startsWith('data:image/png;base64,'))")
    classes = page.inner_text("td.classes")
    assert classes == f"{EVIL}, <b>bold</b>"  # shown as text, exactly as named
    text = page.inner_text("body")
    assert f"{model}: accuracy" in text and evil_file in text and f"{EVIL} caption" in text


def check(check_id: str, value: float, *, metric: str = "robust_accuracy", kind: str = "floor", threshold: float = 0.4, n: int = 360, **extra) -> dict:
    method = "confidence-sequence" if extra.get("evaluations_saved") else "wilson"
    return {
        "id": check_id, "model": "digits", "family": check_id.partition("[")[0], "metric": metric, "value": value, kind: threshold,
        "threshold": f"{threshold:g}", "n": n, "passed": True, "verdict": "passed", "seed": 0, "duration_s": 1.0,
        "interval": {"low": max(0.0, value - 0.05), "high": min(1.0, value + 0.05), "method": method, "confidence": 0.95},
        "nodeid": f"examples/digits/conftest.py::mlguard::{check_id}", **extra,
    }


def digits_like_report() -> dict:
    """A report.json as the digits example writes it (values from a run of it), with a custom test's
    result, and the keys a run that was interrupted, partial, and had checks skipped or cut adds."""
    from pytest_mlguard.reporting import build_report

    attack = {"attack": "pgd", "norm": "linf", "clean_accuracy": 0.9778}
    reliability = {  # the example's bins: one sample at confidence 0.56 that the model got right
        "edges": [i / 15 for i in range(16)],
        "count": [0.0] * 8 + [1.0, 3.0, 3.0, 1.0, 1.0, 6.0, 345.0],
        "accuracy": [0.0] * 8 + [1.0, 0.3333, 0.6667, 1.0, 1.0, 0.6667, 0.9913],
        "confidence": [0.0] * 8 + [0.5604, 0.6242, 0.7205, 0.7726, 0.8104, 0.91, 0.9984],
    }
    checks = [
        check("accuracy", 0.9778, metric="accuracy", threshold=0.95),
        check("corruption[gaussian_noise-3]", 0.9, metric="accuracy", n=60, evaluations_saved=300,
              details={"corruption": "gaussian_noise", "severity": 3, "clean_accuracy": 0.9778, "ece": 0.0886, "clean_ece": 0.0161}),
        check("attack[fgsm-linf-0.1]", 0.65, n=60, evaluations_saved=570, details={**attack, "attack": "fgsm", "eps": 0.1, "ece_adversarial": 0.2887, "clean_ece": 0.0505}),
        check("attack[pgd-linf-0.1]", 0.4917, details={**attack, "eps": 0.1, "ece_adversarial": 0.4019, "clean_ece": 0.0161}),
        check("attack[square-linf-0.1]", 0.7, n=30, evaluations_saved=15169, details={**attack, "attack": "square", "eps": 0.1, "ece_adversarial": 0.2187, "clean_ece": 0.0594}),
        check("attack[pgd-linf-sweep]", 0.5819, metric="mean_robust_accuracy", details={**attack, "curve": {"eps": [0.025, 0.05, 0.1, 0.2], "robust_accuracy": [0.9528, 0.8778, 0.4917, 0.0056]}}),
        check("attack[deepfool-l2]", 0.5441, metric="median_perturbation", threshold=0.3,
              details={"attack": "deepfool", "norm": "l2", "clean_accuracy": 0.9778, "perturbation": {"norm": "l2"},
                       "curve": {"eps": [0.125, 0.25, 0.5, 1.0, 2.0], "robust_accuracy": [0.9528, 0.8861, 0.5444, 0.0222, 0.0028]}}),
        check("calibration[ece]", 0.0161, metric="ece", kind="ceiling", threshold=0.05, details={"reliability": reliability}),
        {**check("corruption[gaussian_noise-2]", 0.93, metric="accuracy"), "nodeid": "tests/test_robust.py::test_noise_keeps_most_accuracy",
         "details": {"corruption": "gaussian_noise", "severity": 2, "clean_accuracy": 0.9778}},
    ]
    models = {"digits": {"name": "digits", "kind": "torch", "input_shape": [1, 8, 8], "value_range": [0, 1], "class_names": [str(i) for i in range(10)]}}
    report = build_report(checks, seed=0, samples=None, models=models)
    report["skipped"] = [
        {"id": "inputs[missing-fields]", "model": "digits", "nodeid": "examples/digits/conftest.py::mlguard::inputs[missing-fields]",
         "kind": "not-applicable", "reason": "inputs[missing-fields]: the pipeline takes image-bytes, not records"},
        {"id": "drift[int8]", "model": "digits", "nodeid": "examples/digits/conftest.py::mlguard::drift[int8]", "kind": "cut",
         "reason": "needs about 4 s of the budget, 1 s left"},
    ]
    report["interrupted"] = report["partial"] = True
    report["selection"] = "-k 'not gate'"
    return report


def line_count(page, selector: str) -> list[int]:
    """How many lines of text each element matching ``selector`` is laid out on."""
    return page.evaluate(
        """selector => Array.from(document.querySelectorAll(selector)).map(cell => {
            const range = document.createRange(); range.selectNodeContents(cell);
            return new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.bottom))).size; })""",
        selector,
    )


def test_page_shows_what_was_not_measured_and_reads_cleanly_in_chromium(browser, tmp_path):
    from pytest_mlguard.reporting import write_outputs

    report = digits_like_report()
    paths = write_outputs(report, tmp_path)
    page, seen = open_page(browser, paths["html"])
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)  # kept in the basetemp to look at
    assert [url for url in seen["requests"] if url != page.url] == [] and not seen["errors"]

    # 9 checks measured, and the 2 planned but not measured, with why
    assert page.inner_text("#run-summary") == "9 of 9 checks passed; not measured: 1 not applicable, 1 cut"
    rows = page.locator("tr.not-measured")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().split("\t") == ["digits", "inputs[missing-fields]", "not applicable", "inputs[missing-fields]: the pipeline takes image-bytes, not records"]
    assert rows.nth(1).inner_text().split("\t")[1:3] == ["drift[int8]", "cut"]
    assert page.locator("#interrupted").is_visible() and page.locator("#partial").is_visible()
    assert "-k 'not gate'" in page.inner_text("#partial")

    # the verdict is one word on one line; early stopping has a column of its own
    assert set(line_count(page, "#checks td.verdict")) == {1}
    headers = page.locator("#checks table").first.locator("th").all_inner_texts()
    square = page.locator("#checks tr", has=page.locator("code", has_text="attack[square-linf-0.1]"))
    assert square.locator("td").nth(headers.index("evaluations saved by stopping early")).inner_text() == "15169"

    # the custom test that measured a result is named beside it
    custom = page.locator("#checks tr", has=page.locator("code", has_text="corruption[gaussian_noise-2]"))
    assert "from tests/test_robust.py::test_noise_keeps_most_accuracy" in custom.inner_text()

    # plots: a minimal attack is not a sweep; calibration under shift shows each check beside the ECE of its own samples
    alt = {page.locator(f"figure[data-plot={kind}] img").get_attribute("alt") for kind in ("attack", "calibration-shift")}
    attack_alt = next(a for a in alt if a.startswith("robust accuracy"))
    assert "deepfool-l2 (minimal perturbation)" in attack_alt and "pgd-linf (sweep)" in attack_alt and attack_alt.count("(sweep)") == 1
    shift_alt = next(a for a in alt if a.startswith("ECE under shift"))
    assert "fgsm-linf-0.1 0.289 (clean 0.051)" in shift_alt and "square-linf-0.1 0.219 (clean 0.059)" in shift_alt

    # the reliability diagram: no colour that the legend does not show (the gap drawn over the accuracy bar
    # made a dark blue-red block from 0.56 to 1.0 in the bin of one sample)
    shot = tmp_path / "reliability.png"
    page.locator("figure[data-plot=reliability] img").screenshot(path=str(shot))
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float).reshape(-1, 3)
    blend = 0.65 * np.array([31, 119, 180]) + 0.35 * np.array([214, 39, 40])  # 35% red over the accuracy blue
    dark = np.linalg.norm(pixels - blend, axis=1) < 30
    assert dark.mean() < 0.002, f"{dark.mean():.2%} of the diagram is a colour no legend entry has"
