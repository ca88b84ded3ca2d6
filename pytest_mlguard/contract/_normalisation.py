"""Per-channel normalisation of raw inputs, declared as ``mean`` and ``std`` by the adapters that apply it
themselves (:class:`~pytest_mlguard.contract.TorchModel` and the adapters built on it,
:class:`~pytest_mlguard.contract.OnnxModel`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgument


class Normalised:
    """``mean`` and ``std`` checked when declared (numbers, ``std`` positive) and against the channels of
    ``input_shape`` once that shape has been checked against the data (:meth:`check_normalisation`)."""

    input_shape: tuple[int, ...]
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None

    @staticmethod
    def _check_norm(value: Any, name: str, *, positive: bool) -> tuple[float, ...] | None:
        """Numbers, finite (and positive for ``std``); their count is checked against the channels of
        ``input_shape`` by :meth:`check_normalisation`, after the input shape itself."""
        if value is None:
            return None
        values = (value,) if np.isscalar(value) else tuple(value)
        try:
            floats = tuple(float(v) for v in values)
        except (TypeError, ValueError):
            raise InvalidArgument.expected("a number or one number per channel", name, value) from None
        if not floats or not np.isfinite(floats).all() or (positive and min(floats) <= 0):
            what = f"a {'positive ' if positive else ''}number or one {'positive ' if positive else ''}number per channel"
            raise InvalidArgument.expected(what, name, value)
        return floats

    @property
    def channels(self) -> int:
        """Channels of one sample: the first dimension of an image's ``input_shape``, else 1."""
        return self.input_shape[0] if len(self.input_shape) >= 3 else 1

    def check_normalisation(self) -> None:
        """``mean`` and ``std`` hold one number, or one per channel of ``input_shape``.

        Checked when the model first normalises a batch, and by the suite after it has checked the
        input shape against the data: a wrong ``input_shape`` is named as such, not as a wrong ``mean``.
        """
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values is not None and len(values) not in (1, self.channels):
                raise InvalidArgument(
                    f"Expected 1 or {self.channels} per-channel numbers (input_shape={self.input_shape} has "
                    f"{self.channels} channel{'s' if self.channels != 1 else ''}) but got {name}={values!r}"
                )

    def normalisation(self) -> dict[str, list[float] | None]:
        """``mean`` and ``std`` for the model's description in reports."""
        return {"mean": list(self.mean) if self.mean else None, "std": list(self.std) if self.std else None}

    def normalize_array(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` of a numpy batch, in float32 (identity if none)."""
        self.check_normalisation()

        def per_channel(values: tuple[float, ...]) -> np.ndarray:
            array = np.asarray(values, np.float32)
            return array.reshape((1, -1) + (1,) * (x.ndim - 2)) if len(values) > 1 else array

        if self.mean is not None:
            x = x - per_channel(self.mean)
        if self.std is not None:
            x = x / per_channel(self.std)
        return np.ascontiguousarray(x, dtype=np.float32)
