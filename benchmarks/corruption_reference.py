"""The reference corruptions the fidelity benchmark compares pytest-mlguard's with.

* At 224 px (and for every corruption but elastic's published parameters): bethgelab's
  ``imagecorruptions`` 1.1.2 from PyPI (``pip install --no-deps imagecorruptions==1.1.2``), the
  maintained ImageNet-C code, loaded with in-process shims for what no longer runs on current
  packages: ``pkg_resources`` (gone from setuptools 80), ``np.float_`` (gone from numpy 2) and
  ``skimage.filters.gaussian(multichannel=...)`` (gone from scikit-image 0.19+).
* At 64 and 32 px: the same functions with the per-severity table ``c`` replaced, in their syntax
  tree, by Tiny-ImageNet-C's and CIFAR-10-C's published tables (hendrycks/robustness,
  ``make_tinyimagenet_c.py`` and ``make_cifar_c.py``, copied verbatim below); where those scripts
  differ in more than the table, the difference is transcribed here: frost crops photographs shrunk
  to 0.3 / 0.2, pixelate upsamples with a box filter, elastic transform is ImageNet-C's original
  (affine then displacement field, ``IMSIZE * (...)``). Motion blur and snow call ImageMagick
  (Wand) in those scripts; here imagecorruptions' numpy motion blur stands in for it.
* ``elastic_imagenet_c``: ``make_imagenet_c.py``'s elastic transform (which pytest-mlguard follows),
  whose parameters imagecorruptions changed.

Every reference function takes and returns a uint8 HWC RGB image and draws from numpy's global
generator, as the originals do.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import sys
import textwrap
import types
from collections.abc import Callable
from typing import Any

import numpy as np

#: the ``c = [...]`` tables of make_tinyimagenet_c.py (64) and make_cifar_c.py (32), verbatim
PUBLISHED: dict[int, dict[str, str]] = {
    32: {
        "gaussian_noise": "[0.04, 0.06, .08, .09, .10]",
        "shot_noise": "[500, 250, 100, 75, 50]",
        "impulse_noise": "[.01, .02, .03, .05, .07]",
        "speckle_noise": "[.06, .1, .12, .16, .2]",
        "gaussian_blur": "[.4, .6, 0.7, .8, 1]",
        "glass_blur": "[(0.05,1,1), (0.25,1,1), (0.4,1,1), (0.25,1,2), (0.4,1,2)]",
        "defocus_blur": "[(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)]",
        "motion_blur": "[(6,1), (6,1.5), (6,2), (8,2), (9,2.5)]",
        "zoom_blur": "[np.arange(1, 1.06, 0.01), np.arange(1, 1.11, 0.01), np.arange(1, 1.16, 0.01), np.arange(1, 1.21, 0.01), np.arange(1, 1.26, 0.01)]",
        "fog": "[(.2,3), (.5,3), (0.75,2.5), (1,2), (1.5,1.75)]",
        "frost": "[(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)]",
        "snow": "[(0.1,0.2,1,0.6,8,3,0.95), (0.1,0.2,1,0.5,10,4,0.9), (0.15,0.3,1.75,0.55,10,4,0.9), (0.25,0.3,2.25,0.6,12,6,0.85), (0.3,0.3,1.25,0.65,14,12,0.8)]",
        "spatter": "[(0.62,0.1,0.7,0.7,0.5,0), (0.65,0.1,0.8,0.7,0.5,0), (0.65,0.3,1,0.69,0.5,0), (0.65,0.1,0.7,0.69,0.6,1), (0.65,0.1,0.5,0.68,0.6,1)]",
        "contrast": "[.75, .5, .4, .3, 0.15]",
        "brightness": "[.05, .1, .15, .2, .3]",
        "saturate": "[(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)]",
        "jpeg_compression": "[80, 65, 58, 50, 40]",
        "pixelate": "[0.95, 0.9, 0.85, 0.75, 0.65]",
        "elastic_transform": "[(IMSIZE*0, IMSIZE*0, IMSIZE*0.08), (IMSIZE*0.05, IMSIZE*0.2, IMSIZE*0.07), (IMSIZE*0.08, IMSIZE*0.06, IMSIZE*0.06), (IMSIZE*0.1, IMSIZE*0.04, IMSIZE*0.05), (IMSIZE*0.1, IMSIZE*0.03, IMSIZE*0.03)]",
    },
    64: {
        "gaussian_noise": "[0.04, 0.08, .12, .15, .18]",
        "shot_noise": "[250, 100, 50, 30, 15]",
        "impulse_noise": "[.01, .02, .05, .08, .14]",
        "speckle_noise": "[.15, .2, 0.25, 0.3, 0.35]",
        "gaussian_blur": "[.5, .75, 1, 1.25, 1.5]",
        "glass_blur": "[(0.1,1,1), (0.5,1,1), (0.6,1,2), (0.7,2,1), (0.9,2,2)]",
        "defocus_blur": "[(0.5, 0.6), (1, 0.1), (1.5, 0.1), (2.5, 0.01), (3, 0.1)]",
        "motion_blur": "[(10,1), (10,1.5), (10,2), (10,2.5), (12,3)]",
        "zoom_blur": "[np.arange(1, 1.06, 0.01), np.arange(1, 1.11, 0.01), np.arange(1, 1.16, 0.01), np.arange(1, 1.21, 0.01), np.arange(1, 1.26, 0.01)]",
        "fog": "[(.4,3), (.7,3), (1,2.5), (1.5,2), (2,1.75)]",
        "frost": "[(1, 0.3), (0.9, 0.4), (0.8, 0.45), (0.75, 0.5), (0.7, 0.55)]",
        "snow": "[(0.1,0.2,1,0.6,8,3,0.8), (0.1,0.2,1,0.5,10,4,0.8), (0.15,0.3,1.75,0.55,10,4,0.7), (0.25,0.3,2.25,0.6,12,6,0.65), (0.3,0.3,1.25,0.65,14,12,0.6)]",
        "spatter": "[(0.62,0.1,0.7,0.7,0.6,0), (0.65,0.1,0.8,0.7,0.6,0), (0.65,0.3,1,0.69,0.6,0), (0.65,0.1,0.7,0.68,0.6,1), (0.65,0.1,0.5,0.67,0.6,1)]",
        "contrast": "[.4, .3, .2, .1, 0.05]",
        "brightness": "[.1, .2, .3, .4, .5]",
        "saturate": "[(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (30, 0.2)]",
        "jpeg_compression": "[65, 58, 50, 40, 25]",
        "pixelate": "[0.9, 0.8, 0.7, 0.6, 0.5]",
        "elastic_transform": "[(IMSIZE*0, IMSIZE*0, IMSIZE*0.08), (IMSIZE*0.05, IMSIZE*0.3, IMSIZE*0.06), (IMSIZE*0.1, IMSIZE*0.08, IMSIZE*0.06), (IMSIZE*0.1, IMSIZE*0.03, IMSIZE*0.03), (IMSIZE*0.16, IMSIZE*0.03, IMSIZE*0.02)]",
    },
    224: {  # make_imagenet_c.py's elastic transform only (imagecorruptions changed it)
        "elastic_transform": "[(244 * 2, 244 * 0.7, 244 * 0.1), (244 * 2, 244 * 0.08, 244 * 0.2), (244 * 0.05, 244 * 0.01, 244 * 0.02), (244 * 0.07, 244 * 0.01, 244 * 0.02), (244 * 0.12, 244 * 0.01, 244 * 0.02)]",
    },
}
#: make_cifar_c.py and make_tinyimagenet_c.py shrink the frost photographs before cropping
FROST_SHRINK = {32: 0.2, 64: 0.3}


def load() -> types.ModuleType | None:
    """``imagecorruptions.corruptions`` with the shims, or None where it is not installed."""
    if importlib.util.find_spec("imagecorruptions") is None:
        return None
    if not hasattr(np, "float_"):
        np.float_ = np.float64  # type: ignore[attr-defined]  # numpy 2 removed the alias the package uses
    if importlib.util.find_spec("pkg_resources") is None:
        shim = types.ModuleType("pkg_resources")

        def resource_filename(package: str, path: str) -> str:
            origin = importlib.util.find_spec(package).origin  # type: ignore[union-attr]
            return os.path.join(os.path.dirname(str(origin)), path)

        shim.resource_filename = resource_filename  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    import skimage.filters

    original = skimage.filters.gaussian
    if "multichannel" not in inspect.signature(original).parameters:

        def gaussian(image: Any, sigma: Any = 1, *args: Any, multichannel: bool | None = None, **kwargs: Any) -> Any:
            if multichannel:
                kwargs.setdefault("channel_axis", -1)
            return original(image, sigma, *args, **kwargs)

        skimage.filters.gaussian = gaussian
    import imagecorruptions.corruptions as corruptions

    return corruptions


def _with_table(module: types.ModuleType, name: str, table: str, side: int) -> Callable[..., Any]:
    """imagecorruptions' ``name`` with its ``c = [...]`` table replaced by ``table``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(module, name))))
    replacement = ast.parse(table, mode="eval").body
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "c":
            if isinstance(node.value, ast.Subscript):
                node.value.value = replacement
            else:
                node.value = replacement
            break
    namespace = dict(vars(module), IMSIZE=side)
    exec(compile(ast.fix_missing_locations(tree), f"<{name} at {side} px>", "exec"), namespace)  # the published code
    return namespace[name]


