"""report.html's Production shift section in Chromium: the drift table, the estimated accuracy and the
embedding's MMD against its null distribution render, in the page's width, with no script and nothing
loaded. (Skipped where Chromium or Playwright is missing, as test_report_html.py's tests are.)"""

from __future__ import annotations

import numpy as np
from test_report_html import browser, open_page, rendered_images  # noqa: F401 (browser: a fixture)


def _shift_report() -> dict:
    """The report of the six shift checks of a small torch model, on a production sample brighter than its data."""
    import torch

    from pytest_mlguard.checks.api import check_model
    from pytest_mlguard.contract import EvalData, TorchModel
    from pytest_mlguard.reporting import build_report

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).eval()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(300, 1, 2, 2)).astype(np.float32)
    with torch.no_grad():
        y = net(torch.from_numpy(x)).argmax(1).numpy()
    model = TorchModel(net, input_shape=(1, 2, 2), n_classes=2, name="tiny")
    production = np.clip(rng.uniform(0, 1, size=(200, 1, 2, 2)) + 0.3, 0, 1).astype(np.float32)
    names = ["classes", "confidence", "inputs", "embedding", "ood", "accuracy"]
    settings = {"shift.checks": names, "verdict.bootstrap": 200, "shift.accuracy_floor": 0.5}
    results = check_model(model, EvalData(x, y), [f"shift[{name}]" for name in names], settings=settings, extras={"production": production})
    models = {"tiny": {"name": "tiny", "kind": "torch", "input_shape": [1, 2, 2], "value_range": [0, 1]}}
    return build_report([result.to_dict() for result in results], seed=0, samples=None, models=models)


def test_the_shift_section_renders_in_chromium(browser, tmp_path):  # noqa: F811 (the imported fixture)
    from pytest_mlguard.reporting import write_outputs

    paths = write_outputs(_shift_report(), tmp_path)
    page, seen = open_page(browser, paths["html"])
    assert seen["dialogs"] == [] and seen["errors"] == [] and [url for url in seen["requests"] if url != page.url] == []
    assert page.get_by_role("heading", name="Production shift", exact=True).count() == 1
    assert page.locator("nav a[href='#shift']").count() == 1
    drift = page.locator("table[data-table='shift-drift'] tbody tr")
    assert drift.count() == 5 and drift.first.locator("td").nth(1).inner_text() == "brightness"
    assert page.locator("table[data-table='shift-drift'] tbody tr.failed").count() >= 1
    assert page.locator("table[data-table='shift-accuracy'] tbody tr td").first.inner_text() == "ATC (max-probability)"
    plots = [image["plot"] for image in rendered_images(page) if image["plot"]]
    assert plots == ["shift", "shift-null"] and all(image["width"] > 0 and image["shown"] > 0 for image in rendered_images(page))
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
