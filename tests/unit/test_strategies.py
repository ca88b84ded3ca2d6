"""The public Hypothesis strategies: exports, argument validation, shrinking, composition."""

from __future__ import annotations

import dataclasses
import io
import random
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from PIL import Image

from pytest_mlguard import strategies as mst
from pytest_mlguard.errors import InvalidArgument
from pytest_mlguard.inputs import _generate as G
from pytest_mlguard.inputs.files import FORMAT_MODES, file_format

FAST = settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def minimal(strategy, condition=lambda value: True):
    return find(strategy, condition, settings=settings(database=None, max_examples=300), random=random.Random(0))


def test_all_matches_exports():
    public = {name for name, value in vars(mst).items() if callable(value) and getattr(value, "__module__", "") == mst.__name__ and not name.startswith("_")}
    assert set(mst.__all__) >= public
    for name in mst.__all__:
        assert callable(getattr(mst, name)), name


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: mst.resolutions(min_side=0), "Expected an int in [1, inf] but got min_side=0 (type=int)"),
        (lambda: mst.resolutions(min_side=5, max_side=4), "Expected max_side >= min_side but got min_side=5, max_side=4"),
        (lambda: mst.resolutions(max_pixels=3, min_side=2), "Expected max_pixels >= min_side**2"),
        (lambda: mst.resolutions(min_side=st.just(9), max_side=8), "Expected max_side >= min_side but got min_side=9, max_side=8 (drawn)"),
        (lambda: mst.resolutions(stride=st.just(1)), "Expected an int in [2, inf] but got stride=1 (type=int), drawn from"),
        (lambda: mst.image_arrays(channels=2), "Expected one of (1, 3, 4) or a non-empty sequence of them but got channels=2"),
        (lambda: mst.image_arrays(channels=st.just(2)), "but got channels=2 (type=int), drawn from the strategy passed as channels"),
        (lambda: mst.image_arrays(dtype="int8"), "but got dtype='int8'"),
        (lambda: mst.image_arrays(layout=[]), "but got layout=[]"),
        (lambda: mst.image_arrays(value_range="huge"), "but got value_range='huge'"),
        (lambda: mst.image_arrays(batch="yes"), "Expected a bool or a strategy of bools but got batch='yes'"),
        (lambda: mst.image_arrays(resolution=(0, 4)), "but got resolution=(0, 4)"),
        (lambda: mst.image_arrays(batch=st.just(1)), "Expected a bool but got batch=1 (type=int), drawn from"),
        (lambda: mst.image_files(formats="JPG"), "but got formats='JPG'"),
        (lambda: mst.image_files(formats="JPEG", modes="RGBA"), "Expected at least one mode in modes=('RGBA',) that one of formats='JPEG' can store"),
        (lambda: mst.image_files(max_frames=0), "Expected an int in [1, 16] but got max_frames=0"),
        (lambda: mst.image_files(formats=st.just("TGA")), "but got formats='TGA' (type=str), drawn from"),
        (lambda: mst.corrupt_image_files(corruptions="melt"), "but got corruptions='melt'"),
        (lambda: mst.corrupt_image_files(files=b"\x89PNG"), "Expected a strategy of files (bytes) but got files=b'\\x89PNG'"),
        (lambda: mst.corrupt_image_files(files=st.just("a.png")), "Expected bytes but got files='a.png' (type=str), drawn from"),
        (lambda: mst.corrupt_image_files(max_declared_side=100), "Expected an int in [10000, 2147483647] but got max_declared_side=100"),
        (lambda: mst.compressed_images(min_quality=0), "but got min_quality=0"),
        (lambda: mst.compressed_images(formats="PNG"), "but got formats='PNG'"),
        (lambda: mst.compressed_images(scales=[2.0]), "Expected scale factors in (0, 1] but got scales=[2.0]"),
        (lambda: mst.compressed_images(output="file"), "Expected 'array' or 'bytes' but got output='file'"),
        (lambda: mst.compressed_images(images=st.just(np.zeros((4, 4, 2)))), "but got images=(4, 4, 2) (type=tuple), drawn from"),
        (lambda: mst.records({"x": object}), "but got schema['x']="),
        (lambda: mst.malformed_records(), "Expected a schema, or example records to infer it from"),
        (lambda: mst.malformed_records({"x": float}, mutations="explode"), "but got mutations='explode'"),
        (lambda: mst.malformed_records({"x": float}, max_mutations=0), "but got max_mutations=0"),
        (lambda: mst.malformed_records(examples=[1, 2]), "Expected a non-empty sequence of records (dicts) but got examples=[1, 2]"),
    ],
)
def test_invalid_arguments_name_the_argument_on_first_use(make, message):
    strategy = make()  # building a strategy never raises: arguments are validated on first use
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        minimal(strategy)


