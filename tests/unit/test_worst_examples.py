"""The worst images a failing detection or segmentation check saves (checks/_worst.py, detection/_worst.py,
_segmentation/worst.py) and their thumbnails (reporting/_task_thumbnails.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_mlguard.checks._worst import below_floor, save_worst, worst_order
from pytest_mlguard.reporting._examples import thumbnail


@pytest.mark.parametrize(
    ("scores", "clean", "expected"),
    [
        ([0.5, 0.1, 0.9], [1.0, 1.0, 1.0], [1, 0, 2]),  # lowest first
        ([0.0, 0.0, 0.0, 0.4], [0.2, 0.9, 0.5, 0.9], [1, 2, 0]),  # equal scores: what scored higher clean first
        ([np.nan, 0.7, np.nan], [1.0, 0.1, 1.0], [1, 0, 2]),  # no score (no target box): last
        ([0.3], [0.3], [0]),
        ([], [], []),
    ],
)
def test_worst_order(scores, clean, expected):
    assert worst_order(np.array(scores), np.array(clean)).tolist() == expected


def test_below_floor_only_for_a_floor_that_the_value_falls_under():
    from pytest_mlguard.checks._spec import Measurement
    from pytest_mlguard.config.parse import Threshold

    def spec(value, kind="floor"):
        return SimpleNamespace(kind=kind, threshold=Threshold.parse(value, "corruption.floor", "test"))

    assert below_floor(spec("0.6*clean"), Measurement(value=0.2, n=10, clean=0.8))
    assert not below_floor(spec("0.6*clean"), Measurement(value=0.5, n=10, clean=0.8))
    assert not below_floor(spec("0.6*clean"), Measurement(value=0.2, n=10))  # no clean value to compare with
    assert not below_floor(spec(0.5), Measurement(value=float("nan"), n=10))
    assert not below_floor(spec(0.5, "ceiling"), Measurement(value=0.2, n=10))


def test_saving_is_whole_or_not_at_all(tmp_path):
    evaluation = SimpleNamespace(artifact_dir=lambda spec: tmp_path, model=SimpleNamespace(class_names=("a", "b")))
    (tmp_path / "worst.npz").write_bytes(b"an earlier run's")
    with pytest.raises(ValueError, match="allow_pickle"):  # an array numpy can only pickle: nothing is written
        save_worst(evaluation, None, {"index": np.array([1]), "x": np.array([object()])}, "mAP")
    assert [p.name for p in tmp_path.iterdir()] == ["worst.npz"] and (tmp_path / "worst.npz").read_bytes() == b"an earlier run's"
    line, example = save_worst(evaluation, None, {"index": np.array([4, 2]), "x": np.zeros((2, 3, 8, 8))}, "mIoU")
    assert line == f"\nthe 2 worst images (lowest mIoU of each image) saved in {tmp_path / 'worst.npz'}"
    assert example == {"file": str(tmp_path / "worst.npz"), "caption": "the 2 images with the lowest mIoU of the image alone against its target: images [4, 2]"}
    with np.load(tmp_path / "worst.npz") as saved:
        assert saved["class_names"].tolist() == ["a", "b"] and saved["index"].tolist() == [4, 2]


def test_each_image_map_is_the_map_of_that_image_alone():
    pytest.importorskip("pycocotools", reason="the detection metrics' COCO backend: pip install -e '.[test]'")
    import zoo_detection as zoo

    from pytest_mlguard.detection._corrupt import corrupt_images
    from pytest_mlguard.detection._metrics import mean_average_precision
    from pytest_mlguard.detection._worst import image_maps

    data = zoo.scenes(10)
    predictions = list(zoo.jpeg_shifted_detector().predict(corrupt_images(data.images, "jpeg_compression", 3, seed=0)))
    found = image_maps(predictions, data.targets, chunk=3)
    expected = [mean_average_precision([p], [t])["map"] for p, t in zip(predictions, data.targets)]  # torchmetrics, one image at a time
    assert found.tolist() == pytest.approx(expected, abs=1e-6) and len(set(expected)) > 1
    assert corrupt_images(data.images[3:5], "jpeg_compression", 3, seed=0, ids=[3, 4])[1].tolist() == corrupt_images(data.images, "jpeg_compression", 3, seed=0)[4].tolist()


def test_each_image_miou_is_the_miou_of_that_image_alone():
    from pytest_mlguard._segmentation.metrics import confusion_matrices, mean_iou
    from pytest_mlguard._segmentation.worst import image_mious

    rng = np.random.default_rng(0)
    target, pred = rng.integers(0, 4, (6, 8, 8)), rng.integers(0, 4, (6, 8, 8))
    pred[0] = target[0]
    target[1, :4] = 255  # ignored pixels
    found = image_mious(confusion_matrices(pred, target, 4, 255), chunk=4)
    assert found.tolist() == pytest.approx([mean_iou(p[None], t[None], 4, 255) for p, t in zip(pred, target)]) and found[0] == 1.0


def test_a_detection_thumbnail_draws_the_target_and_predicted_boxes_where_they_are(tmp_path):
    from pytest_mlguard.reporting._task_thumbnails import PREDICTED, SIDE, TARGET

    box = np.array([[4.0, 4.0, 20.0, 20.0]], np.float32)
    np.savez(
        tmp_path / "worst.npz", x=np.full((1, 3, 48, 48), 0.5, np.float32), sizes=np.array([[48, 48]]), index=[7], score=[0.0], clean_score=[0.9],
        target_boxes=box, target_labels=[1], target_counts=[1],
        pred_boxes=np.concatenate([box + 20, box]), pred_labels=[2, 1], pred_scores=np.array([0.8, 0.3], np.float32), pred_counts=[2],
    )  # fmt: skip
    (shown,) = thumbnail(tmp_path / "worst.npz", limit=3, class_names=["background", "disc", "square"])
    assert shown["label"] == "image 7: mAP 0.000 (clean 0.900); 1 target box (blue), 1 detection from a score of 0.5 (orange)"
    import base64
    import io

    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(shown["png"]))).convert("RGB"))
    factor = SIDE // 48
    colour = {name: tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for name, c in (("target", TARGET), ("predicted", PREDICTED))}
    assert tuple(pixels[12 * factor, 20 * factor]) == colour["target"]  # the target box's right edge
    assert tuple(pixels[32 * factor, 40 * factor]) == colour["predicted"]  # the detection at a score of 0.8
    assert tuple(pixels[12 * factor, 4 * factor]) == colour["target"]  # the one at 0.3, on the target box, is not drawn over it


def test_an_attack_run_batch_by_batch_keeps_the_worst_images_of_all_its_batches(tmp_path):
    """FGSM is deterministic: in batches of 8 or in one batch of 24, the same images are the worst, and
    the adversarial inputs saved for them are the same."""
    from zoo import noise_collapsing_segmenter, segmentation_data

    from pytest_mlguard.checks.api import check_model

    saved = []
    for size in (8, 24):
        settings = {"task": "segmentation", "attack.floor": 0.99, "attack.samples": 24, "attack.batch_size": size, "output": str(tmp_path / str(size))}
        (result,) = check_model(noise_collapsing_segmenter(), segmentation_data(), ["attack[fgsm-linf-1/255]"], settings=settings)
        assert not result.passed and result.details["examples"][0]["file"] == str(tmp_path / str(size) / "artifacts" / "collapses-under-noise-attack_fgsm-linf-1_255_" / "worst.npz")
        with np.load(result.details["examples"][0]["file"]) as found:
            saved.append({key: found[key] for key in found.files})
    (batches, whole) = saved
    assert batches["index"].tolist() == whole["index"].tolist() and len(whole["index"]) == 3
    assert all(np.array_equal(batches[key], whole[key]) for key in ("x", "score", "pred_mask", "target_mask"))
    assert whole["score"].tolist() == sorted(whole["score"].tolist())
