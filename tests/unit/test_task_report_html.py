"""report.html for a detector and a segmenter: the reliability diagram's legend beside its bars (it covered
them), its caption in the task's unit (boxes, pixels; it said samples), the calibration-under-shift caption
that promises only what the figure draws, and no 'no shift/slices checks to draw' line for a task those
families do not apply to."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_report_outputs import check, reliability

from pytest_mlguard.reporting import build_report, plots
from pytest_mlguard.reporting._html import render_html

MODELS = {
    task: {"shapes": {"name": "shapes", "kind": "torch", "task": task, "value_range": [0.0, 1.0], "n_classes": 4, "class_names": ["b", "d", "s", "t"]}}
    for task in ("classification", "segmentation", "detection")
}
METRIC = {"classification": None, "segmentation": "pixel_ece", "detection": "detection_ece"}


def calibration(task: str) -> dict:
    details = {"reliability": reliability(15)} | ({"metric": METRIC[task]} if METRIC[task] else {})
    return check("calibration[ece]", 0.05, model="shapes", metric="ece", kind="ceiling", details=details)


@pytest.mark.parametrize(("task", "unit"), [("classification", "samples"), ("segmentation", "pixels"), ("detection", "boxes")])
def test_the_reliability_caption_counts_the_tasks_unit_and_the_shift_lines_follow_the_task(tmp_path, task, unit):
    page = render_html(build_report([calibration(task)], seed=0, samples=None, models=MODELS[task]), tmp_path)
    assert f"grey, the share of {unit} per bin" in page
    applies = task == "classification"
    assert ("no shift checks to draw" in page) is applies and ("no slices checks to draw" in page) is applies


def test_the_reliability_legend_covers_no_bar():
    bins = {"edges": np.linspace(0, 1, 16).tolist(), "count": [5.0] * 15, "accuracy": np.linspace(0.9, 0.95, 15).tolist(), "confidence": np.linspace(0.03, 0.97, 15).tolist()}
    figure = plots.reliability_diagram(calibration("detection"), bins)
    figure.canvas.draw()
    top = figure.axes[0]
    legend = top.get_legend().get_window_extent()
    bars = [patch.get_window_extent() for patch in top.patches if patch.get_height() > 0]
    assert bars and not [bar for bar in bars if bar.overlaps(legend)]


def test_the_shift_caption_promises_only_the_references_drawn(tmp_path):
    corruption = [
        check(f"corruption[fog-{s}]", 0.6, model="shapes", metric="miou", details={"corruption": "fog", "severity": s, "ece": 0.02 * s}) for s in (1, 3, 5)
    ]
    page = render_html(build_report([*corruption, calibration("segmentation")], seed=0, samples=None, models=MODELS["segmentation"]), tmp_path)
    caption = re.search(r"<figcaption>(ECE under[^<]*)</figcaption>", page)
    assert caption is not None, page[-3000:]
    assert "under attack" not in caption.group(1) and "beside the ECE of the same samples without the shift" not in caption.group(1)
    assert caption.group(1).startswith("ECE under corruption")


def test_a_segmenters_corruption_check_carries_the_clean_ece_the_shift_figure_draws_beside_it():
    """Before: no ``clean_ece`` in a segmenter's corruption details, so the figure had no clean reference."""
    import torch

    from pytest_mlguard import check_model
    from pytest_mlguard._segmentation.metrics import pixel_ece
    from pytest_mlguard.contract import SegmentationData, TorchSegmentationModel

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = TorchSegmentationModel(torch.nn.Conv2d(3, 3, 1), input_shape=(3, 16, 16), n_classes=3, name="seg")
    data = SegmentationData(rng.random((6, 3, 16, 16), dtype=np.float32), rng.integers(0, 3, (6, 16, 16)))
    (result,) = check_model(model, data, ["corruption[gaussian_noise-3]"], settings={"task": "segmentation"})
    assert result.details["clean_ece"] == pytest.approx(pixel_ece(model.predict_proba(data.x), data.y, 255))
    assert result.details["clean_ece"] != pytest.approx(result.details["ece"])