def _frost(module: types.ModuleType, side: int) -> Callable[..., Any]:
    import cv2

    table = eval(PUBLISHED[side]["frost"])  # the literal table above

    def frost(x: Any, severity: int = 1) -> np.ndarray:
        c = table[severity - 1]
        idx = np.random.randint(5)
        frost = cv2.imread(module.resource_filename(module.__name__, f"./frost/frost{idx + 1}.{'png' if idx < 3 else 'jpg'}"))
        frost = cv2.resize(frost, (0, 0), fx=FROST_SHRINK[side], fy=FROST_SHRINK[side])
        x_start, y_start = np.random.randint(0, frost.shape[0] - side), np.random.randint(0, frost.shape[1] - side)
        frost = frost[x_start : x_start + side, y_start : y_start + side][..., [2, 1, 0]]
        return np.clip(c[0] * np.array(x) + c[1] * frost, 0, 255)

    return frost


def _pixelate(side: int) -> Callable[..., Any]:
    from PIL import Image

    table = eval(PUBLISHED[side]["pixelate"])  # the literal table above

    def pixelate(x: Any, severity: int = 1) -> Any:
        c = table[severity - 1]
        x = x.resize((int(side * c), int(side * c)), Image.BOX)
        return x.resize((side, side), Image.BOX)

    return pixelate


