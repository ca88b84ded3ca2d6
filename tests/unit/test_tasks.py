"""Tasks in the model contract: segmentation and detection adapters and data, the ``task`` setting,
and the families planned (or not applicable) for each task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlguard import ContractError, InvalidArgument, NotApplicable
from pytest_mlguard.checks._registry import all_keys, families, family
from pytest_mlguard.config import resolve
from pytest_mlguard.contract import (
    CallableDetectionModel,
    CallableSegmentationModel,
    DetectionData,
    SegmentationData,
    TorchDetectionModel,
    TorchSegmentationModel,
    as_task_data,
    check_declaration,
)


def settings(task: str = "classification"):
    return resolve(cli={"task": task}, environ={}, keys=all_keys())


def seg_net(classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Conv2d(3, classes, 1)


def seg_data(n: int = 4, classes: int = 3) -> SegmentationData:
    rng = np.random.default_rng(0)
    return SegmentationData(rng.random((n, 3, 6, 6), dtype=np.float32), rng.integers(0, classes, (n, 6, 6)))


def test_a_torch_segmenter_gives_per_pixel_probabilities_and_masks():
    model = TorchSegmentationModel(seg_net(), input_shape=(3, 6, 6), n_classes=3, name="seg")
    proba = model.predict_proba(seg_data().x)
    assert model.task == "segmentation" and proba.shape == (4, 3, 6, 6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert model.predict(seg_data().x).shape == (4, 6, 6)


def test_a_torchvision_style_dict_output_is_read_through_its_key():
    class DictNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = seg_net()

        def forward(self, x):
            return {"out": self.conv(x), "aux": self.conv(x)}

    model = TorchSegmentationModel(DictNet(), input_shape=(3, 6, 6), n_classes=3, output_key="out")
    assert model.predict_proba(seg_data().x).shape == (4, 3, 6, 6)
    without = TorchSegmentationModel(DictNet(), input_shape=(3, 6, 6), n_classes=3, name="dict")
    with pytest.raises(ContractError, match="declare output_key='out'"):
        without.predict_proba(seg_data().x)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (lambda x: np.zeros((len(x), 3)), r"one class vector per image is a classifier's output"),
        (lambda x: np.zeros((len(x), 3, 3, 3)), r"upsample them to \(6, 6\)"),
        (lambda x: np.zeros((len(x), 6, 6, 3)), r"channels last\? return scores.permute\(0, 3, 1, 2\)"),
        (lambda x: np.zeros((len(x), 6, 6), int), r"per-pixel class scores, not the predicted masks"),
    ],
)
def test_malformed_segmentation_outputs_are_contract_errors(output, message):
    model = CallableSegmentationModel(output, input_shape=(3, 6, 6), n_classes=3, name="api")
    with pytest.raises(ContractError, match=message):
        model.predict_proba(seg_data().x)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SegmentationData(np.zeros((2, 3, 4, 4)), np.zeros((2, 4))), r"Expected masks y of shape \(2, 4, 4\)"),
        (lambda: SegmentationData(np.zeros((2, 3, 4, 4)), np.zeros((2, 3, 4, 4))), r"one-hot masks\? pass y.argmax\(axis=1\)"),
        (lambda: SegmentationData(np.zeros((2, 4, 4)), np.zeros((2, 4, 4))), r"Expected x of shape \(N, C, H, W\)"),
        (lambda: SegmentationData(np.zeros((1, 3, 2, 2)), np.full((1, 2, 2), 0.5)), r"Expected integer class indices"),
        (lambda: SegmentationData(np.zeros((1, 3, 2, 2)), np.full((1, 2, 2), -1)), r"Expected class indices non-negative \(or ignore_index=255\) in the masks but got -1"),
        (lambda: DetectionData([np.zeros((3, 4, 4))], [{"boxes": np.zeros((1, 4))}]), r"its dict lacks \['labels'\]"),
        (lambda: DetectionData([np.zeros((3, 4, 4))], [{"boxes": [[2, 2, 1, 3]], "labels": [1]}]), r"box 0 is \[2.0, 2.0, 1.0, 3.0\]"),
        (lambda: DetectionData([np.zeros((3, 4, 4))], []), r"one target per image \(1\) but got 0"),
        (lambda: DetectionData([np.zeros((4, 4))], [{"boxes": [], "labels": []}]), r"image 0 of shape \(C, H, W\)"),
        (lambda: TorchSegmentationModel(seg_net(), input_shape=(36,), n_classes=3), r"the shape \(C, H, W\) of one image"),
        (lambda: CallableDetectionModel(len), r"n_classes or class_names"),
    ],
)
def test_invalid_task_data_and_models(make, message):
    with pytest.raises(InvalidArgument, match=message):
        make()


def test_the_ignore_index_leaves_pixels_out_of_the_labels():
    y = np.zeros((1, 4, 4), int)
    y[0, 0] = 255
    y[0, 1] = 2
    data = SegmentationData(np.zeros((1, 3, 4, 4)), y)
    assert data.max_label() == 2 and data.n_classes == 3
    assert SegmentationData(np.zeros((1, 3, 4, 4)), np.full((1, 4, 4), 9), ignore_index=9).max_label() == -1


def test_task_data_from_a_dataset_a_loader_and_arrays():
    data = seg_data()
    pairs = torch.utils.data.TensorDataset(torch.from_numpy(data.x), torch.from_numpy(data.y))
    from_dataset = as_task_data(pairs, "segmentation")
    from_loader = as_task_data(torch.utils.data.DataLoader(pairs, batch_size=3, shuffle=True), "segmentation")
    from_arrays = as_task_data((data.x, data.y), "segmentation")
    for read in (from_dataset, from_loader, from_arrays):
        np.testing.assert_array_equal(read.y, data.y)
        np.testing.assert_array_equal(read.x, data.x)
    images = [np.zeros((3, 5, 7), np.float32), np.zeros((3, 4, 4), np.float32)]
    targets = [{"boxes": torch.tensor([[0.0, 0.0, 2.0, 2.0]]), "labels": torch.tensor([1])}, {"boxes": torch.zeros((0, 4)), "labels": torch.zeros(0, dtype=torch.int64)}]
    loader = torch.utils.data.DataLoader(list(zip(images, targets)), batch_size=2, collate_fn=lambda batch: tuple(zip(*batch)))
    detection = as_task_data(loader, "detection")
    assert detection.n == 2 and detection.targets[0]["boxes"].shape == (1, 4) and detection.targets[1]["boxes"].shape == (0, 4)
    with pytest.raises(InvalidArgument, match=r"Expected a SegmentationData, a pair \(images, targets\)"):
        as_task_data(object(), "segmentation")


def test_the_declaration_checks_the_task_against_the_setting():
    model = TorchSegmentationModel(seg_net(), input_shape=(3, 6, 6), n_classes=3, name="seg")
    with pytest.raises(ContractError, match=r"declares task 'segmentation' but the suite is planned for task 'classification' \(task, from default\): set task = \"segmentation\""):
        check_declaration(model, seg_data())
    with pytest.raises(ContractError, match=r"planned for task 'segmentation' .*: expected a pytest_mlguard.contract TorchSegmentationModel or CallableSegmentationModel but got Conv2d"):
        check_declaration(seg_net(), seg_data(), task="segmentation")
    with pytest.raises(ContractError, match=r"Expected mask labels in 0..1 \(or ignore_index=255\) for model 'seg'"):
        check_declaration(TorchSegmentationModel(seg_net(2), input_shape=(3, 6, 6), n_classes=2, name="seg"), seg_data(), task="segmentation")
    with pytest.raises(ContractError, match=r"images of the model's input shape \(3, 8, 8\) but mlguard_data holds images of shape \(3, 6, 6\)"):
        check_declaration(TorchSegmentationModel(seg_net(), input_shape=(3, 8, 8), n_classes=3), seg_data(), task="segmentation")
    adapted, data = check_declaration(model, (seg_data().x, seg_data().y), task="segmentation")
    assert adapted is model and isinstance(data, SegmentationData)


def test_a_detector_is_declared_and_its_outputs_checked():
    images = [np.random.default_rng(0).random((3, 16, 16), dtype=np.float32) for _ in range(3)]
    targets = [{"boxes": [[1.0, 1.0, 5.0, 5.0]], "labels": [1]} for _ in images]
    good = CallableDetectionModel(
        lambda batch: [{"boxes": np.array([[1.0, 1.0, 5.0, 5.0]]), "labels": np.array([1]), "scores": np.array([0.9])} for _ in batch], n_classes=2, name="det"
    )
    adapted, data = check_declaration(good, (images, targets), task="detection")
    assert adapted.task == "detection" and isinstance(data, DetectionData) and data.n == 3
    no_scores = CallableDetectionModel(lambda batch: [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)} for _ in batch], n_classes=2, name="det")
    with pytest.raises(ContractError, match=r"mlguard_model: detection model 'det' returned a malformed detection: .*lacks \['scores'\]"):
        check_declaration(no_scores, (images, targets), task="detection")
    one_dict = CallableDetectionModel(lambda batch: {"boxes": np.zeros((0, 4))}, n_classes=2, name="det")
    with pytest.raises(ContractError, match=r"returned a dict with keys \['boxes'\] for 2 images: expected a list of 2 dicts"):
        check_declaration(one_dict, (images, targets), task="detection")
    with pytest.raises(ContractError, match=r"box labels in 0..0 for model 'det' but mlguard_data holds label 1"):
        check_declaration(CallableDetectionModel(len, n_classes=1, name="det"), (images, targets), task="detection", probe=False)


def test_a_torch_detector_runs_in_eval_mode_and_is_restored():
    class Boxes(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.drop = nn.Dropout()

        def forward(self, images):
            assert not self.training
            return [{"boxes": torch.zeros((0, 4)), "labels": torch.zeros(0, dtype=torch.int64), "scores": torch.zeros(0)} for _ in images]

    net = Boxes().train()
    model = TorchDetectionModel(net, n_classes=3)
    assert model.predict([np.zeros((3, 4, 4))])[0]["scores"].shape == (0,)
    assert net.training


def bfloat16_boxes(images):
    box = torch.tensor([[0.5, 1.0, 2.25, 3.0]], dtype=torch.bfloat16)
    return [{"boxes": box, "labels": torch.ones(1, dtype=torch.int64), "scores": torch.full((1,), 0.75, dtype=torch.bfloat16)} for _ in images]


@pytest.mark.parametrize("adapter", ["torch", "callable"])
def test_a_detector_with_bfloat16_outputs_gives_its_boxes_and_scores(adapter):
    class Half(nn.Module):
        def forward(self, images):
            return bfloat16_boxes(images)

    model = TorchDetectionModel(Half(), n_classes=3) if adapter == "torch" else CallableDetectionModel(bfloat16_boxes, n_classes=3)
    found = model.predict([np.zeros((3, 4, 4)), np.ones((3, 4, 4))])
    assert [f["boxes"].tolist() for f in found] == [[[0.5, 1.0, 2.25, 3.0]]] * 2
    assert [f["scores"].tolist() for f in found] == [[0.75]] * 2 and found[0]["labels"].tolist() == [1]


def test_families_that_assume_a_class_vector_are_not_planned_for_another_task():
    planned = {f.name: [s.id for s in f.planned(settings("segmentation"))] for f in families()}
    assert planned["accuracy"] == ["accuracy"] and planned["contract"] == ["contract[eval-mode]"]
    assert family("accuracy").planned(settings("segmentation"))[0].metric == "miou"
    assert planned["determinism"] == [] and planned["shift"] == []  # determinism: opt-in for every task
    # the inputs checks apply to a segmenter's pipeline (masks, pixel-level agreement); compression is a classifier's accuracy
    assert "inputs[same-content]" in planned["inputs"] and "inputs[compression]" not in planned["inputs"]
    with pytest.raises(NotApplicable, match=r"shift\[files\] is not applicable to task 'segmentation' \(task, from command line"):
        family("shift").spec("files", settings("segmentation"))
    assert "inputs[compression]" in [s.id for s in family("inputs").planned(settings("classification"))]


def test_an_unknown_task_is_a_configuration_error():
    from pytest_mlguard import ConfigError

    with pytest.raises(ConfigError, match=r"invalid value 'segment' .*for 'task'.*expected one of 'classification', 'segmentation', 'detection'"):
        settings("segment")
