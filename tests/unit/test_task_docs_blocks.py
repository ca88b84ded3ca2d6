"""The code blocks of docs/detection.md and docs/segmentation.md run: the detection block "Without pytest"
raised ``InvalidArgument: no check accuracy[None]`` and used ``predictions`` without defining it. Each block
runs with the names the page says are the user's bound to the examples' model and data (a few images)."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python_block(page: str, heading: str) -> str:
    """The first ```python block after ``heading`` in docs/``page``."""
    text = (ROOT / "docs" / page).read_text()
    after = text[text.index(heading) :]
    found = re.search(r"```python\n(.*?)```", after, re.S)
    assert found is not None, f"no python block after {heading!r} in {page}"
    return textwrap.dedent(found.group(1))


@pytest.fixture
def example_on_path(monkeypatch):
    def add(name: str) -> None:
        monkeypatch.syspath_prepend(str(ROOT / "examples" / name))

    yield add
    for module in ("detector", "segmenter"):
        sys.modules.pop(module, None)


def test_the_detection_block_without_pytest_runs(example_on_path):
    example_on_path("detection")
    from detector import CLASS_NAMES, load_detector, load_test_split

    images, targets = load_test_split()
    names = {"net": load_detector(), "names": CLASS_NAMES, "images": list(images[:6]), "targets": targets[:6]}
    exec(compile(python_block("detection.md", "## Without pytest"), "docs/detection.md", "exec"), names)
    assert [result.id for result in names["results"]] == ["accuracy[map]", "corruption[fog-3]", "calibration[ece]"]
    assert set(names["mean_average_precision"](names["predictions"], names["data"].targets)) >= {"map", "map_50"}
    ece = names["results"][2].details  # the block's detection_ece is the check's plug-in value, as the page says
    assert names["detection_ece"](names["predictions"], names["data"].targets) == (pytest.approx(ece["plugin"], abs=1e-6), ece["boxes"])


def test_the_segmentation_declaration_block_declares_the_example(example_on_path):
    example_on_path("segmentation")
    from segmenter import load_model, scenes

    from pytest_mlguard.contract import check_declaration

    images, masks = scenes(4, seed=0)
    names = {"pytest": pytest, "net": load_model(), "images": images, "masks": masks}
    exec(compile(python_block("segmentation.md", 'task = "segmentation"   #'), "docs/segmentation.md", "exec"), names)
    model = names["mlguard_model"].__wrapped__()
    data = names["mlguard_data"].__wrapped__()
    adapted, checked = check_declaration(model, data, task="segmentation")
    assert adapted.task == "segmentation" and checked.n == 4 and checked.ignore_index == 255
