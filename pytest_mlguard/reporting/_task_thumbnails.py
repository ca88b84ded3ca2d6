"""Thumbnails of the worst images that a failing detection or segmentation check saved
(``worst.npz``, :mod:`pytest_mlguard.checks._worst`): a detector's with its target boxes (blue) and its
detections from a score of :data:`DRAWN_SCORE` (orange), each labelled with its class (and score); a
segmenter's twice, its target mask and its predicted mask overlaid in one colour per class (a class
named ``background``, and ignored pixels, left uncoloured).

The images are enlarged to about :data:`SIDE` px before the boxes and labels are drawn, so that small
images keep readable labels. Pillow and numpy are imported when a report is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

TARGET, PREDICTED = "#1f77b4", "#ff7f0e"
#: detections drawn: from this score
DRAWN_SCORE = 0.5
SIDE = 192
#: the masks' colours by class (matplotlib's tab10)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _named(label: int, class_names: Sequence[str]) -> str:
    return str(class_names[label]) if 0 <= label < len(class_names) else str(label)


def _enlarged(image: Any, size: Sequence[int] | None) -> tuple[Any, int]:
    """The image cropped to its ``size`` (height, width: the batch pads smaller images) and enlarged by a whole factor."""
    from PIL import Image

    if size is not None:
        image = image.crop((0, 0, int(size[1]), int(size[0])))
    factor = max(1, SIDE // max(image.size))
    return image.convert("RGB").resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST), factor


def _split(archive: Any, prefix: str, keys: Sequence[str]) -> list[dict[str, np.ndarray]]:
    """The flat ``<prefix>_<key>`` arrays, per image by ``<prefix>_counts``."""
    edges = np.cumsum(archive[f"{prefix}_counts"])[:-1]
    parts = {key: np.split(archive[f"{prefix}_{key}"], edges) for key in keys if f"{prefix}_{key}" in archive.files}
    return [{key: parts[key][i] for key in parts} for i in range(len(archive[f"{prefix}_counts"]))]


def _boxes(draw: Any, boxes: np.ndarray, texts: Sequence[str], colour: str, factor: int, below: bool) -> None:
    for box, text in zip(boxes, texts):
        x0, y0, x1, y1 = (float(v) * factor for v in box)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=2)
        left, top, right, bottom = draw.textbbox((0, 0), text)
        y = min(y1 + 1, draw.im.size[1] - (bottom - top) - 2) if below else max(0.0, y0 - (bottom - top) - 2)  # detections' labels under their box
        draw.rectangle((x0, y, x0 + right - left + 2, y + bottom - top + 2), fill=colour)
        draw.text((x0 + 1, y), text, fill="white")


def detection_images(archive: Any, images: Sequence[Any], class_names: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Each saved image with its target boxes and its detections drawn, and its caption."""
    from PIL import ImageDraw

    targets, found = _split(archive, "target", ("boxes", "labels")), _split(archive, "pred", ("boxes", "labels", "scores"))
    sizes = archive["sizes"] if "sizes" in archive.files else [None] * len(images)
    drawn, captions = [], []
    for i, (image, size, target, detections) in enumerate(zip(images, sizes, targets, found)):
        image, factor = _enlarged(image, size)
        draw = ImageDraw.Draw(image)
        _boxes(draw, target["boxes"], [_named(int(label), class_names) for label in target["labels"]], TARGET, factor, below=False)
        shown = detections["scores"] >= DRAWN_SCORE
        texts = [f"{_named(int(label), class_names)} {score:.2f}" for label, score in zip(detections["labels"][shown], detections["scores"][shown])]
        _boxes(draw, detections["boxes"][shown], texts, PREDICTED, factor, below=True)
        drawn.append(image)
        captions.append(
            f"image {int(archive['index'][i])}: mAP {_score(archive, 'score', i)} (clean {_score(archive, 'clean_score', i)}); "
            f"{_count(len(target['boxes']), 'target box', 'target boxes')} (blue), {_count(int(shown.sum()), 'detection', 'detections')} from a score of {DRAWN_SCORE:g} (orange)"
        )
    return drawn, captions


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _score(archive: Any, key: str, index: int) -> str:
    value = float(archive[key][index]) if key in archive.files else float("nan")
    return f"{value:.3f}" if np.isfinite(value) else "n/a"


def _overlaid(image: Any, mask: np.ndarray, class_names: Sequence[str], ignore: int | None) -> Any:
    from PIL import Image

    colours = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in PALETTE], np.uint8)
    mask = np.asarray(mask, np.int64)
    coloured = (mask >= 0) & (mask != (ignore if ignore is not None else -1))
    if class_names and str(class_names[0]).lower() == "background":
        coloured &= mask != 0
    layer = np.zeros((*mask.shape, 3), np.uint8)
    layer[coloured] = colours[mask[coloured] % len(colours)]
    alpha = np.where(coloured, 160, 0).astype(np.uint8)
    base = image.convert("RGB").resize((mask.shape[1], mask.shape[0]), Image.Resampling.NEAREST)
    overlay = Image.fromarray(np.dstack([layer, alpha]), "RGBA")
    return Image.alpha_composite(base.convert("RGBA"), overlay).convert("RGB")


def segmentation_images(archive: Any, images: Sequence[Any], class_names: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Each saved image twice, its target mask and its predicted mask overlaid, and their captions."""
    ignore = int(archive["ignore_index"]) if "ignore_index" in archive.files else None
    drawn, captions = [], []
    for i, image in enumerate(images):
        for key, word in (("target_mask", "target mask"), ("pred_mask", "predicted mask")):
            enlarged, _ = _enlarged(_overlaid(image, archive[key][i], class_names, ignore), None)
            drawn.append(enlarged)
            classes = sorted({_named(int(c), class_names) for c in np.unique(archive[key][i]) if ignore is None or int(c) != ignore})
            captions.append(f"image {int(archive['index'][i])}, {word} ({', '.join(classes)})" + (f": mIoU {_score(archive, 'score', i)} (clean {_score(archive, 'clean_score', i)})" if key == "pred_mask" else ""))
    return drawn, captions


def task_images(archive: Any, images: Sequence[Any], class_names: Sequence[str]) -> tuple[list[Any], list[str]]:
    """The thumbnails of a ``worst.npz``: a detector's (``pred_boxes``) or a segmenter's (``pred_mask``); its
    classes named by ``class_names``, else by the names the file holds (``class_names``)."""
    if not class_names and "class_names" in archive.files:
        class_names = [str(name) for name in archive["class_names"]]
    if "pred_boxes" in archive.files:
        return detection_images(archive, images, class_names)
    return segmentation_images(archive, images, class_names)
