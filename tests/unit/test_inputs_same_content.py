"""inputs[same-content]: the same picture in other encodings, the same record written otherwise,
must get the class of the canonical input. The encodings hold the same picture (a correct decoder
gets the canonical pixels back), the digits example's pipeline keeps its class on every one, and
the zoo's pipelines that ignore EXIF, clip 16-bit pictures or read record fields by position fail
with the cause named."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

import zoo
from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.errors import ConfigError
from pytest_mlguard.inputs.encodings import ENCODINGS, canonical_png, to_uint8
from pytest_mlguard.inputs.handmade import tiff_tags
from pytest_mlguard.inputs.records import EQUIVALENTS, EXTRA_FIELD, equivalent_record

INPUTS = family("inputs")
SCALE = {"I;16": 65535.0, "I": 2.0**31 - 1, "F": 1.0}


def reference_decode(data: bytes) -> np.ndarray:
    """What a file means, read with Pillow by the book: EXIF applied, ICC converted to sRGB, deep
    samples scaled from their full range; gray (H, W) or RGB (H, W, 3) uint8."""
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    if image.mode in SCALE:
        return np.round(np.asarray(image, dtype=np.float64) / SCALE[image.mode] * 255).astype(np.uint8)
    if image.info.get("icc_profile"):
        source = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
        image = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    return np.asarray(image.convert("RGB"))


def picture(channels: int) -> np.ndarray:
    rng = np.random.default_rng(channels)
    if channels == 1:
        return (rng.integers(0, 17, (8, 6)) * 15).astype(np.uint8)  # few levels, as a digit; not square
    return rng.integers(0, 256, (7, 9, 3)).astype(np.uint8)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", list(ENCODINGS))
def test_each_encoding_holds_the_same_picture(name, channels):
    encoding = ENCODINGS[name]
    if channels not in encoding.channels:
        pytest.skip(f"{name} holds gray pictures only")
    pixels = picture(channels)
    data = encoding.encode(pixels)
    if data is None:
        assert name in ("png-palette", "gif") and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 256
        return
    expected = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels
    decoded = reference_decode(data)
    decoded = np.repeat(decoded[..., None], 3, axis=2) if decoded.ndim == 2 else decoded
    lossy = name.startswith("jpeg") or name == "icc-wide-gamut"
    error = np.abs(decoded.astype(int) - expected.astype(int)).max()
    assert error <= (16 if lossy and channels == 3 else 2 if lossy else 0), (name, error)
    assert data != canonical_png(pixels)


def test_encodings_have_the_structure_they_name():
    gray = picture(1)
    opened = {name: Image.open(io.BytesIO(e.encode(gray))) for name, e in ENCODINGS.items() if 1 in e.channels}
    assert all(opened[f"exif-{o}"].getexif()[0x0112] == o for o in range(2, 9))
    assert opened["exif-6"].size == gray.shape  # stored turned: width and height swapped
    assert (opened["png-16"].mode, opened["tiff-16"].mode, opened["tiff-int32"].mode, opened["tiff-float"].mode) == ("I;16", "I;16", "I", "F")
    assert np.asarray(opened["png-16"]).max() == int(gray.max()) * 257  # the full 16-bit range, not 8-bit values in 16 bits
    assert np.isclose(np.asarray(opened["tiff-float"]).max(), gray.max() / 255)
    assert tiff_tags(ENCODINGS["tiff-rgb16"].encode(gray))[258] == (16, 16, 16)
    assert opened["png-rgb16"].info.get("interlace") is None and ENCODINGS["png-rgb16"].encode(gray)[24] == 16  # IHDR bit depth
    assert opened["jpeg-cmyk"].mode == "CMYK" and opened["jpeg-progressive"].info.get("progressive") == 1
    assert opened["png-interlaced"].info.get("interlace") == 1
    assert (opened["png-palette"].mode, opened["gif"].mode, opened["png-la"].mode, opened["png-rgba"].mode) == ("P", "P", "LA", "RGBA")
    assert opened["webp-lossless"].format == "WEBP" and b"VP8L" in ENCODINGS["webp-lossless"].encode(gray)[:40]
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(opened["icc-wide-gamut"].info["icc_profile"]))).startswith("ProPhoto")
    assert np.asarray(opened["icc-wide-gamut"].convert("L")).tolist() != gray.tolist()  # the pixels are converted, not only tagged


def run(pipeline, tmp_path, model=None, data=None, **overrides):
    cli = {"output": str(tmp_path / "out"), "inputs.isolation": "none", "inputs.same_content.samples": "30", **overrides}
    settings = resolve(cli=cli, environ={}, keys=all_keys())
    evaluation = Evaluation(model or zoo.good_model(), data or zoo.digits(), settings, pipeline=pipeline)
    return evaluation.run(INPUTS, INPUTS.spec("same-content", settings))


def test_digits_pipeline_keeps_its_class_on_every_encoding(tmp_path):
    result = run(zoo.good_pipeline(), tmp_path)
    assert result.passed and result.value == 1.0, result.message
    rows = {row["encoding"]: row for row in result.details["encodings"]}
    assert set(rows) == {name for name, e in ENCODINGS.items() if 1 in e.channels}
    assert all(row["n"] == 30 and row["agreed"] == 30 for row in rows.values())
    assert result.interval is not None and result.interval[0] < 1.0  # 30 of 30: an interval, not a certainty


@pytest.mark.parametrize(
    "pipeline, flipped, cause",
    [
        ("ignores_exif_pipeline", {f"exif-{o}" for o in range(2, 9)}, "EXIF orientation ignored"),
        ("clips_16bit_pipeline", {"png-16", "tiff-16"}, "16-bit pixels clipped or cut to 8 bits"),
    ],
)
def test_broken_pipelines_fail_with_the_cause_named_and_examples_saved(tmp_path, pipeline, flipped, cause):
    result = run(getattr(zoo, pipeline)(), tmp_path)
    assert not result.passed
    assert set(result.details["flipped"]) == flipped
    assert [c.split(":")[0] for c in result.details["causes"]] == [cause]
    assert f"by likely cause:\n  {cause}" in result.message
    worst = min(result.details["encodings"], key=lambda r: r["agreement"])
    assert result.value == worst["agreement"] and result.n == worst["n"] == 30
    flip = worst["flips"][0]
    saved = Path(flip["saved"])
    assert saved.is_file() and saved.parent.name == worst["encoding"]
    assert (saved.parent / f"{saved.stem}-canonical.png").is_file()
    assert flip["detail"].startswith("class ") and "instead of" in flip["detail"]
    listed = json.loads((saved.parents[1] / "encodings.json").read_text())
    assert {row["encoding"] for row in listed if row["agreement"] < 0.98} == flipped


def test_a_rejected_encoding_is_a_flip(tmp_path):
    service = zoo.good_pipeline()

    def no_tiff(data: bytes):
        if data[:4] == b"II*\x00":
            raise zoo.InvalidImage("TIFF is not supported")
        return service.fn(data)

    result = run(zoo.Pipeline(no_tiff, rejects=zoo.InvalidImage, name="no-tiff"), tmp_path, **{"inputs.same_content.samples": "5"})
    assert not result.passed and result.value == 0.0
    assert set(result.details["flipped"]) == {"tiff-16", "tiff-rgb16", "tiff-int32", "tiff-float", "tiff"}
    assert "rejected: InvalidImage: TIFF is not supported" in result.message


def test_encodings_setting_selects_and_is_validated(tmp_path):
    result = run(zoo.ignores_exif_pipeline(), tmp_path, **{"inputs.same_content.encodings": "png-16,bmp"})
    assert result.passed and [row["encoding"] for row in result.details["encodings"]] == ["png-16", "bmp"]
    with pytest.raises(ConfigError, match=r"'exif-9' .*inputs.same_content.encodings.*expected an encoding of the same content, one of exif-2"):
        resolve(cli={"inputs.same_content.encodings": "exif-9"}, environ={}, keys=all_keys())
    with pytest.raises(ConfigError, match=r"inputs.same_content.floor.*expected a number in \[0, 1\]"):
        resolve(cli={"inputs.same_content.floor": "0.8*clean"}, environ={}, keys=all_keys())


def test_to_uint8_is_the_canonical_png():
    sample = zoo.digits().x[0]
    pixels = to_uint8(sample, (0.0, 1.0))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(canonical_png(pixels)))), pixels)
    assert pixels.shape == (8, 8) and pixels.dtype == np.uint8


# -- records --------------------------------------------------------------------------------------
def test_equivalent_records_mean_the_same():
    record = {"age": 3, "weight": 70.0, "city": "Montr\u00e9al", "ok": True}
    assert list(equivalent_record(record, "reordered")) == ["ok", "city", "weight", "age"]
    assert equivalent_record(record, "int-as-float")["age"] == 3.0 and equivalent_record(record, "int-as-float")["ok"] is True
    assert type(equivalent_record(record, "float-as-int")["weight"]) is int
    assert equivalent_record(record, "numeric-strings") == {"age": "3", "weight": "70.0", "city": "Montr\u00e9al", "ok": True}
    assert equivalent_record(record, "nfd")["city"] == "Montre\u0301al" and equivalent_record(record, "nfc") is None
    assert equivalent_record(record, "extra-field")[EXTRA_FIELD] == "ignored"
    assert all(equivalent_record({"x": "a"}, kind) is None for kind in ("reordered", "int-as-float", "float-as-int", "numeric-strings", "nfc", "nfd"))
    assert set(EQUIVALENTS) == {"reordered", "int-as-float", "float-as-int", "numeric-strings", "nfc", "nfd", "extra-field"}


def test_record_pipeline_same_prediction_or_declared_rejection(tmp_path):
    good = run(zoo.wine_pipeline(), tmp_path, model=zoo.wine_model(), data=zoo.wine_data())
    assert good.passed and good.value == 1.0, good.message
    # the held-out records hold floats only: no integer to write as a float
    assert {row["encoding"] for row in good.details["encodings"]} == {"reordered", "float-as-int", "numeric-strings", "extra-field"}
    positional = run(zoo.positional_record_pipeline(), tmp_path, model=zoo.wine_model(), data=zoo.wine_data())
    assert not positional.passed and positional.details["flipped"] == ["reordered"]
    assert "fields read by position instead of by name" in positional.message
    saved = Path(positional.details["encodings"][0]["flips"][0]["saved"])
    assert next(iter(json.loads(saved.read_text()))) == "proline"  # the record as sent: the last field first
