"""Thumbnails of the failing examples that checks saved: adversarial images, corrupted files, the
most confident garbage input.

A failing check's examples are found, in this order, in its ``details`` (``examples``: a list of
paths or of ``{"file": path, "caption": text}``; ``artifacts``: a list of paths; ``artifact``: one
path, or a directory to look in) and in its artefact directory ``<output>/artifacts/<model>-<check>/``.
Paths may be absolute or relative to the output directory. Images (``.png``, ``.jpg``, ...) and
numpy arrays become thumbnails: ``.npy`` (a batch ``(N, C, H, W)``, ``(N, H, W)`` or one image) and
``.npz`` (its ``x_adv``, ``adversarial``, ``corrupted`` or ``x`` array, captioned ``label →
predicted class`` when it holds ``y`` and ``adversarial_class``; a detector's or segmenter's ``worst.npz``
drawn with its boxes or masks). Other files (``.bin``, a truncated
upload, say) become a card with their size, first bytes and why they do not decode.

Pillow and numpy are imported when a report is written, never when the plugin loads.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._messages import exception_text


Example = dict[str, Any]

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
_SHOWN_SUFFIXES = _IMAGE_SUFFIXES | {".npy", ".npz", ".bin", ""}
#: arrays of an ``.npz`` shown first, in this order (the attacks save ``x_adv``, the adversarial inputs)
_NPZ_IMAGES = ("x_adv", "adversarial", "corrupted", "x")
_NPZ_WORDS = {"x_adv": "adversarial", "adversarial": "adversarial", "corrupted": "corrupted", "x": "original"}
_MAX_BYTES = 32 * 1024 * 1024
_THUMB = 96


def artifact_dir_name(model_id: str, check_id: str) -> str:
    """The name of a check's artefact directory under ``<output>/artifacts/``.

    Example:
        >>> artifact_dir_name("digits", "attack[pgd-linf-8/255]")
        'digits-attack_pgd-linf-8_255_'
    """
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{model_id}-{check_id}")


def _png(image: Any) -> str:
    from PIL import Image

    width, height = image.size
    scale = max(1, _THUMB // max(width, height))  # small images (8x8 digits) are enlarged, pixel for pixel
    if scale > 1:
        image = image.resize((width * scale, height * scale), Image.Resampling.NEAREST)
    image.thumbnail((_THUMB * 2, _THUMB * 2))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _array_images(array: Any) -> list[Any]:
    """PIL images from an array: one image (HW, CHW, HWC) or a batch of them."""
    import numpy as np
    from PIL import Image

    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 2:
        batch = array[None, None]
    elif array.ndim == 3:
        batch = array[None] if array.shape[0] in (1, 3) else (array[None].transpose(0, 3, 1, 2) if array.shape[-1] in (1, 3) else array[:, None])
    elif array.ndim == 4:
        batch = array if array.shape[1] in (1, 3) or array.shape[-1] not in (1, 3) else array.transpose(0, 3, 1, 2)
    else:
        raise ValueError(f"an array of shape {array.shape} is not an image or a batch of images")
    if batch.shape[1] not in (1, 3):
        raise ValueError(f"an array of shape {array.shape} is not an image or a batch of images")
    finite = batch[np.isfinite(batch)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    elif low >= 0.0 and high <= 255.0:
        low, high = 0.0, 255.0
    scaled = np.nan_to_num((batch - low) / ((high - low) or 1.0)).clip(0, 1)
    images = []
    for sample in scaled:
        pixels = (sample.transpose(1, 2, 0) * 255).round().astype(np.uint8)
        images.append(Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels))
    return images


def _npz_images(archive: Any, class_names: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Images of an ``.npz`` and their captions: ``label -> adversarial class`` where it says them; the worst
    images of a detector or segmenter with their boxes or masks drawn (:mod:`._task_thumbnails`)."""
    if "x" in archive.files and ("pred_boxes" in archive.files or "pred_mask" in archive.files):
        from ._task_thumbnails import task_images

        return task_images(archive, _array_images(archive["x"]), class_names)
    name = next((n for n in _NPZ_IMAGES if n in archive.files), None)
    if name is None:
        raise ValueError(f"no image array in {sorted(archive.files)} (expected one of {list(_NPZ_IMAGES)})")
    images = _array_images(archive[name])
    word = _NPZ_WORDS[name]
    captions = [word] * len(images)
    predicted = next((n for n in ("adversarial_class", "prediction", "predicted") if n in archive.files), None)
    labels = [int(v) for v in archive["y"]] if "y" in archive.files else []

    def named(index: int) -> str:
        return str(class_names[index]) if 0 <= index < len(class_names) else str(index)

    if labels and predicted is not None:
        captions = [f"{word}: {named(a)} → {named(int(b))}" for a, b in zip(labels, archive[predicted])]
    if name != "x" and "x" in archive.files and len(archive["x"]) == len(images):  # each input beside its original
        originals = _array_images(archive["x"])
        clean = [f"original: {named(a)}" if labels else "original" for a in (labels or [0] * len(originals))]
        images = [image for pair in zip(originals, images) for image in pair]
        captions = [caption for pair in zip(clean, captions) for caption in pair]
    return images, captions


