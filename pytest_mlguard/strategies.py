"""Hypothesis strategies for the inputs production sends a model: compose them with ``@given``.

Every factory validates its arguments on first use and raises
:class:`~pytest_mlguard.errors.InvalidArgument` naming the bad one; every argument takes a value or
a strategy of values (as ``hypothesis.extra.numpy.arrays`` does); a choice argument takes one
value or a sequence of them (tried in order: Hypothesis shrinks toward the first). Examples shrink
toward the simplest input: the smallest image, the first format, mode and corruption, the mildest
compression, the first mutation.

* arrays and tensors: :func:`resolutions`, :func:`image_arrays`, :func:`image_tensors`;
* image files as bytes: :func:`image_files` (valid, in odd formats and modes),
  :func:`image_structures` (valid, in the rarer structures decoder bugs come from) and
  :func:`corrupt_image_files`;
* compression artifacts: :func:`compressed_images`;
* records: :func:`records` (valid) and :func:`malformed_records`.

Example:
    >>> from hypothesis import given
    >>> from pytest_mlguard import strategies as mst
    >>> @given(mst.corrupt_image_files())
    ... def test_upload_never_crashes(data):
    ...     try:
    ...         service.predict(data)
    ...     except InvalidImage:
    ...         pass
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis.strategies import SearchStrategy

from .corruptions._strategies import CorruptionCase, corruptions
from .inputs import _generate as _g
from .inputs.compression import COMPRESSION_FORMATS, SUBSAMPLING
from .inputs.files import FORMATS, MODES
from .inputs.records import MUTATIONS

__all__ = [
    "CorruptionCase",
    "compressed_images",
    "corrupt_image_files",
    "corruptions",
    "image_arrays",
    "image_files",
    "image_structures",
    "image_tensors",
    "malformed_records",
    "records",
    "resolutions",
]


def resolutions(
    min_side: int | SearchStrategy[int] = 1,
    max_side: int | SearchStrategy[int] = 512,
    max_pixels: int | SearchStrategy[int] = 1_000_000,
    stride: int | SearchStrategy[int] | None = 32,
) -> SearchStrategy[tuple[int, int]]:
    """``(height, width)`` pairs: any size up to ``max_side`` and ``max_pixels``, and the odd ones: 1x1,
    1xN and Nx1, extreme aspect ratios, sizes that are not multiples of ``stride`` (a network's total
    stride, ``None``: none), the largest square under ``max_pixels``. Shrinks toward the smallest.

    Example:
        >>> from hypothesis import given
        >>> from pytest_mlguard import strategies as mst
        >>> @given(mst.resolutions(max_side=1024, stride=32))
        ... def test_any_size(size): ...
    """
    return _g.resolutions(min_side, max_side, max_pixels, stride)


def image_arrays(
    *,
    resolution: tuple[int, int] | SearchStrategy[tuple[int, int]] | None = None,
    channels: int | Sequence[int] | SearchStrategy[int] = (1, 3, 4),
    layout: str | Sequence[str] | SearchStrategy[str] = _g.LAYOUTS,
    batch: bool | SearchStrategy[bool] | None = None,
    dtype: str | Sequence[str] | SearchStrategy[str] = _g.DTYPES,
    value_range: str | Sequence[str] | tuple[float, float] | SearchStrategy[Any] = _g.VALUE_RANGES,
    non_finite: bool | SearchStrategy[bool] | None = None,
) -> SearchStrategy[Any]:
    """Image arrays as a model's preprocessing may receive them.

    Args:
        resolution: ``(height, width)`` or a strategy of them (default :func:`resolutions` up to 256).
        channels: 1 (gray), 3 (RGB), 4 (RGBA).
        layout: ``"HWC"``, ``"CHW"`` or ``"HW"`` (no channel axis).
        batch: a leading batch axis of 1 (``None``: either).
        dtype: ``"uint8"``, ``"uint16"``, ``"float32"``, ``"float16"``, ``"float64"``.
        value_range: ``"byte"`` (0-255), ``"unit"`` (0-1), ``"signed"`` (-1..1), ``"full"`` (the
            dtype's range), or a ``(low, high)`` pair.
        non_finite: NaN and inf in some pixels of float arrays (``None``: sometimes).

    Example:
        >>> from hypothesis import given
        >>> from pytest_mlguard import strategies as mst
        >>> @given(mst.image_arrays(dtype="float32", value_range="unit", layout="CHW", channels=3))
        ... def test_preprocess(x): ...
    """
    return _g.array_cases(
        resolution=resolution,
        channels=channels,
        layout=layout,
        batch=batch,
        dtype=dtype,
        value_range=value_range,
        non_finite=non_finite,
    ).map(lambda case: case.raw)


def _to_tensor(array: Any) -> Any:
    import torch

    return torch.from_numpy(array.copy())


def image_tensors(**kwargs: Any) -> SearchStrategy[Any]:
    """:func:`image_arrays` as ``torch.Tensor`` s (same arguments)."""
    return image_arrays(**kwargs).map(_to_tensor)


def image_files(
    *,
    formats: str | Sequence[str] | SearchStrategy[str] = FORMATS,
    modes: str | Sequence[str] | SearchStrategy[str] = MODES,
    resolution: tuple[int, int] | SearchStrategy[tuple[int, int]] | None = None,
    interlaced: bool | SearchStrategy[bool] | None = None,
    exif: bool | SearchStrategy[bool] | None = None,
    max_frames: int | SearchStrategy[int] = 3,
) -> SearchStrategy[bytes]:
    """Valid image files (bytes) in odd formats and modes.

    Args:
        formats: ``"PNG"``, ``"JPEG"``, ``"BMP"``, ``"GIF"``, ``"WEBP"``, ``"TIFF"``.
        modes: Pillow modes: ``"L"``, ``"RGB"``, ``"RGBA"``, ``"LA"``, ``"P"`` (with a transparent
            entry sometimes), ``"1"``, ``"CMYK"``, ``"I;16"`` (16-bit), ``"I"`` (32-bit), ``"F"``
            (float, with odd value ranges). Each file gets a mode its format stores.
        resolution: ``(height, width)`` or a strategy (default: :func:`resolutions` up to 64).
        interlaced: Adam7 PNG, interlaced GIF, progressive JPEG (``None``: sometimes).
        exif: an EXIF orientation tag 1..8 (``None``: sometimes).
        max_frames: frames of GIF, PNG and WebP animations and TIFF pages.

    Example:
        >>> from hypothesis import given
        >>> from pytest_mlguard import strategies as mst
        >>> @given(mst.image_files(formats=["JPEG", "TIFF"], modes="CMYK"))
        ... def test_cmyk_uploads(data): ...
    """
    return _g.file_cases(
        formats=formats, modes=modes, resolution=resolution, interlaced=interlaced, exif=exif, max_frames=max_frames
    ).map(lambda case: case.raw)


def image_structures(
    *,
    structures: str | Sequence[str] | SearchStrategy[str] = _g.STRUCTURES,
    resolution: tuple[int, int] | SearchStrategy[tuple[int, int]] | None = None,
) -> SearchStrategy[bytes]:
    """Valid image files (bytes) in the structures most decoder bugs come from.

    Args:
        structures: ``"tiff-lzw"``, ``"tiff-deflate"``, ``"tiff-jpeg"`` (JPEG-in-TIFF),
            ``"tiff-g4"`` (CCITT group 4), ``"bigtiff"``, ``"tiff-tiled"``, ``"bmp-rle8"``,
            ``"bmp-rle4"``, ``"bmp-bitfields-16"``, ``"bmp-bitfields-32"``, ``"ico"``, ``"mpo"``,
            ``"tiff-lab"``, ``"sgi"``, ``"jpeg2000"``, ``"pcx"``.
        resolution: ``(height, width)`` or a strategy (default: :func:`resolutions` up to 64).

    Example:
        >>> from hypothesis import given
        >>> from pytest_mlguard import strategies as mst
        >>> @given(mst.image_structures(structures=["tiff-lzw", "bigtiff", "tiff-tiled"]))
        ... def test_tiffs_predict(data): ...
    """
    return _g.structure_cases(structures=structures, resolution=resolution).map(lambda case: case.raw)


def corrupt_image_files(
    *,
    files: SearchStrategy[bytes] | None = None,
    corruptions: str | Sequence[str] | SearchStrategy[str] = _g.CORRUPTIONS,
    max_declared_side: int | SearchStrategy[int] = 65_535,
) -> SearchStrategy[bytes]:
    """Corrupted image files (bytes): a valid file with one corruption.

    Args:
        files: the valid files to corrupt (default :func:`image_files`, one frame, or
            :func:`image_structures`).
        corruptions: ``"truncate"`` (at any offset, down to an empty file), ``"bit-flip"``,
            ``"header"`` (bytes of the header overwritten), ``"chunk-length"`` (a PNG chunk length,
            JPEG segment length, RIFF size or header field), ``"wrong-magic"``, ``"garbage"`` (random
            bytes, sometimes after a valid magic), ``"bomb"`` (a PNG, GIF, BMP or JPEG header
            declaring up to ``max_declared_side`` pixels a side over a few bytes),
            ``"wrong-extension"`` (the file unchanged: for pipelines of paths), ``"insert"`` and
            ``"delete"`` (up to 64 bytes put in or cut out anywhere), PNG corruptions that keep
            valid CRCs: ``"png-colour-type"``, ``"png-bit-depth"``, ``"png-no-idat"``,
            ``"png-after-iend"``, ``"apng-sequence"`` (frame sequence numbers out of order),
            ``"text-bomb"`` (a zTXt chunk inflating to 32 MiB), and ``"container-bomb"`` (a TIFF,
            WebP VP8X, ICO or GIF frame declaring up to ``max_declared_side`` pixels a side).
        max_declared_side: the largest side a decompression bomb declares (at least 10000).

    Example:
        >>> from hypothesis import given
        >>> from pytest_mlguard import strategies as mst
        >>> @given(mst.corrupt_image_files(corruptions=["truncate", "bomb"]))
        ... def test_rejects_cleanly(data): ...
    """
    return _g.corrupt_file_cases(files=files, corruptions=corruptions, max_declared_side=max_declared_side).map(
        lambda case: case.raw
    )


def compressed_images(
    *,
    images: SearchStrategy[Any] | None = None,
    formats: str | Sequence[str] | SearchStrategy[str] = COMPRESSION_FORMATS,
    min_quality: int | SearchStrategy[int] = 1,
    subsampling: str | Sequence[str] | SearchStrategy[str] = tuple(SUBSAMPLING),
    max_generations: int | SearchStrategy[int] = 10,
    scales: float | Sequence[float] | SearchStrategy[float] = (1.0, 0.75, 0.5, 0.25),
    output: str = "array",
) -> SearchStrategy[Any]:
    """Images with compression artifacts, shrinking toward the mildest.

    Args:
        images: images ``(H, W)`` or ``(H, W, 3)`` in [0, 1] to compress (default: noise images).
        formats: ``"JPEG"``, ``"WEBP"``.
        min_quality: the lowest quality drawn (qualities shrink toward 100).
        subsampling: JPEG chroma subsampling ``"4:4:4"``, ``"4:2:2"``, ``"4:2:0"``.
        max_generations: re-encodings in a row (generation loss).
        scales: factors the image is downscaled by, then upscaled back (1: none).
        output: ``"array"`` (decoded pixels, same shape) or ``"bytes"`` (the file).

    Example:
        >>> from hypothesis import given
        >>> import numpy as np
        >>> from hypothesis import strategies as st
        >>> from pytest_mlguard import strategies as mst
        >>> photo = np.random.default_rng(0).random((32, 32, 3))
        >>> @given(mst.compressed_images(images=st.just(photo), min_quality=30))
        ... def test_prediction_survives_jpeg(image): ...
    """
    return _g.compressed_cases(
        images=images,
        formats=formats,
        min_quality=min_quality,
        subsampling=subsampling,
        max_generations=max_generations,
        scales=scales,
        output=output,
    ).map(lambda case: case.raw)


def records(schema: Any) -> SearchStrategy[dict[str, Any]]:
    """Valid records of ``schema``: a dict of field -> ``float``/``int``/``bool``/``str``, a
    ``(low, high)`` range, a ``range(...)``, a list of categories or ``{"type": ..., "min": ...,
    "max": ..., "categories": [...]}``; a pandas dtype mapping (``df.dtypes``); a dataclass; or a
    pydantic model (``Field(ge=..., le=...)`` bounds are ranges).

    Example:
        >>> from hypothesis import given
        >>> from pytest_mlguard import strategies as mst
        >>> @given(mst.records({"age": (0, 120), "city": ["Paris", "Lyon"]}))
        ... def test_valid_records_predict(record): ...
    """
    return _g.record_values(schema)


def malformed_records(
    schema: Any = None,
    *,
    examples: Sequence[Mapping[str, Any]] | None = None,
    mutations: str | Sequence[str] | SearchStrategy[str] = MUTATIONS,
    max_mutations: int | SearchStrategy[int] = 3,
) -> SearchStrategy[dict[str, Any]]:
    """Records with one to ``max_mutations`` of: ``"missing-field"``, ``"null"``, ``"nan"``,
    ``"inf"``, ``"empty-string"``, ``"odd-unicode"``, ``"extra-field"``, ``"wrong-type"``,
    ``"out-of-range"``, ``"unseen-category"``; starting from one of ``examples`` (valid records)
    or from a record drawn from ``schema`` (inferred from the examples if not given).

    Example:
        >>> from hypothesis import given
        >>> from pytest_mlguard import strategies as mst
        >>> @given(mst.malformed_records({"age": (0, 120)}, mutations=["missing-field", "null"]))
        ... def test_rejects_cleanly(record): ...
    """
    return _g.malformed_record_cases(schema=schema, examples=examples, mutations=mutations, max_mutations=max_mutations).map(
        lambda case: case.raw
    )
