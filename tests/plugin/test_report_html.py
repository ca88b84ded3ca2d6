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
        "--mlguard-output", str(output),
        "--mlguard-samples", "120",
        "--mlguard-set", "corruption.severities=1,3,5",
        "--mlguard-set", "attack.checks=fgsm-linf-0.05,fgsm-linf-0.1,pgd-linf-0.1",
        "--mlguard-set", "calibration.checks=ece",
        # two failing checks, so that the page has failing examples to show
        "--mlguard-set", "attack.floors.fgsm-linf-0.1=0.95",
        "--mlguard-set", "corruption.floors.gaussian_noise-5=0.99",
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
    from pytest_mlguard.reporting.examples import artifact_dir_name

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
