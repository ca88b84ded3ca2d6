"""report.html's failing examples of a detector and a segmentation model: a failing corruption check saves
its worst images (``worst.npz``) and the page shows them with their boxes or masks drawn; a passing check
of the same run shows none."""

from __future__ import annotations

import base64
import io
import json
import re
import textwrap

import numpy as np
import pytest
from conftest import run_pytest, zoo_project
from PIL import Image


def thumbnails(page: str) -> dict[str, list[str]]:
    """The base64 PNGs of report.html's thumbnails, by the failing check (``<h3>`` of the examples) they belong to."""
    section = page[page.index('<section id="examples">') :]
    groups = re.split(r"<h3>", section)[1:]
    return {re.search(r"<code>(.*?)</code>", group)[1]: re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', group) for group in groups}


def run(pytester: pytest.Pytester, module: str, model: str, data: str, task: str, failing: str, passing: str) -> tuple[list[str], str]:
    """Run the corruption checks of ``failing`` and ``passing`` (``<corruption>-3``) on the zoo's ``model``: the
    first fails, the second passes; the thumbnails of the failing check, and report.html."""
    settings = f"""
        [tool.mlguard]
        task = "{task}"
        samples = 24
        [tool.mlguard.corruption]
        corruptions = ["{failing}", "{passing}"]
        severities = [3]
        floor = "0.6*clean"
    """
    zoo_project(pytester, model, data, textwrap.dedent(settings), module=module)
    result = run_pytest(pytester, "--mlguard", "-k", "corruption", f"--mlguard-output={pytester.path / 'out'}")
    assert result.ret == 1, result.stdout.str()[-3000:]
    checks = {c["id"]: c for c in json.loads((pytester.path / "out" / "report.json").read_text())["checks"]}
    assert not checks[f"corruption[{failing}-3]"]["passed"] and checks[f"corruption[{passing}-3]"]["passed"]
    page = (pytester.path / "out" / "report.html").read_text()
    shown = thumbnails(page)
    assert list(shown) == [f"corruption[{failing}-3]"]  # none for the passing check
    return shown[f"corruption[{failing}-3]"], page


def colours(png: str) -> set[tuple[int, int, int]]:
    return {tuple(c) for c in np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("RGB")).reshape(-1, 3).tolist()}


def test_a_failing_detection_check_shows_its_worst_images_with_target_and_predicted_boxes(pytester):
    pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")
    shown, page = run(pytester, "zoo_detection", "jpeg_shifted_detector", "scenes", "detection", "jpeg_compression", "fog")
    assert len(shown) == 3
    assert "1 target box (blue), 1 detection from a score of 0.5 (orange)" in page and "mAP 0.000 (clean 0.900)" in page
    drawn = colours(shown[0])
    assert (0x1F, 0x77, 0xB4) in drawn and (0xFF, 0x7F, 0x0E) in drawn  # the target boxes and the detections, in two colours


def test_a_failing_segmentation_check_shows_its_worst_images_with_target_and_predicted_masks(pytester):
    shown, page = run(pytester, "zoo", "noise_collapsing_segmenter", "segmentation_data", "segmentation", "gaussian_noise", "defocus_blur")
    assert len(shown) == 6  # three images, each with its target mask and its predicted mask
    assert re.search(r"image \d+, target mask \(background, [a-z, ]+\)", page) and re.search(r"image \d+, predicted mask \(background\): mIoU 0\.\d+ \(clean 0\.\d+\)", page)
    out = pytester.path / "out" / "artifacts"
    assert not (out / "collapses-under-noise-corruption_defocus_blur-3_" / "worst.npz").exists()
    with np.load(out / "collapses-under-noise-corruption_gaussian_noise-3_" / "worst.npz") as saved:
        target_mask, pred_mask, ignore = saved["target_mask"][0], saved["pred_mask"][0], int(saved["ignore_index"])
    assert (pred_mask == 0).all()  # collapsed under noise: all background, which is left uncoloured
    target, predicted = (np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("RGB")) for png in shown[:2])
    factor = target.shape[0] // target_mask.shape[0]
    shapes = np.kron((target_mask != 0) & (target_mask != ignore), np.ones((factor, factor), bool))
    assert shapes.any() and ((target != predicted).any(axis=-1) == shapes).all()  # the target mask's shapes coloured, nothing else