@pytest.mark.parametrize(
    "strategy, description",
    [
        (G.file_cases(), "PNG 1x1 L"),
        (G.file_cases(formats=["JPEG", "TIFF"], modes="CMYK"), "JPEG 1x1 CMYK"),
        (G.corrupt_file_cases(), "PNG 1x1 L truncated at 0 of 67 bytes"),
        (G.array_cases(), "array (1, 1, 1) uint8 HWC range byte (no batch axis)"),
        (G.compressed_cases(), "JPEG quality 100 4:4:4"),
        (G.malformed_record_cases(schema={"x": (0.0, 1.0), "y": ["a", "b"]}), "record with missing-field 'x'"),
    ],
)
def test_shrinks_to_the_simplest_input(strategy, description):
    assert minimal(strategy).description == description


def test_shrinks_a_failure_to_its_simplest_cause():
    # the smallest truncated file that still starts with the PNG signature: the signature alone
    truncated = minimal(G.corrupt_file_cases(corruptions="truncate"), lambda c: len(c.raw) >= 8)
    assert truncated.description == "PNG 1x1 L truncated at 8 of 67 bytes"
    assert minimal(mst.resolutions(), lambda size: 40 <= size[0] <= 90) == (40, 1)
    record = minimal(G.malformed_record_cases(schema={"a": float, "b": float}, max_mutations=3), lambda c: "b" in c.raw and c.raw["b"] is None)
    assert record.description == "record with null 'b'"


@FAST
@given(mst.resolutions(min_side=st.integers(2, 4), max_side=st.just(40), stride=st.sampled_from([8, 16])))
def test_resolution_bounds_may_be_drawn(size):
    assert min(size) >= 2 and max(size) <= 40


@FAST
@given(mst.image_files(max_frames=2))
def test_image_files_decode_as_what_they_claim(data):
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == file_format(data) and image.mode in {m for modes in FORMAT_MODES.values() for m in modes} | {"RGB", "P", "L", "PA", "RGBA"}


@FAST
@given(mst.image_files(formats="PNG", modes=st.sampled_from(["L", "I;16"]), resolution=st.tuples(st.just(3), st.integers(1, 5))))
def test_arguments_take_values_or_strategies(data):
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.mode in ("L", "I;16") and image.size[1] == 3 and 1 <= image.size[0] <= 5


@FAST
@given(mst.corrupt_image_files(corruptions="bomb"))
def test_bombs_declare_huge_sizes(data):
    # at least 10000x10000 pixels: over Pillow's warning limit, or its error limit
    with warnings.catch_warnings(), pytest.raises((Image.DecompressionBombError, Image.DecompressionBombWarning)):
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        Image.open(io.BytesIO(data))


@FAST
@given(mst.image_arrays(resolution=(4, 6), channels=3, layout="CHW", batch=True, dtype="float32", value_range="unit", non_finite=False))
def test_image_arrays_follow_their_arguments(array):
    assert array.shape == (1, 3, 4, 6) and array.dtype == np.float32 and array.min() >= 0.0 and array.max() <= 1.0


@FAST
@given(mst.image_arrays(dtype=["uint8", "uint16", "float16"], value_range="full"))
def test_full_range_arrays_fit_their_dtype(array):
    assert array.dtype in (np.uint8, np.uint16, np.float16) and array.ndim in (2, 3, 4)
    if array.dtype == np.float16:
        assert np.isfinite(array).all() or not np.isfinite(array).all()  # NaN/inf allowed in floats


@FAST
@given(mst.image_tensors(dtype="float32", layout="CHW", channels=1, batch=True))
def test_image_tensors(tensor):
    import torch

    assert isinstance(tensor, torch.Tensor) and tensor.dim() == 4 and tensor.shape[:2] == (1, 1)


@FAST
@given(mst.compressed_images(images=st.just(np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)), min_quality=10))
def test_compressed_images_keep_shape_and_range(image):
    assert image.shape == (16, 16) and image.min() >= 0.0 and image.max() <= 1.0


@FAST
@given(mst.compressed_images(formats="WEBP", output="bytes"))
def test_compressed_files_are_webp(data):
    assert file_format(data) == "WEBP"


@dataclasses.dataclass
class Wine:
    alcohol: float
    magnesium: int
    colour: str


@FAST
@given(mst.records({"age": (0, 120), "income": float, "city": ["Paris", "Lyon"]}), mst.records(Wine))
def test_records_are_valid(person, wine):
    assert set(person) == {"age", "income", "city"} and 0 <= person["age"] <= 120 and person["city"] in ("Paris", "Lyon")
    assert isinstance(person["age"], int) and isinstance(wine["magnesium"], int) and isinstance(wine["colour"], str)


@FAST
@given(mst.malformed_records(examples=[{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "y"}], mutations=["missing-field", "null"], max_mutations=1))
def test_malformed_records_from_examples(record):
    assert record != {"a": 1.0, "b": "x"} and record != {"a": 2.0, "b": "y"}
    assert len(record) == 1 or None in record.values()
