"""The graceful-failure contract and the corrupted-file cases, as plain functions."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pytest_mlguard.inputs.files import CORRUPT_FILE_CASES, encode_image, not_an_image, truncate
from pytest_mlguard.inputs.graceful import check_prediction, outcome_of


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


def test_encoded_image_round_trips_and_corruptions_break_it():
    sample = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 8, 8)
    png = encode_image(sample, (0.0, 1.0))
    decoded = np.asarray(Image.open(io.BytesIO(png)), dtype=np.float32) / 255
    np.testing.assert_allclose(decoded, sample[0], atol=1 / 255)
    rgb = encode_image(np.zeros((3, 4, 5), np.float32), (0.0, 1.0))
    assert Image.open(io.BytesIO(rgb)).size == (5, 4)
    for name, corrupt in CORRUPT_FILE_CASES.items():
        broken = corrupt(png)
        with pytest.raises(Exception):  # noqa: B017, PT011 - any decoding error: each case must not decode
            Image.open(io.BytesIO(broken)).load()
    assert truncate(b"abcd", 0.5) == b"ab" and len(not_an_image(b"")) == 16
