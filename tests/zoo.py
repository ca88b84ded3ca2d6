"""A zoo of deliberately broken models and pipelines, each built to fail one check.

Every check in pytest-mlguard is proven able to fail by one of these (scikit-learn's
``NotInvariantPredict`` style). The good references are the digits example's CNN and pipeline.
Everything here trains in well under a second on the CPU, from data that ships with scikit-learn.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits"
if str(DIGITS) not in sys.path:
    sys.path.insert(0, str(DIGITS))

from model import CLASS_NAMES, MEAN, STD, load_digits_split, load_model  # noqa: E402
from pipeline import DigitsService, InvalidImage  # noqa: E402

from pytest_mlguard import CallableModel, EvalData, Pipeline, TorchModel  # noqa: E402


@lru_cache(maxsize=None)
def digits(split: str = "test") -> EvalData:
    x, y = load_digits_split(split)
    return EvalData(x, y, name=f"digits-{split}")


def good_model() -> TorchModel:
    """The digits example's CNN: passes every check of the example's config."""
    return TorchModel(load_model(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="digits")


class IgnoresInput(nn.Module):
    """Predicts class 3 for every image: fails the accuracy check."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(x), 10, device=x.device)
        logits[:, 3] = 5.0
        return logits


def ignores_input_model() -> TorchModel:
    return TorchModel(IgnoresInput(), input_shape=(1, 8, 8), n_classes=10, name="ignores-input")


@lru_cache(maxsize=None)
def _linear_state(n_train: int = 1437, steps: int = 300) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    train = digits("train")
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    x, y = torch.from_numpy(train.x[:n_train]), torch.from_numpy(train.y[:n_train])
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class Scaled(nn.Module):
    def __init__(self, net: nn.Module, factor: float) -> None:
        super().__init__()
        self.net, self.factor = net, factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * self.net(x)


def overconfident_model() -> TorchModel:
    """A linear model fitted to 200 training images with its logits multiplied by 20: about 91%
    accurate but close to 100% confident on every sample, wrong ones included (ECE about 0.09, where
    the example CNN has 0.016): fails the calibration check and no other."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    net.load_state_dict(_linear_state(200, 200))
    return TorchModel(Scaled(net, 20.0).eval(), input_shape=(1, 8, 8), n_classes=10, name="overconfident")


def linear_model() -> TorchModel:
    """A linear softmax over raw pixels: about 96% clean accuracy but about 25% under PGD at eps 0.1,
    where the CNN keeps about 49%: fails the attack floor of the example's config (0.4)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    model.load_state_dict(_linear_state())
    return TorchModel(model.eval(), input_shape=(1, 8, 8), n_classes=10, name="linear")


def black_box_model() -> CallableModel:
    """The example CNN behind a numpy-only callable, as a model behind an HTTP API would be."""
    net = load_model()

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(net((torch.from_numpy(batch) - MEAN) / STD), dim=1).numpy()

    return CallableModel(predict, input_shape=(1, 8, 8), n_classes=10, name="black-box")


def good_pipeline() -> Pipeline:
    return Pipeline(DigitsService().predict, rejects=InvalidImage, input="image-bytes", name="digits-service")


class IndexErrorOnTruncated(DigitsService):
    """Parses the PNG chunks by hand first and indexes past the end of a truncated file."""

    def predict(self, data: bytes) -> np.ndarray:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            chunks = []
            offset = 8
            while offset < len(data):
                length = int.from_bytes(data[offset : offset + 4], "big")
                chunks.append(data[offset + 4 : offset + 8])
                offset += 12 + length
            if chunks[-1] != b"IEND":
                raise IndexError("list index out of range")
        return super().predict(data)


def index_error_pipeline() -> Pipeline:
    return Pipeline(IndexErrorOnTruncated().predict, rejects=InvalidImage, input="image-bytes", name="index-error")


def nan_pipeline() -> Pipeline:
    """Returns NaN probabilities for files it cannot decode instead of rejecting them."""
    service = DigitsService()

    def predict(data: bytes) -> np.ndarray:
        try:
            return service.predict(data)
        except InvalidImage:
            return np.full(10, np.nan)

    return Pipeline(predict, rejects=InvalidImage, input="image-bytes", name="nan-on-bad")
