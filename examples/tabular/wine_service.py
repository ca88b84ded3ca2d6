"""A production-like service: a JSON record of the 13 measurements -> class probabilities.

:class:`WineService` validates every record before the model sees it and rejects bad ones with its
own exception, :class:`InvalidRecord`. :class:`LenientWineService` is the broken variant: to
"tolerate" incomplete records it fills missing or non-numeric fields with NaN, and it runs the
exported weights with numpy for speed, skipping scikit-learn's input validation, so NaN goes
through silently and comes out as NaN probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from wine_model import FEATURES


class InvalidRecord(ValueError):
    """The record is not a measurement this service can classify."""


#: plausible values of each measurement: non-negative, at most ten times the largest in the training data
LIMITS = {
    "alcohol": 150.0,
    "malic_acid": 60.0,
    "ash": 35.0,
    "alcalinity_of_ash": 300.0,
    "magnesium": 1700.0,
    "total_phenols": 40.0,
    "flavanoids": 55.0,
    "nonflavanoid_phenols": 7.0,
    "proanthocyanins": 36.0,
    "color_intensity": 130.0,
    "hue": 18.0,
    "od280/od315_of_diluted_wines": 40.0,
    "proline": 17000.0,
}


class WineService:
    def __init__(self, model: Any) -> None:
        self.model = model

    def features(self, record: Any) -> np.ndarray:
        """The (1, 13) feature row of a record, or :class:`InvalidRecord` saying what is wrong."""
        if not isinstance(record, Mapping):
            raise InvalidRecord(f"expected a JSON object, got {type(record).__name__}")
        missing = [name for name in FEATURES if name not in record]
        if missing:
            raise InvalidRecord(f"missing fields: {', '.join(missing)}")
        row = []
        for name in FEATURES:
            value = record[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidRecord(f"field {name!r}: expected a number, got {type(value).__name__} {value!r:.40}")
            try:
                number = float(value)
            except OverflowError:
                raise InvalidRecord(f"field {name!r}: an integer of {len(str(value))} digits is too large") from None
            if not math.isfinite(number) or not 0.0 <= number <= LIMITS[name]:
                raise InvalidRecord(f"field {name!r}: {number!r} is outside [0, {LIMITS[name]:g}]")
            row.append(number)
        return np.asarray([row], dtype=np.float32)

    def predict(self, record: Any) -> np.ndarray:
        """Class probabilities for one record."""
        return self.model.predict_proba(self.features(record))[0]


class LenientWineService:
    """The broken variant: missing and non-numeric fields become NaN, and NaN flows through."""

    def __init__(self, model: Any) -> None:
        scaler, classifier = model[0], model[-1]
        self.mean, self.scale = scaler.mean_, scaler.scale_
        self.coef, self.intercept = classifier.coef_, classifier.intercept_

    def predict(self, record: Any) -> np.ndarray:
        if not isinstance(record, Mapping):
            raise InvalidRecord(f"expected a JSON object, got {type(record).__name__}")
        row = []
        for name in FEATURES:
            try:
                row.append(float(record.get(name)))
            except (TypeError, ValueError, OverflowError):
                row.append(math.nan)
        logits = ((np.asarray(row) - self.mean) / self.scale) @ self.coef.T + self.intercept
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()
