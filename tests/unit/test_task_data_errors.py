"""Data errors a new user meets: PIL images in a Dataset (read as (H, W, C) arrays in 0..255 before), and
mask labels outside 0..K-1 (the fix: declare them as ignore_index, and how for a Dataset or DataLoader)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pytest_mlguard import ContractError, InvalidArgument
from pytest_mlguard.contract import SegmentationData, TorchSegmentationModel, as_task_data, check_declaration
from pytest_mlguard.contract._data import as_data

TO_TENSOR = r"PIL images? .*transforms.v2.Compose\(\[v2.ToImage\(\), v2.ToDtype\(torch.float32, scale=True\)\]\).*functional.to_tensor"


def photo(size: int = 8) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))


def dataset(pairs: list) -> torch.utils.data.Dataset:
    """A map-style Dataset of ``pairs`` (a plain list is not read as one)."""
    return torch.utils.data.Subset(pairs, range(len(pairs)))


def target() -> dict[str, torch.Tensor]:
    return {"boxes": torch.tensor([[0.0, 0.0, 2.0, 2.0]]), "labels": torch.tensor([1])}


@pytest.mark.parametrize(
    "read",
    [
        lambda: as_task_data(dataset([(photo(), target()), (photo(), target())]), "detection"),
        lambda: as_task_data(
            torch.utils.data.DataLoader([(photo(), target())] * 2, batch_size=2, collate_fn=lambda batch: tuple(zip(*batch))), "detection"
        ),
        # a PIL mask is right (its pixels are the class indices): the image is what is misread
        lambda: as_task_data(dataset([(photo(), Image.fromarray(np.zeros((8, 8), np.uint8)))] * 2), "segmentation"),
        lambda: as_data(dataset([(photo(), 1), (photo(), 0)])),
        lambda: as_data(torch.utils.data.DataLoader([(photo(), 1), (photo(), 0)], batch_size=2)),
    ],
    ids=["detection-dataset", "detection-loader", "segmentation-dataset", "classifier-dataset", "classifier-loader"],
)
def test_pil_images_in_the_data_are_an_error_naming_the_conversion(read):
    with pytest.raises(InvalidArgument, match=TO_TENSOR):
        read()


def test_a_pil_mask_beside_a_tensor_image_is_read_as_class_indices():
    mask = np.zeros((8, 8), np.uint8)
    mask[2:4] = 2
    data = as_task_data(dataset([(torch.zeros(3, 8, 8), Image.fromarray(mask))]), "segmentation")
    np.testing.assert_array_equal(data.y[0], mask)


def test_a_negative_mask_label_names_the_labels_and_how_to_declare_it_as_ignore_index():
    y = np.zeros((1, 4, 4), int)
    y[0, 0] = 2
    y[0, 1] = -1
    with pytest.raises(InvalidArgument, match=r"Expected class indices 0..2 \(or ignore_index=255\) in the masks but got -1") as raised:
        SegmentationData(np.zeros((1, 3, 4, 4)), y)
    assert "K-1" not in str(raised.value)
    assert "SegmentationData(x, y, ignore_index=-1)" in str(raised.value)
    assert "as_task_data(dataset_or_loader, 'segmentation', ignore_index=-1)" in str(raised.value)
    # and the API it names does read a Dataset with that ignore_index
    pairs = torch.utils.data.TensorDataset(torch.zeros(1, 3, 4, 4), torch.from_numpy(y))
    assert as_task_data(pairs, "segmentation", ignore_index=-1).max_label() == 2


def test_a_label_above_the_models_classes_names_how_to_declare_it_as_ignore_index():
    model = TorchSegmentationModel(torch.nn.Conv2d(3, 2, 1), input_shape=(3, 4, 4), n_classes=2, name="seg")
    y = np.zeros((1, 4, 4), int)
    y[0, 0] = 254
    with pytest.raises(ContractError, match=r"holds label 254.*as_task_data\(dataset_or_loader, 'segmentation', ignore_index=254\)"):
        check_declaration(model, (np.zeros((1, 3, 4, 4), np.float32), y), task="segmentation")