def _elastic(side: int) -> Callable[..., Any]:
    """ImageNet-C's (and CIFAR-10-C's, Tiny-ImageNet-C's) elastic transform."""
    import cv2
    from scipy.ndimage import map_coordinates
    from skimage.filters import gaussian

    table = eval(PUBLISHED[side]["elastic_transform"], {"IMSIZE": side})  # the literal table above

    def elastic_transform(image: Any, severity: int = 1) -> np.ndarray:
        c = table[severity - 1]
        image = np.array(image, dtype=np.float32) / 255.0
        shape = image.shape
        shape_size = shape[:2]
        center_square = np.float32(shape_size) // 2
        square_size = min(shape_size) // 3
        pts1 = np.float32(
            [center_square + square_size, [center_square[0] + square_size, center_square[1] - square_size], center_square - square_size]
        )
        pts2 = pts1 + np.random.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
        image = cv2.warpAffine(image, cv2.getAffineTransform(pts1, pts2), shape_size[::-1], borderMode=cv2.BORDER_REFLECT_101)
        dx = (gaussian(np.random.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3) * c[0]).astype(np.float32)
        dy = (gaussian(np.random.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3) * c[0]).astype(np.float32)
        x, y, z = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
        indices = np.reshape(y + dy[..., None], (-1, 1)), np.reshape(x + dx[..., None], (-1, 1)), np.reshape(z, (-1, 1))
        return np.clip(map_coordinates(image, indices, order=1, mode="reflect").reshape(shape), 0, 1) * 255

    return elastic_transform


def reference(module: types.ModuleType, name: str, side: int) -> Callable[[np.ndarray, int], np.ndarray]:
    """The reference of ``name`` for ``side`` x ``side`` images: ``fn(uint8 image, severity)``."""
    from PIL import Image

    if side == 224 and name != "elastic_transform":
        fn = getattr(module, name)
    elif name == "elastic_transform":
        fn = _elastic(side)
    elif name == "frost":
        fn = _frost(module, side)
    elif name == "pixelate":
        fn = _pixelate(side)
    else:
        fn = _with_table(module, name, PUBLISHED[side][name], side)

    def run(image: np.ndarray, severity: int) -> np.ndarray:
        return np.uint8(fn(Image.fromarray(image), severity))  # as imagecorruptions.corrupt: truncated

    return run


def imagecorruptions_elastic(module: types.ModuleType) -> Callable[[np.ndarray, int], np.ndarray]:
    """imagecorruptions' own elastic transform, for the record at 224 px."""
    from PIL import Image

    return lambda image, severity: np.uint8(module.elastic_transform(Image.fromarray(image), severity))
