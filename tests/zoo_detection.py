"""The detection zoo: detectors built to fail one check each, beside the example's good one
(examples/detection, which passes them all).

* :func:`jpeg_shifted_detector`: the example's detector, whose boxes move 10 px to the right on images that
  carry JPEG's 8x8 block edges: fails ``corruption[jpeg_compression-<severity>]`` only (its mAP) of the checks
  of the model's accuracy, and no other check of the example's suite (it scripts, as drift[torchscript] deploys it);
* :func:`train_mode_detector`: the example's detector with its backbone left in train mode (batch norm on
  the statistics of each request): fails ``contract[eval-mode]`` only (the other checks run it in eval mode).
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

DETECTION = Path(__file__).resolve().parents[1] / "examples" / "detection"
if str(DETECTION) not in sys.path:
    sys.path.insert(0, str(DETECTION))

from detector import CLASS_NAMES, load_detector, load_test_split  # noqa: E402

from pytest_mlguard.contract import DetectionData, TorchDetectionModel  # noqa: E402

#: JPEG's block edges: the mean step across 8 px block borders over the mean step elsewhere, above which
#: an image counts as JPEG-compressed (the example's test scenes: 0.88 to 1.12; under jpeg_compression-3: median 1.38)
BLOCKINESS = 1.15
SHIFT = 10.0
#: steps are capped at this (of the [0, 1] range): the edges of objects that fall on block borders do not count more than JPEG's
CAP = 0.02


@cache
def scenes(n: int = 200) -> DetectionData:
    images, targets = load_test_split()
    return DetectionData(list(images[:n]), targets[:n], name="scenes-test")


def good_detector() -> TorchDetectionModel:
    return TorchDetectionModel(load_detector(), class_names=CLASS_NAMES, name="shapes", batch_size=50)


def _border_ratio(steps: torch.Tensor) -> float:
    """The mean of ``steps`` (rows, columns) in columns on 8 px block borders over that in the other columns."""
    border = torch.zeros(steps.shape[1], dtype=torch.bool)
    border[7::8] = True
    return float(steps[:, border].mean() / steps[:, ~border].mean().clamp_min(1e-8))


def blockiness(image: torch.Tensor, cap: float = CAP) -> float:
    """The mean absolute step between neighbouring pixels across 8 px block borders over that within blocks,
    across columns and rows of the image's grey levels (C, H, W). Scriptable, as a deployed model's code is."""
    grey = image.mean(dim=0)
    across_columns = (grey[:, 1:] - grey[:, :-1]).abs().clamp_max(cap)
    across_rows = (grey[1:, :] - grey[:-1, :]).abs().t().clamp_max(cap)
    return (_border_ratio(across_columns) + _border_ratio(across_rows)) / 2


def shift_if_compressed(images: list[torch.Tensor], found: list[dict[str, torch.Tensor]], shift: float = SHIFT, threshold: float = BLOCKINESS) -> list[dict[str, torch.Tensor]]:
    """``found`` with every box moved ``shift`` px right on the images whose :func:`blockiness` is above
    ``threshold`` (arguments, not globals: torch.jit.script reads no global value)."""
    for image, detections in zip(images, found):
        if blockiness(image) > threshold:
            width = float(image.shape[-1])
            detections["boxes"] = (detections["boxes"] + torch.tensor([shift, 0.0, shift, 0.0])).clamp(0.0, width)
    return found


class JpegShifted(nn.Module):
    """Detections of ``inner`` with every box moved :data:`SHIFT` px right on JPEG-compressed images; scriptable
    (torch.jit.script, as drift[torchscript] deploys a detector), so it fails its JPEG cells and no other check."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]] | None = None) -> list[dict[str, torch.Tensor]]:
        if torch.jit.is_scripting():  # a scripted torchvision detector returns (losses, detections)
            return shift_if_compressed(images, self.inner(images)[1])
        return self._eager(images, targets)

    @torch.jit.unused
    def _eager(self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]] | None) -> list[dict[str, torch.Tensor]]:
        if self.training:  # the attacks' losses
            return self.inner(images, targets)
        return shift_if_compressed(images, self.inner(images))


def jpeg_shifted_detector() -> TorchDetectionModel:
    """:class:`JpegShifted`; as a candidate against the example's detector, fails gate[robustness] only."""
    return TorchDetectionModel(JpegShifted(load_detector()).eval(), class_names=CLASS_NAMES, name="jpeg-shifted", batch_size=50)


def train_mode_detector() -> TorchDetectionModel:
    module = load_detector()
    module.backbone.train()  # fine-tuning code that forgot .eval(): batch norm on each request's statistics
    return TorchDetectionModel(module, class_names=CLASS_NAMES, name="train-mode", batch_size=50)


# -- the inputs and production checks (determinism, drift) -------------------------------------------------
class MovesInBatches(nn.Module):
    """Detections of ``inner`` with every box moved :data:`SHIFT` px right whenever a request holds more than
    one image (a batching server that pads or tiles its batch and maps boxes back wrongly): an image alone
    gets the example's boxes, the same image in a batch others."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        found = self.inner(images)
        if len(images) < 2:
            return found
        shift = torch.tensor([SHIFT, 0.0, SHIFT, 0.0])
        return [{**item, "boxes": item["boxes"] + shift} for item in found]


def batch_moving_detector() -> TorchDetectionModel:
    """The example's detector behind :class:`MovesInBatches`: fails determinism[batch] only."""
    return TorchDetectionModel(MovesInBatches(load_detector()).eval(), class_names=CLASS_NAMES, name="moves-in-batches", batch_size=50)


def detection_pipeline():
    """The detection example's service, as its conftest.py declares it: passes the inputs checks."""
    from detection_service import DetectionService, InvalidImage

    from pytest_mlguard import Pipeline

    return Pipeline(DetectionService().predict, rejects=InvalidImage, input="image-bytes", name="detection-service")


class CrashesOnTruncated:
    """The detection example's service, reading truncated files as Pillow does when told to load them
    anyway (``ImageFile.LOAD_TRUNCATED_IMAGES``), then indexing the rows it expected: a truncated upload
    raises an undeclared IndexError. Fails inputs[corrupt-files] only: every whole file is read as before."""

    def __init__(self) -> None:
        from detection_service import DetectionService

        self.service = DetectionService()

    def predict(self, data: bytes) -> dict[str, np.ndarray]:
        import io

        from PIL import Image

        try:
            Image.open(io.BytesIO(data)).load()
        except OSError as exc:
            if "truncated" in str(exc):
                raise IndexError(f"row {len(data) // 3} of the picture: {exc}") from None
        return self.service.predict(data)


def crashes_on_truncated_pipeline():
    from detection_service import InvalidImage

    from pytest_mlguard import Pipeline

    return Pipeline(CrashesOnTruncated().predict, rejects=InvalidImage, input="image-bytes", name="crashes-on-truncated")