def thumbnail(path: Path, *, limit: int = 1, class_names: Sequence[str] = ()) -> list[Example]:
    """Up to ``limit`` thumbnails of the file at ``path`` (an array file may hold a batch)."""
    name = path.name
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            return [{"file": name, "bytes": size, "error": f"not shown: {size} bytes is over {_MAX_BYTES}"}]
        raw = path.read_bytes()
    except OSError as exc:
        return [{"file": name, "error": f"cannot read: {exc}"}]
    captions: list[str] = []
    try:
        if path.suffix.lower() == ".npy":
            import numpy as np

            images = _array_images(np.load(io.BytesIO(raw), allow_pickle=False))
        elif path.suffix.lower() == ".npz":
            import numpy as np

            with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
                images, captions = _npz_images(archive, class_names)
        else:
            from PIL import Image

            with Image.open(io.BytesIO(raw)) as opened:
                opened.load()
                images = [opened.convert("RGB") if opened.mode not in ("L", "RGB") else opened.copy()]
    except Exception as exc:  # noqa: BLE001 - whatever the file is, the report shows it as a card
        return [{"file": name, "bytes": len(raw), "head": raw[:16].hex(" "), "error": exception_text(exc)}]
    count = len(images)
    shown = []
    for index, image in enumerate(images[:limit]):
        example: Example = {"file": name if count == 1 else f"{name} [{index}]", "bytes": len(raw), "png": _png(image), "size": list(image.size)}
        if index < len(captions) and captions[index]:
            example["label"] = captions[index]
        shown.append(example)
    return shown


def _declared(details: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, caption) of the examples a check names in its details."""
    for entry in details.get("examples", []) or []:
        if isinstance(entry, str):
            yield entry, ""
        elif isinstance(entry, Mapping) and isinstance(path := entry.get("file") or entry.get("path"), str):
            yield path, str(entry.get("caption", ""))
    artifacts = details.get("artifacts", [])
    for entry in [artifacts] if isinstance(artifacts, str) else artifacts or []:
        if isinstance(entry, str):
            yield entry, ""
    if isinstance(details.get("artifact"), str):
        yield details["artifact"], ""


def failing_examples(report: Mapping[str, Any], output: Path, *, per_check: int = 6) -> list[dict[str, Any]]:
    """For each failing check that saved examples: ``{"model", "check", "examples": [...]}``, each
    example with ``file``, ``caption`` and either ``png`` (base64) or ``error`` (and ``head``)."""
    output = Path(output)
    groups = []
    for check in report.get("checks", []):
        if check.get("passed", True) or per_check <= 0:
            continue
        seen: set[Path] = set()
        shown: list[Example] = []
        declared = [(output / path if not Path(path).is_absolute() else Path(path), caption) for path, caption in _declared(check.get("details", {}))]
        directories = [output / "artifacts" / artifact_dir_name(check["model"], check["id"])]
        candidates = []
        for path, caption in declared:
            if path.is_dir():
                directories.insert(0, path)
            else:
                candidates.append((path, caption))
        for directory in directories:
            if directory.is_dir():
                candidates += [(p, "") for p in sorted(directory.iterdir()) if p.is_file() and p.suffix.lower() in _SHOWN_SUFFIXES]
        model = report.get("models", {}).get(check["model"], {})
        class_names = model.get("class_names", []) if isinstance(model, Mapping) else []
        files: list[list[Example]] = []
        for path, caption in candidates:
            resolved = path.resolve()
            if resolved in seen or not resolved.is_file() or len(files) >= per_check:
                continue
            seen.add(resolved)
            examples = thumbnail(resolved, limit=per_check, class_names=class_names)
            examples[0]["caption"] = caption  # a file's caption once, under its first thumbnail
            files.append(examples)
        # one image of each file in turn, so that batches saved side by side (clean.npy and
        # corrupted.npy) show as pairs
        shown = [f[i] for i in range(per_check) for f in files if i < len(f)][:per_check]
        if shown:
            groups.append({"model": check["model"], "check": check["id"], "examples": shown})
    return groups
