"""The functional core of the inputs family: the graceful-failure contract, file encodings and
corruptions, records and their mutations, compression artifacts."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import typing

import numpy as np
import pytest
from PIL import Image

from pytest_mlguard.errors import InvalidArgument
from pytest_mlguard.inputs import files as F
from pytest_mlguard.inputs.compression import compress_batch, down_up, recompress
from pytest_mlguard.inputs._fuzz import load_input, save_input
from pytest_mlguard.inputs.graceful import check_prediction, outcome_of
from pytest_mlguard.inputs.records import MUTATIONS, as_schema, infer_schema, mutate


class Rejected(ValueError):
    pass


@pytest.mark.parametrize(
    "output, problem",
    [
        (3, None),
        (np.int64(9), None),
        ("cat", None),
        ([0.25, 0.75] + [0.0] * 8, None),
        (np.eye(10)[[2]], None),
        (10, "outside 0..9"),
        (True, "returned a bool"),
        ("dog", "unknown class 'dog'"),
        ([0.5] * 9, "shape (9,)"),
        ([np.nan] * 10, "NaN or inf"),
        ([0.2] * 10, "sum to 2"),
        ([-0.5, 1.5] + [0.0] * 8, "outside [0, 1]"),
        (object(), "returned object, not a class index"),
    ],
)
def test_check_prediction(output, problem):
    found = check_prediction(output, 10, class_names=("cat",))
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_outcomes():
    assert outcome_of(lambda raw: 1, b"", rejects=(Rejected,), n_classes=2).kind == "prediction"

    def reject(raw):
        raise Rejected("not an image")

    assert outcome_of(reject, b"", rejects=(Rejected,), n_classes=2).kind == "rejection"

    def silent(raw):
        raise Rejected("")

    assert "empty message" in outcome_of(silent, b"", rejects=(Rejected,), n_classes=2).detail

    def stray(raw):
        raise IndexError("list index out of range")

    outcome = outcome_of(stray, b"", rejects=(Rejected,), n_classes=2)
    assert outcome.kind == "failure" and outcome.detail == "raised undeclared IndexError: list index out of range"

    def greedy(raw):
        raise MemoryError

    def leaves(raw):
        raise SystemExit(3)

    assert outcome_of(greedy, b"", rejects=(), n_classes=2).detail == "ran out of memory: MemoryError"
    assert outcome_of(leaves, b"", rejects=(), n_classes=2).detail == "called sys.exit(3)"


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_encoded_image_round_trips_and_corruptions_break_it():
    sample = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 8, 8)
    png = F.encode_image(sample, (0.0, 1.0))
    np.testing.assert_allclose(np.asarray(decode(png), dtype=np.float32) / 255, sample[0], atol=1 / 255)
    assert decode(F.encode_image(np.zeros((3, 4, 5), np.float32), (0.0, 1.0))).size == (5, 4)
    for corrupt in F.CORRUPT_FILE_CASES.values():
        with pytest.raises(Exception):  # noqa: B017 - any decoding error: each case must not decode
            decode(corrupt(png))
    assert F.truncate(b"abcd", 0.5) == b"ab" and len(F.not_an_image(b"")) == 16


@pytest.mark.parametrize("fmt", F.FORMATS)
def test_every_format_holds_each_of_its_modes(fmt):
    pixels = np.random.default_rng(0).random((6, 5, 3)).astype(np.float32)
    for mode in F.FORMAT_MODES[fmt]:
        image = decode(F.encode_file(pixels, fmt, mode))
        assert image.format == fmt and image.size == (5, 6)
        if fmt in ("PNG", "TIFF"):  # lossless formats keep the mode; GIF, BMP, WebP may store another
            assert image.mode == mode
    with pytest.raises(ValueError, match="cannot hold mode"):
        F.encode_file(pixels, "JPEG", "RGBA")


def test_options_reach_the_file():
    pixels = np.random.default_rng(1).random((16, 12)).astype(np.float32)
    assert decode(F.encode_file(pixels, "PNG", "L", interlaced=True)).info.get("interlace") == 1
    assert decode(F.encode_file(pixels, "JPEG", "L", interlaced=True)).info.get("progressive") == 1
    assert decode(F.encode_file(pixels, "JPEG", "RGB", exif_orientation=6)).getexif()[0x0112] == 6
    for fmt in F.MULTI_FRAME:
        mode = "RGB" if fmt in ("WEBP", "PNG") else "P" if fmt == "GIF" else "L"
        assert decode(F.encode_file(pixels, fmt, mode, frames=3)).n_frames == 3
    assert decode(F.encode_file(pixels, "GIF", "P", transparency=True)).info.get("transparency") == 0
    floats = decode(F.encode_file(np.array([[np.nan, -5.0, 300.0]]), "TIFF", "F"))
    assert floats.mode == "F" and np.isnan(np.asarray(floats)[0, 0]) and np.asarray(floats)[0, 2] == 300.0


def test_corruptions_are_deterministic_and_do_what_they_say():
    png = F.encode_file(np.zeros((4, 4)), "PNG", "L")
    assert F.truncate_at(png, 0) == b"" and F.truncate_at(png, 8) == F.MAGIC["PNG"]
    flipped = F.flip_bits(png, [0])
    assert flipped[0] == png[0] ^ 0x80 and flipped[1:] == png[1:] and F.flip_bits(b"", [3]) == b""
    assert F.overwrite(b"abcdef", 2, b"XY") == b"abXYef" and F.overwrite(b"abc", 2, b"XYZ") == b"abX"
    assert F.file_format(F.replace_magic(png, "JPEG")) == "JPEG"
    assert F.garbage(3, 10) == F.garbage(3, 10) != F.garbage(4, 10) and F.garbage(0, 4, b"GIF89a")[:6] == b"GIF89a"
    assert int.from_bytes(F.mangle_length(png, 0, 0xFFFFFFFF)[8:12], "big") == 0xFFFFFFFF
    assert F.mangle_length(b"not a file", 0, 5) == b"not a file"


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP", "JPEG"])
def test_decompression_bombs_declare_what_they_say(fmt):
    mode = "P" if fmt == "GIF" else "L"
    small = F.encode_file(np.zeros((2, 3)), fmt, mode)
    bomb = F.declare_size(small, 40000, 50000)
    assert len(bomb) == len(small)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(bomb))
    Image.MAX_IMAGE_PIXELS, limit = None, Image.MAX_IMAGE_PIXELS
    try:
        assert F.image_size(bomb) == (40000, 50000)
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def test_schema_forms_agree():
    @dataclasses.dataclass
    class Person:
        age: int
        income: float
        city: typing.Literal["Paris", "Lyon"]
        member: bool
        note: typing.Optional[str] = None  # noqa: UP045 - the form pydantic and older code use

    from pydantic import BaseModel, Field

    class PersonModel(BaseModel):
        age: int = Field(ge=0, le=120)
        income: float
        city: typing.Literal["Paris", "Lyon"]
        member: bool
        note: typing.Optional[str] = None  # noqa: UP045 - the form pydantic and older code use

    import pandas as pd

    frame = pd.DataFrame(
        {"age": [30], "income": [1.0], "city": pd.Categorical(["Paris"], categories=["Paris", "Lyon"]), "member": [True], "note": ["x"]}
    )
    kinds = ["integer", "number", "category", "boolean", "string"]
    from_dict = as_schema({"age": range(121), "income": float, "city": ["Paris", "Lyon"], "member": bool, "note": str})
    for schema in (from_dict, as_schema(Person), as_schema(PersonModel), as_schema(frame.dtypes)):
        assert [f.kind for f in schema.fields] == kinds, schema
        assert schema.field("city").categories == ("Paris", "Lyon")
    assert (from_dict.field("age").low, from_dict.field("age").high) == (0, 120)
    assert (as_schema(PersonModel).field("age").low, as_schema(PersonModel).field("age").high) == (0, 120)
    assert as_schema({"x": (0.0, 1.5)}).fields[0].kind == "number"
    assert as_schema({"x": {"type": int, "min": 3}}).fields[0].low == 3


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: as_schema({"x": object}), "schema['x']"),
        (lambda: as_schema({}), "schema={}"),
        (lambda: as_schema(42), "schema=42"),
        (lambda: infer_schema([]), "examples=[]"),
        (lambda: mutate({"x": 1}, "explode", "x"), "mutation='explode'"),
    ],
)
def test_invalid_record_arguments(call, message):
    with pytest.raises(InvalidArgument, match=__import__("re").escape(message)):
        call()


def test_mutations_change_one_field_and_stay_json():
    record = {"age": 30, "income": 1.5, "city": "Paris"}
    schema = infer_schema([record, {"age": 50, "income": 9.0, "city": "Lyon"}])
    assert schema.field("age").kind == "integer" and schema.field("city").categories == ("Paris", "Lyon")
    for mutation in MUTATIONS:
        for variant in range(16):
            out = mutate(record, mutation, "age", variant=variant, schema=schema)
            assert record == {"age": 30, "income": 1.5, "city": "Paris"}  # not modified in place
            changed = {k for k in set(out) | set(record) if out.get(k, "absent") != record.get(k, "absent") or (k in out) != (k in record)}
            assert changed, (mutation, variant)
            assert json.loads(json.dumps(out)) is not None
    assert "age" not in mutate(record, "missing-field", "age")
    assert math.isnan(mutate(record, "nan", "income")["income"])
    assert mutate(record, "out-of-range", "age", schema=schema)["age"] > 50
    assert mutate(record, "unseen-category", "city", schema=schema)["city"] not in ("Paris", "Lyon")
    assert set(mutate(record, "extra-field", "age")) == {"age", "income", "city", "unexpected"}


def test_saved_inputs_load_back(tmp_path):
    record = {"x": math.nan, "y": "\ud800", "z": [1, 2]}
    loaded = load_input(save_input(record, tmp_path, "r"), "record")
    assert math.isnan(loaded["x"]) and loaded["y"] == "\ud800" and loaded["z"] == [1, 2]
    array = np.arange(6, dtype=np.uint16).reshape(2, 3)
    assert np.array_equal(load_input(save_input(array, tmp_path, "a"), "image-bytes"), array)
    path = save_input(b"\x89PNG", tmp_path, "f", ".png")
    assert path.name == "f.png" and load_input(path, "image-bytes") == b"\x89PNG" and load_input(path, "image-path") == str(path)


def test_compression_artifacts():
    image = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    mild, harsh = recompress(image, "JPEG", 95), recompress(image, "JPEG", 5)
    assert mild.shape == harsh.shape == image.shape
    assert np.abs(mild - image).mean() < np.abs(harsh - image).mean()
    assert np.abs(recompress(image, "JPEG", 50, generations=5) - image).mean() >= np.abs(recompress(image, "JPEG", 50) - image).mean() - 1e-3
    assert np.abs(recompress(image, "JPEG", 90, subsampling="4:2:0") - image).mean() > np.abs(recompress(image, "JPEG", 90, subsampling="4:4:4") - image).mean()
    assert recompress(image[..., 0], "WEBP", 50).shape == (16, 16)
    assert down_up(image, 1.0) is image and down_up(image, 0.25).shape == image.shape
    x = np.random.default_rng(1).random((2, 1, 8, 8)).astype(np.float32) * 255
    out = compress_batch(x, (0.0, 255.0), "JPEG", 30)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 255 and not np.allclose(out, x)


def test_seed_corpus_matches_its_manifest_and_regenerates_identically(tmp_path):
    import hashlib
    import importlib.util
    from importlib.metadata import version
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "corpora"
    manifest = json.loads((root / "manifest.json").read_text())
    listed = {entry["file"]: entry for entry in manifest["files"]}
    assert sorted(p.name for p in (root / "images").iterdir()) == sorted(listed)
    for name, entry in listed.items():
        data = (root / "images" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"], name
        if entry["kind"] == "odd":
            decode(data)  # every odd file is a valid image
        else:
            assert entry["kind"] == "corrupt"
    spec = importlib.util.spec_from_file_location("make_corpus", root / "make_corpus.py")
    make_corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_corpus)
    if {package: version(package) for package in manifest["made_with"]} != manifest["made_with"]:
        pytest.skip(f"the corpus was made with {manifest['made_with']}: other versions may encode other bytes")
    make_corpus.write(tmp_path / "images", tmp_path / "manifest.json")
    assert json.loads((tmp_path / "manifest.json").read_text())["files"] == manifest["files"]
