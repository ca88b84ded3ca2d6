"""Semantic segmentation: the functional core of the checks of a segmentation model (``task =
"segmentation"``), which the accuracy, corruption, attack and calibration families run for it.

* :mod:`.metrics`: mIoU and per-class IoU through torchmetrics, per image for bootstrap intervals over
  images, and pixel-level ECE (torchmetrics' calibration error over the pixels);
* :mod:`.attack`: PGD (L-inf, L2) on the per-pixel cross-entropy, the loop ART lacks for segmentation;
* :mod:`.checks`: the measurements of the families' checks.

Imports nothing heavy: each module imports torch and torchmetrics itself.
"""
