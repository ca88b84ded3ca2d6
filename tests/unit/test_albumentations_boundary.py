"""albumentations behind one module: the corruptions reach it through
``pytest_mlguard/corruptions/_albumentations.py`` only, so that replacing it (its MIT line is no longer
maintained; docs/corruptions.md, "Replacing albumentations") is a change to that module; and the
installed version lies in the range pyproject.toml pins, the one this project tests."""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
import pytest
from packaging.requirements import Requirement

from pytest_mlguard.corruptions import _albumentations as A

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "pytest_mlguard"
BOUNDARY = PACKAGE / "corruptions" / "_albumentations.py"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports: import statements anywhere (lazy ones in functions too), and
    ``importlib.import_module("...")`` / ``__import__("...")`` with a literal name."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__"):
                modules.add(node.args[0].value)
    return modules


def test_only_one_module_imports_albumentations():
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if any(module == "albumentations" or module.startswith("albumentations.") for module in imported_modules(path))
    )
    assert importers == ["pytest_mlguard/corruptions/_albumentations.py"]


def test_the_scan_finds_lazy_and_dynamic_imports(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text("import importlib\n\ndef f():\n    from albumentations.augmentations import functional\n    return importlib.import_module('albumentations')\n")
    assert {"albumentations.augmentations", "albumentations"} <= imported_modules(module)


def test_installed_albumentations_lies_in_the_pinned_range():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pinned = [Requirement(text) for text in dependencies if Requirement(text).name == "albumentations"]
    assert [str(requirement.specifier) for requirement in pinned] == ["<2.1,>=2.0.5"]
    assert pinned[0].specifier.contains(metadata.version("albumentations"))


def _chunked(function, image: np.ndarray) -> np.ndarray:
    """OpenCV's filters take at most 4 channels: the rest in chunks of 4 (as albumentations does)."""
    parts = [function(np.ascontiguousarray(image[..., start : start + 4])) for start in range(0, image.shape[-1], 4)]
    return np.concatenate([part.reshape(*image.shape[:2], -1) for part in parts], axis=-1)


def _glass_blur(image, sigma, max_delta, iterations, dxy):
    blurred = cv2.GaussianBlur(image.copy(), ksize=(0, 0), sigmaX=sigma)
    rows = np.tile(np.arange(image.shape[0] - max_delta, max_delta, -1), image.shape[1] - 2 * max_delta)
    columns = np.repeat(np.arange(image.shape[1] - max_delta, max_delta, -1), image.shape[0] - 2 * max_delta)
    for round_ in range(iterations):
        dy, dx = dxy[:, round_, 0], dxy[:, round_, 1]
        blurred[rows, columns], blurred[rows + dy, columns + dx] = blurred[rows + dy, columns + dx], blurred[rows, columns]
    return cv2.GaussianBlur(blurred, ksize=(0, 0), sigmaX=sigma).reshape(image.shape)


@pytest.mark.parametrize("channels", [1, 3, 5])
def test_each_wrapped_function_is_the_plain_opencv_call(channels):
    """What a replacement of albumentations must compute (docs/corruptions.md's table): each function of
    the boundary module against OpenCV and numpy called directly, on 1, 3 and 5 channels."""
    rng = np.random.default_rng(channels)
    image = rng.random((23, 31, channels), dtype=np.float32)
    kernel = rng.random((5, 5)).astype(np.float32)
    kernel /= kernel.sum()
    expected = np.clip(_chunked(lambda part: cv2.filter2D(part, -1, kernel), image), 0, 1)
    np.testing.assert_allclose(A.convolve(image, kernel), expected, atol=1e-6)

    taps = np.arange(-4, 5, dtype=np.float64)
    gaussian = np.exp(-0.5 * (taps / 1.3) ** 2)
    np.testing.assert_allclose(A.gaussian_kernel_1d(1.3, 9), gaussian / gaussian.sum(), rtol=1e-6)
    line = (gaussian / gaussian.sum()).astype(np.float32)
    expected = np.clip(_chunked(lambda part: cv2.sepFilter2D(part, -1, line, line), image), 0, 1)
    np.testing.assert_allclose(A.separable_convolve(image, line), expected, atol=1e-6)

    inner = (image.shape[0] - 4) * (image.shape[1] - 4)
    dxy = rng.integers(-2, 2, size=(inner, 3, 2))
    np.testing.assert_allclose(A.glass_blur(image, 0.7, 2, 3, dxy), _glass_blur(image, 0.7, 2, 3, dxy), atol=1e-6)

    matrix = np.array([[1.05, 0.02, -1.0], [-0.03, 0.97, 0.5], [0.0, 0.0, 1.0]])
    size = image.shape[:2]
    warp = lambda part: cv2.warpAffine(part, matrix[:2], size[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101, borderValue=0)  # noqa: E731
    np.testing.assert_allclose(A.warp_affine(image, matrix, cv2.INTER_LINEAR, 0, cv2.BORDER_REFLECT_101, size), _chunked(warp, image), atol=1e-6)
    assert A.warp_affine(image, np.eye(3), cv2.INTER_LINEAR, 0, cv2.BORDER_REFLECT_101, size) is image  # the identity: unchanged

    columns, rows = np.meshgrid(np.arange(size[1], dtype=np.float32), np.arange(size[0], dtype=np.float32))
    map_x, map_y = columns + rng.normal(0, 1.5, size).astype(np.float32), rows + rng.normal(0, 1.5, size).astype(np.float32)
    remap = lambda part: cv2.remap(part, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)  # noqa: E731
    np.testing.assert_allclose(A.remap(image, map_x, map_y, cv2.INTER_LINEAR, cv2.BORDER_REFLECT_101), _chunked(remap, image), atol=1e-6)
