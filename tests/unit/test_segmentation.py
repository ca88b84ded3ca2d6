"""Segmentation: mIoU and per-class IoU are torchmetrics' (checked against scikit-learn's Jaccard score),
pixel-level ECE against the project's own binned ECE, the PGD loop against a separately written PGD on
the example's segmenter (within 0.5 points of robust mIoU), and the checks of a segmentation model:
the example passes them and the zoo's segmenter that collapses under noise fails exactly its corruption checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as tf
from sklearn.metrics import jaccard_score

from pytest_mlguard import check_model
from pytest_mlguard._segmentation.attack import pgd
from pytest_mlguard._segmentation.metrics import (
    confusion_matrices,
    iou_from_confusion,
    mean_iou,
    miou_of_images,
    per_class_iou,
    pixel_bins,
    pixel_ece,
    pixel_ece_of_images,
)
from pytest_mlguard.calibration.metrics import expected_calibration_error
from zoo import noise_collapsing_segmenter, segmentation_example

SETTINGS = {
    "task": "segmentation",
    "corruption.corruptions": ["gaussian_noise", "defocus_blur"],
    "corruption.severities": [3],
    "attack.checks": ["pgd-linf-1/255"],
    "attack.samples": 40,
    "samples": 80,
    "verdict.bootstrap": 200,
}


def masks(seed: int = 0, void: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 4, (6, 12, 12))
    pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, 4, target.shape))
    pred[pred == 3] = 2  # class 3 is never predicted
    if void:
        target[:, 0] = 255
    return pred, target


def test_miou_and_per_class_iou_match_scikit_learns_jaccard_over_the_counted_pixels():
    pred, target = masks()
    counted = target != 255
    expected = jaccard_score(target[counted], pred[counted], average=None, labels=[0, 1, 2, 3])
    matrices = confusion_matrices(pred, target, 4)
    per_class = per_class_iou(matrices.sum(axis=0), ("a", "b", "c", "d"))
    np.testing.assert_allclose([per_class[k] for k in "abcd"], expected, atol=1e-6)
    assert mean_iou(pred, target, 4) == pytest.approx(expected.mean(), abs=1e-6)
    assert float(iou_from_confusion(matrices.sum(axis=0))) == pytest.approx(mean_iou(pred, target, 4), abs=1e-6)
    statistic = miou_of_images(matrices)  # a bootstrap's resamples at once: each is torchmetrics' mIoU of its images
    resamples = np.array([np.arange(6), [0, 0, 1, 2, 2, 5], [3, 3, 3, 3, 3, 3]])
    expected = [mean_iou(pred[row], target[row], 4) for row in resamples]
    np.testing.assert_allclose(statistic(resamples), expected, atol=1e-6)


def test_a_class_in_neither_masks_nor_predictions_counts_in_no_mean():
    pred, target = masks(void=False)
    pred[pred == 1], target[target == 1] = 0, 0
    per_class = per_class_iou(confusion_matrices(pred, target, 4).sum(axis=0), ("a", "b", "c", "d"))
    assert per_class["b"] is None
    assert mean_iou(pred, target, 4) == pytest.approx(np.mean([per_class[k] for k in "acd"]), abs=1e-6)


def test_pixel_ece_is_the_binned_ece_of_the_counted_pixels():
    rng = np.random.default_rng(1)
    _, target = masks()
    proba = rng.dirichlet(np.ones(4) * 0.5, target.shape).transpose(0, 3, 1, 2).astype(np.float32)
    counted = (target != 255).reshape(-1)
    flat = proba.transpose(0, 2, 3, 1).reshape(-1, 4)[counted]
    assert pixel_ece(proba, target) == pytest.approx(expected_calibration_error(flat, target.reshape(-1)[counted], 15), abs=1e-5)
    binned = pixel_bins(proba, target)  # the bootstrap's per-image sums give torchmetrics' value on any set of images
    assert pixel_ece_of_images(binned)(np.arange(6)) == pytest.approx(pixel_ece(proba, target), abs=1e-5)
    assert pixel_ece_of_images(binned)(np.array([1, 1, 4])) == pytest.approx(pixel_ece(proba[[1, 1, 4]], target[[1, 1, 4]]), abs=1e-5)


def reference_pgd(net, x, y, *, eps, steps, alpha, norm, void=255):
    """PGD written apart from pytest_mlguard._segmentation.attack: mean log-likelihood loss, backward()."""
    clean, labels = torch.tensor(x), torch.tensor(y)
    adv = clean.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        tf.nll_loss(tf.log_softmax(net(adv), dim=1), labels, ignore_index=void).backward()
        with torch.no_grad():
            grad = adv.grad
            if norm == "linf":
                adv = adv + alpha * grad.sign()
                adv = torch.min(torch.max(adv, clean - eps), clean + eps)
            else:
                adv = adv + alpha * grad / grad.reshape(len(grad), -1).norm(dim=1).reshape(-1, 1, 1, 1)
                adv = clean + torch.renorm(adv - clean, p=2, dim=0, maxnorm=eps)
            adv = adv.clamp(0, 1)
    return adv.detach()


@pytest.mark.parametrize(("norm", "eps"), [("linf", 1 / 255), ("l2", 0.25)])
def test_pgd_matches_a_separately_written_pgd_within_half_a_point_of_robust_miou(norm, eps):
    model, data = segmentation_example()
    x, y = data.x[:40], data.y[:40]
    net = model.raw_module().eval()
    ours = pgd(net, x, y, eps=eps, norm=norm, steps=10, step_size=0.25)
    theirs = reference_pgd(net, x, y, eps=eps, steps=10, alpha=0.25 * eps, norm=norm).numpy()
    with torch.no_grad():
        clean = mean_iou(net(torch.tensor(x)).argmax(1).numpy(), y, 4)
        robust_ours = mean_iou(net(torch.tensor(ours)).argmax(1).numpy(), y, 4)
        robust_theirs = mean_iou(net(torch.tensor(theirs)).argmax(1).numpy(), y, 4)
    assert robust_ours < clean - 0.02  # the attack does something
    assert abs(robust_ours - robust_theirs) <= 0.005, (robust_ours, robust_theirs)
    bound = np.abs(ours - x).max() if norm == "linf" else np.linalg.norm((ours - x).reshape(len(x), -1), axis=1).max()
    assert bound <= eps + 1e-6 and ours.min() >= 0 and ours.max() <= 1


def results(model, data):
    return {r.id: r for r in check_model(model, data, settings=SETTINGS)}


def test_the_example_passes_the_checks_planned_for_a_segmentation_model():
    found = results(*segmentation_example())
    assert set(found) == {"contract[eval-mode]", "accuracy", "corruption[gaussian_noise-3]", "corruption[defocus_blur-3]", "attack[pgd-linf-1/255]", "calibration[ece]"}
    assert all(r.passed for r in found.values()), [r.verdict() for r in found.values() if not r.passed]
    accuracy = found["accuracy"]
    assert accuracy.metric == "miou" and accuracy.value > 0.6 and accuracy.interval[0] < accuracy.value < accuracy.interval[1]
    assert set(accuracy.details["per_class_iou"]) == {"background", "disc", "square", "triangle"}
    noise = found["corruption[gaussian_noise-3]"]
    assert noise.details["clean_miou"] == pytest.approx(accuracy.value) and 0 < noise.details["relative_robustness"] <= 1.05


def test_a_segmenter_that_collapses_under_noise_fails_exactly_its_noise_check():
    found = results(noise_collapsing_segmenter(), segmentation_example()[1])
    failed = {check for check, r in found.items() if not r.passed}
    assert failed == {"corruption[gaussian_noise-3]"}, [found[c].verdict() for c in failed]
    assert found["corruption[gaussian_noise-3]"].value < 0.3
