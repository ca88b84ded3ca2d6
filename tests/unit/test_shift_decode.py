"""Image files of ``mlguard_production`` read through the decode a ``Pipeline`` declares, as the service
reads them: the production sample is what the model sees in serving, the files the pipeline rejects
are left out and counted, and a decode that breaks its contract is named."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from pytest_mlguard import EvalData, Pipeline, check_model
from pytest_mlguard.contract import CallableModel
from pytest_mlguard.errors import ContractError
from pytest_mlguard.production._shift.sample import production_sample


class Unreadable(ValueError):
    """What the service raises for an upload it cannot read."""


def _model():
    return CallableModel(lambda x: np.stack([x.mean(axis=(1, 2, 3)), 1 - x.mean(axis=(1, 2, 3))], axis=1), input_shape=(1, 4, 4), n_classes=2, name="m")


def _service_decode(data: bytes) -> np.ndarray:
    """The service's own decode: the red channel of the 4x4 centre of an upload (no resize, no grey)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            red = np.asarray(image.convert("RGB"), dtype=np.float32)[2:6, 2:6, 0]
    except OSError as exc:
        raise Unreadable(str(exc)) from exc
    return red[None] / 255.0


def _pipeline(decode=_service_decode, kind="image-bytes"):
    return Pipeline(lambda data: _model().predict_proba(decode(data)[None])[0], rejects=Unreadable, input=kind, decode=decode, name="service")


def _centres(n: int, seed: int) -> np.ndarray:
    """``n`` 4x4 centres of values 0.2..0.8, as 8-bit levels."""
    return np.round(np.random.default_rng(seed).uniform(0.2, 0.8, (n, 4, 4)) * 255).astype(np.uint8)


def _uploads(folder, centres: np.ndarray) -> None:
    """8x8 RGB uploads: the centre in the red channel, a black red border, green full and blue off,
    so that their grey levels, resized, are not the red centre the service reads."""
    for i, centre in enumerate(centres):
        rgb = np.zeros((8, 8, 3), dtype=np.uint8)
        rgb[2:6, 2:6, 0], rgb[..., 1] = centre, 255
        Image.fromarray(rgb).save(folder / f"{i:03d}.png")


def test_image_files_are_read_through_the_pipelines_decode(tmp_path):
    centres = _centres(12, 0)
    _uploads(tmp_path, centres)
    sample = production_sample(tmp_path, _model(), _pipeline())
    np.testing.assert_array_equal(sample.x, centres[:, None].astype(np.float32) / 255.0)
    assert sample.files["decoded_by"] == "service" and sample.files["rejected"] == 0 and sample.files["formats"] == {"PNG": 12}
    plugin = production_sample(tmp_path, _model())  # without a declared decode: grey, resized, which the service never sees
    assert np.abs(plugin.x - sample.x).max() > 0.3


def test_the_shift_checks_compare_what_the_service_decodes(tmp_path):
    _uploads(tmp_path, _centres(60, 1))
    x = _centres(300, 2)[:, None].astype(np.float32) / 255.0
    data = EvalData(x, (x.mean(axis=(1, 2, 3)) > 0.5).astype(int), name="centres")
    settings = {"shift.checks": ["inputs"]}
    [through] = check_model(_model(), data, "shift[inputs]", settings=settings, pipeline=_pipeline(), extras={"production": tmp_path})
    [plugin] = check_model(_model(), data, "shift[inputs]", settings=settings, extras={"production": tmp_path})
    assert through.passed and through.value > 0.01, through.message
    assert not plugin.passed and "brightness" in plugin.message


def test_files_the_pipeline_rejects_are_left_out_and_counted(tmp_path):
    _uploads(tmp_path, _centres(12, 3))
    (tmp_path / "truncated.png").write_bytes(b"\x89PNG\r\n")
    x = _centres(100, 4)[:, None].astype(np.float32) / 255.0
    data = EvalData(x, (x.mean(axis=(1, 2, 3)) > 0.5).astype(int))
    [result] = check_model(_model(), data, "shift[inputs]", settings={"shift.checks": ["inputs"]}, pipeline=_pipeline(), extras={"production": tmp_path})
    files = result.details["files"]
    assert files["rejected"] == 1 and result.details["production_samples"] == 12 and files["formats"]["unread by Pillow"] == 1
    assert f"production: pipeline 'service' rejected 1 of 13 files, which the model never saw, such as file {tmp_path / 'truncated.png'}" in result.message


def test_a_path_pipeline_gets_paths_and_bytes_written_to_a_file(tmp_path):
    _uploads(tmp_path, _centres(12, 5))
    seen = []

    def decode(path):
        seen.append(path)
        with open(path, "rb") as handle:
            return _service_decode(handle.read())

    paths = sorted(tmp_path.glob("*.png"))
    from_paths = production_sample(paths, _model(), _pipeline(decode, kind="image-path"))
    from_bytes = production_sample([p.read_bytes() for p in paths], _model(), _pipeline(decode, kind="image-path"))
    np.testing.assert_array_equal(from_paths.x, from_bytes.x)
    assert seen[:12] == paths and all(not os.path.exists(path) for path in seen[12:])  # temporary files, removed


@pytest.mark.parametrize(
    ("decode", "message"),
    [
        (lambda data: np.zeros((1, 8, 8)), r"mlguard_pipeline: Expected decode to return a model input of shape \(1, 4, 4\) \(or a batch of one\) but it returned shape \(1, 8, 8\) for file .*000.png of mlguard_production"),
        (lambda data: 1 / 0, r"mlguard_pipeline: Expected decode to read each production file or reject it with one of its rejects \(Unreadable\), but on file .*000.png of mlguard_production it raised ZeroDivisionError"),
    ],
)
def test_a_decode_that_breaks_its_contract_is_named(tmp_path, decode, message):
    _uploads(tmp_path, _centres(12, 6))
    with pytest.raises(ContractError, match=message):
        production_sample(tmp_path, _model(), _pipeline(decode))


def test_too_few_files_that_the_pipeline_decodes(tmp_path):
    _uploads(tmp_path, _centres(9, 7))
    for i in range(3):
        (tmp_path / f"z{i}.png").write_bytes(b"not a png")
    with pytest.raises(ContractError, match=r"Expected at least 10 files that pipeline 'service' decodes but it rejected 3 of 12, such as file .*z0.png"):
        production_sample(tmp_path, _model(), _pipeline())
