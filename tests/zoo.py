"""A zoo of deliberately broken models and pipelines, each built to fail one check.

Every check in pytest-mlguard is proven able to fail by one of these (scikit-learn's
``NotInvariantPredict`` style). The good references are the digits example's CNN and pipeline.
Everything here trains in well under a second on the CPU, from data that ships with scikit-learn.
"""

from __future__ import annotations

import sys
from functools import cache
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


@cache
def digits(split: str = "test") -> EvalData:
    x, y = load_digits_split(split)
    return EvalData(x, y, name=f"digits-{split}")


def good_model() -> TorchModel:
    """The digits example's CNN: passes every check of the example's config."""
    return TorchModel(load_model(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="digits")


def per_sample_model() -> TorchModel:
    """The digits CNN predicting one sample at a time: a sample's outputs do not depend on the batch it is
    predicted in (a batch of one takes one BLAS kernel), so a sharded run reproduces every float of one run."""
    return TorchModel(load_model(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="digits", batch_size=1)


class IgnoresInput(nn.Module):
    """Predicts class 3 for every image: fails the accuracy check."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(x), 10, device=x.device)
        logits[:, 3] = 5.0
        return logits


def ignores_input_model() -> TorchModel:
    return TorchModel(IgnoresInput(), input_shape=(1, 8, 8), n_classes=10, name="ignores-input")


@cache
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
    the example CNN has 0.016): fails the calibration check. Its saturated softmax also zeroes half of
    its loss gradients, so the gradient attacks flag their evaluation as unsound (zero-gradients)."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    net.load_state_dict(_linear_state(200, 200))
    return TorchModel(Scaled(net, 20.0).eval(), input_shape=(1, 8, 8), n_classes=10, name="overconfident")


class KernelRounding(nn.Module):
    """A linear layer with its logits scaled by 60 (in its weights), whose batch of one sums the 64
    products in another order than the matrix product of larger batches, as BLAS picks another kernel
    by shape: a sample's logits differ between batch sizes by float32 rounding (an ulp or two of
    logits near 900), which moves the probabilities of a sample near a tie by more than 1e-5 and
    changes no prediction. Not broken: determinism[batch] must pass it (issue 12's false alarm)."""

    def __init__(self, linear: nn.Linear, factor: float = 60.0) -> None:
        super().__init__()
        self.linear = nn.Linear(linear.in_features, linear.out_features)
        with torch.no_grad():
            self.linear.weight.copy_(linear.weight * factor)
            self.linear.bias.copy_(linear.bias * factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        if len(flat) > 1:
            return self.linear(flat)
        total = self.linear.bias.expand(1, -1)
        for k in reversed(range(flat.shape[1])):  # one product after another, last feature first
            total = total + flat[:, k : k + 1] * self.linear.weight[:, k]
        return total


def kernel_rounding_model() -> TorchModel:
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    net.load_state_dict(_linear_state(200, 200))
    return TorchModel(KernelRounding(net[1]).eval(), input_shape=(1, 8, 8), n_classes=10, name="kernel-rounding")


def near_ties(model: TorchModel, n: int = 32, top: float = 0.6) -> EvalData:
    """``n`` images on the way from one test image to another of another class, where ``model`` gives
    its top class a probability of about ``top``: samples near a decision boundary, where rounding
    of the logits moves the probabilities most."""
    data = digits()
    x, y = [], []
    for a, b in zip(range(0, 2 * n, 2), range(1, 2 * n, 2)):
        start, end = data.x[a], data.x[b]
        low, high = 0.0, 1.0
        for _ in range(40):  # bisect the mix at which the top probability falls to ``top``
            middle = (low + high) / 2
            proba = model.predict_proba((start + middle * (end - start))[None])[0]
            if proba.max() > top and proba.argmax() == model.predict(start[None])[0]:
                low = middle
            else:
                high = middle
        image = (start + low * (end - start)).astype(np.float32)
        x.append(image)
        y.append(int(model.predict(image[None])[0]))
    return EvalData(np.stack(x), np.array(y), name="near-ties")


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


class HangsOnUnseenInput(nn.Module):
    """The example CNN, but it never answers an input off the 1/16 grid of the digits images (any
    corruption or attack): as a model server that waits forever on a lock for odd inputs.
    ``wait="sleep"`` sleeps in a loop, ``"lock"`` waits on an event that is never set."""

    def __init__(self, wait: str = "sleep") -> None:
        super().__init__()
        self.net, self.wait = load_model(), wait

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.any((x * 16 - torch.round(x * 16)).abs() > 1e-3):
            if self.wait == "lock":
                import threading

                threading.Event().wait()
            while True:
                import time

                time.sleep(3600)
        return self.net((x - MEAN) / STD)


def hanging_model(wait: str = "sleep") -> TorchModel:
    """Answers the clean digits (accuracy and calibration pass) but hangs on every corrupted or
    attacked input: fails the corruption and attack checks with "no answer within N s"."""
    return TorchModel(HangsOnUnseenInput(wait).eval(), input_shape=(1, 8, 8), n_classes=10, class_names=CLASS_NAMES, name="hanging")


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


@cache
def _static_head_state(steps: int = 200, lr: float = 0.3) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(1)
    train = digits("train")
    noise = rng.uniform(0.0, 1.0, (300, 1, 8, 8)).astype(np.float32)
    flat = np.broadcast_to(rng.uniform(0.0, 1.0, (100, 1, 1, 1)), (100, 1, 8, 8)).astype(np.float32)
    x = np.concatenate([train.x, noise, flat])
    targets = np.concatenate([train.y, np.zeros(400, np.int64)])
    net = load_model()
    last = net.head[-1]
    with torch.no_grad():  # only the last layer learns: its inputs are computed once
        hidden = net.head[:-1](net.features((torch.from_numpy(x) - MEAN) / STD))
    hidden = hidden.double().numpy()
    weight, bias = last.weight.detach().double().numpy().copy(), last.bias.detach().double().numpy().copy()
    for _ in range(steps):  # plain gradient descent on the cross-entropy, in numpy: no optimiser to import
        logits = hidden @ weight.T + bias
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
        proba[np.arange(len(targets)), targets] -= 1.0
        proba /= len(targets)
        weight -= lr * proba.T @ hidden
        bias -= lr * proba.sum(axis=0)
    state = net.state_dict()
    state.update({"head.3.weight": torch.from_numpy(weight).float(), "head.3.bias": torch.from_numpy(bias).float()})
    return {k: v.detach().clone() for k, v in state.items()}


def static_confident_model() -> TorchModel:
    """The digits CNN with its last layer retrained on training data where a pipeline bug labelled
    400 scans of static and blank pages '0': still about 97% accurate and calibrated on digits (ECE
    about 0.03), but about 99% sure that uniform noise, a flat image or a patch of a photo is a '0':
    fails the calibration[garbage-*] ceilings of the example (0.85)."""
    net = load_model()
    net.load_state_dict(_static_head_state())
    return TorchModel(net.eval(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="static-confident")


def degraded_model() -> TorchModel:
    """The next version of the digits CNN, worse in every way: the example's weights with seeded
    Gaussian noise of 0.4 times each tensor's spread. Still called 'digits', as a retrained model
    would be, so that a baseline comparison pairs it with the example's CNN: about 91% accurate (the
    CNN 98%), and less robust and worse calibrated: fails a baseline comparison at a few points'
    tolerance."""
    net = load_model()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.4 * parameter.std())
    return TorchModel(net.eval(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="digits")


class RoundsInput(nn.Module):
    """Quantises its input to 16 levels before the network: a gradient-masking 'defence'."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.round(x * 16) / 16)


def rounding_model() -> TorchModel:
    """The digits CNN behind input rounding to multiples of 1/16 (the digits' own pixel grid, so its
    clean accuracy is the CNN's 97.8%): the gradient is zero everywhere, so PGD cannot move and
    reports robust accuracy equal to clean accuracy, while Square, which needs no gradients, breaks
    it. The attack checks flag it as gradient masking (zero gradients; black box beats white box)."""
    net = RoundsInput(load_model()).eval()
    return TorchModel(net, input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="rounding")


class NoisyInference(nn.Module):
    """Adds fresh Gaussian noise to every input: a randomised 'defence' whose outputs change per call."""

    def __init__(self, net: nn.Module, sigma: float) -> None:
        super().__init__()
        self.net, self.sigma = net, sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x + self.sigma * torch.randn_like(x))


def randomized_model() -> TorchModel:
    """The digits CNN with Gaussian noise (sigma 0.5 in normalised units) added at inference: its
    outputs change between identical calls, which the attack checks flag."""
    net = NoisyInference(load_model(), 0.5).eval()
    return TorchModel(net, input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="randomized")


def adversarial_model() -> TorchModel:
    """The digits CNN trained adversarially (PGD, eps 0.1 in L-inf; ``train.py --adversarial``):
    passes a PGD floor at eps 0.1 that the plain CNN fails."""
    return TorchModel(
        load_model(DIGITS / "weights_adv.pt"), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="digits-adv"
    )


@cache
def photo_patches(n: int = 240) -> np.ndarray:
    """Out-of-domain data for digits: ``(n, 1, 8, 8)`` gray patches of scikit-image's sample photos
    (camera, coins, moon, text, grass, brick) in [0, 1]. The example CNN's mean top-class
    probability on them is about 0.58; static_confident_model's about 0.98."""
    from skimage import data as photos
    from skimage.transform import resize

    rng = np.random.default_rng(0)
    patches = []
    for name in ("camera", "coins", "moon", "text", "grass", "brick"):
        image = getattr(photos, name)().astype(np.float32) / 255
        for _ in range(n // 6):
            size = int(rng.integers(24, 128))
            r, c = rng.integers(0, image.shape[0] - size), rng.integers(0, image.shape[1] - size)
            patches.append(resize(image[r : r + size, c : c + size], (8, 8), anti_aliasing=True))
    return np.array(patches, np.float32)[:, None]


# -- production readiness (resources, determinism, drift, gate) ---------------------------------------
class KeepsRequestOnSelf(nn.Module):
    """Keeps the current request on ``self`` for an explanation endpoint to read later, writes it to an
    audit log (a blocking call of about a millisecond, which releases the GIL), then runs the network
    on ``self.request``. A request arriving from another thread meanwhile replaces ``self.request``:
    concurrent requests get each other's predictions. Serial calls are exact."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def audit_log(self, x: torch.Tensor) -> None:
        import time

        time.sleep(0.001)  # stands for the write to the audit service

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.request = x
        self.audit_log(self.request)
        return self.net(self.request)


def thread_unsafe_model() -> TorchModel:
    """The digits CNN behind :class:`KeepsRequestOnSelf`: fails determinism[threads] and no other check."""
    return TorchModel(
        KeepsRequestOnSelf(load_model()), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="thread-unsafe"
    )


class BatchStatisticsInput(nn.Module):
    """Normalises its input with ``BatchNorm2d(track_running_stats=False)`` instead of fixed statistics:
    such a layer uses the statistics of the batch even in eval mode, as batch norm left in train mode
    does. On a large batch they are close to the training set's, so accuracy looks fine; a sample's
    prediction depends on the rest of its batch."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(1, affine=False, track_running_stats=False)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(x))


def batch_dependent_model() -> TorchModel:
    """The digits CNN after :class:`BatchStatisticsInput`: fails determinism[batch] and no other check."""
    return TorchModel(BatchStatisticsInput(load_model()), input_shape=(1, 8, 8), class_names=CLASS_NAMES, name="batch-dependent")


class SensorOffset(nn.Module):
    """Takes inputs with a sensor offset of 1000 counts and removes it with a 1x1 convolution (weight 1,
    bias -1000). Exact in float32; in bfloat16, with 8 bits of mantissa, ``x + 1000`` keeps nothing of
    ``x`` in [0, 1] and the network sees noise. Dynamic int8 quantisation leaves convolutions in
    float32, and tracing or exporting changes nothing."""

    def __init__(self, net: nn.Module, offset: float = 1000.0) -> None:
        super().__init__()
        self.offset = offset
        self.remove = nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            self.remove.weight.fill_(1.0)
            self.remove.bias.fill_(-offset)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.remove(x + self.offset))


def bfloat16_fragile_model() -> TorchModel:
    """The digits CNN behind :class:`SensorOffset`: fails drift[bfloat16] and no other check."""
    return TorchModel(
        SensorOffset(load_model()), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="bfloat16-fragile"
    )


class LookupTableOnFirstRequest(nn.Module):
    """Builds a lookup table of ``table_mb`` MB on its first request (and leaves it out of pickles, to
    rebuild it where it is loaded): cheap to load, but it needs that much more memory to serve."""

    def __init__(self, net: nn.Module, table_mb: int) -> None:
        super().__init__()
        self.net = net
        self.table_mb = table_mb
        self.table: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.table is None:
            self.table = torch.ones(self.table_mb * 2**20 // 4)  # written, so resident
        return self.net(x)

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "table": None}


def memory_hungry_model(table_mb: int = 512) -> TorchModel:
    """The digits CNN with a lookup table of ``table_mb`` MB built on its first request: fails
    resources[memory-inference] under a server with less memory, and no other check."""
    return TorchModel(
        LookupTableOnFirstRequest(load_model(), table_mb),
        input_shape=(1, 8, 8),
        mean=MEAN,
        std=STD,
        class_names=CLASS_NAMES,
        name="memory-hungry",
    )


# -- broken pipelines of the inputs checks: each fails one inputs[...] check, in an isolated worker --
class AbortsOnTinyImage(DigitsService):
    """Calls ``os.abort()`` on a 1x1 image, as a native resize routine might: fails inputs[odd-resolutions]
    (the worker process dies of SIGABRT; the pytest session goes on)."""

    def predict(self, data: bytes) -> np.ndarray:
        import io
        import os

        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as image:
                tiny = image.size == (1, 1)
        except Exception:  # noqa: BLE001 - undecodable files go to the parent's clean rejection
            tiny = False
        if tiny:
            os.abort()
        return super().predict(data)


def abort_on_tiny_pipeline() -> Pipeline:
    return Pipeline(AbortsOnTinyImage().predict, rejects=InvalidImage, input="image-bytes", name="abort-on-1x1")


class HangsOnEmptyFile(DigitsService):
    """Waits forever for an empty upload to "finish": fails inputs[corrupt-files] with a hang."""

    def predict(self, data: bytes) -> np.ndarray:
        import threading

        if not data:
            threading.Event().wait()
        return super().predict(data)


def hang_on_empty_pipeline() -> Pipeline:
    return Pipeline(HangsOnEmptyFile().predict, rejects=InvalidImage, input="image-bytes", name="hang-on-empty")


class AllocatesDeclaredSize(DigitsService):
    """Allocates a float canvas of the size a PNG header declares before decoding it: a decompression
    bomb declaring 60000x60000 pixels asks for 43 GB. Fails inputs[corrupt-files] on memory (run it
    isolated only: in-process it would take the machine's memory)."""

    def predict(self, data: bytes) -> np.ndarray:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
            width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
            canvas = np.ones((height, width, 3), np.float32)
            del canvas
        return super().predict(data)


def unbounded_allocation_pipeline() -> Pipeline:
    return Pipeline(AllocatesDeclaredSize().predict, rejects=InvalidImage, input="image-bytes", name="allocates-declared-size")


class IgnoresExif(DigitsService):
    """Reads the stored pixels and never applies the EXIF orientation: a phone photo stored sideways
    reaches the model sideways. Fails inputs[same-content] only (exif-2 .. exif-8)."""

    def orient(self, image):
        return image


def ignores_exif_pipeline() -> Pipeline:
    return Pipeline(IgnoresExif().predict, rejects=InvalidImage, input="image-bytes", name="ignores-exif")


class Clips16Bit(DigitsService):
    """Converts 16-bit pictures to 8-bit gray with Pillow's ``convert("L")``, which clips every value
    above 255: a 16-bit picture reaches the model almost white. Fails inputs[same-content] only
    (png-16, tiff-16)."""

    def to_gray(self, image):
        if image.mode.startswith("I;16"):
            return image.convert("L")
        return super().to_gray(image)


def clips_16bit_pipeline() -> Pipeline:
    return Pipeline(Clips16Bit().predict, rejects=InvalidImage, input="image-bytes", name="clips-16-bit")


TABULAR = ROOT / "examples" / "tabular"


def _tabular() -> tuple[object, object]:
    if str(TABULAR) not in sys.path:
        sys.path.insert(0, str(TABULAR))
    import wine_model
    import wine_service

    return wine_model, wine_service


@cache
def wine_estimator() -> object:
    wine_model, _ = _tabular()
    return wine_model.train_model()


def wine_data() -> EvalData:
    wine_model, _ = _tabular()
    x, y = wine_model.load_wine_split("test")
    return EvalData(x, y, name="wine-test")


def wine_model() -> object:
    """The tabular example's classifier (a scikit-learn pipeline on the wine table)."""
    from pytest_mlguard import SklearnModel

    wine, _ = _tabular()
    return SklearnModel(wine_estimator(), class_names=wine.CLASS_NAMES, name="wine")


def wine_pipeline() -> Pipeline:
    """The tabular example's service: validates every record."""
    wine, service = _tabular()
    x, _ = wine.load_wine_split("test")
    predict = service.WineService(wine_estimator()).predict
    return Pipeline(predict, rejects=service.InvalidRecord, input="record", examples=wine.as_records(x), name="wine-service")


def nan_on_missing_field_pipeline() -> Pipeline:
    """The tabular example's broken variant: a missing field becomes NaN and NaN probabilities come
    out: fails inputs[missing-fields]."""
    wine, service = _tabular()
    x, _ = wine.load_wine_split("test")
    predict = service.LenientWineService(wine_estimator()).predict
    return Pipeline(predict, rejects=service.InvalidRecord, input="record", examples=wine.as_records(x), name="nan-on-missing")


def positional_record_pipeline() -> Pipeline:
    """Checks that a record has exactly the 13 fields, then reads their values in the order they
    come, not by name: a record with its fields in another order gets another class. Fails
    inputs[same-content] only (reordered)."""
    wine, service = _tabular()
    x, _ = wine.load_wine_split("test")
    valid = service.WineService(wine_estimator())

    def predict(record):
        row = valid.features(record)  # the same validation as the service: every field present, a number, in range
        if set(record) != set(wine.FEATURES):
            raise service.InvalidRecord(f"unknown fields: {sorted(set(record) - set(wine.FEATURES))}")
        positional = np.asarray([[float(v) for v in record.values()]], dtype=np.float32)
        del row
        return wine_estimator().predict_proba(positional)[0]

    return Pipeline(predict, rejects=service.InvalidRecord, input="record", examples=wine.as_records(x), name="positional-fields")


# -- record models (the tabular family): the tabular example's record model, and two broken variants --------


@cache
def wine_table() -> object:
    """The tabular example's held-out split as a TableData: 13 measurements and the derived colour."""
    wine, _ = _tabular()
    return wine.held_out_table()


@cache
def _wine_forest() -> object:
    wine, _ = _tabular()
    return wine.train_record_model()


def _wine_records(predict: object, name: str) -> object:
    from pytest_mlguard import RecordModel

    wine, _ = _tabular()
    return RecordModel(predict, n_classes=3, class_names=wine.CLASS_NAMES, name=name)


def wine_record_model() -> object:
    """The tabular example's record model: imputes missing measurements, a random forest; passes every tabular check."""
    from pytest_mlguard import RecordModel

    wine, _ = _tabular()
    return RecordModel(_wine_forest(), class_names=wine.CLASS_NAMES, name="wine-records")


def crashes_on_missing_model() -> object:
    """The record model behind hand-written feature code that reads magnesium (mg/l) as an int: a
    missing magnesium (NaN) raises ValueError. Fails tabular[missing] only."""

    def predict(frame):
        frame = frame.copy()
        frame["magnesium"] = [int(value) for value in frame["magnesium"]]  # cannot convert float NaN to integer
        return _wine_forest().predict_proba(frame)

    return _wine_records(predict, "crashes-on-missing")


def unit_dependent_model() -> object:
    """The record model with a rule in milligrams: a proline above 10000 mg/l (six times the largest
    seen) is taken for a lab's code of the first cultivar. Proline in micrograms (x100, the upstream unit
    bug) turns every prediction into cultivar_0: fails tabular[scale_up-3] only."""

    def predict(frame):
        proba = _wine_forest().predict_proba(frame)
        coded = frame["proline"].to_numpy(dtype=float) > 10_000
        proba[coded] = np.eye(3)[0]
        return proba

    return _wine_records(predict, "unit-dependent")


def _wine_features(means: np.ndarray, stds: np.ndarray, frame: object) -> np.ndarray:
    """The torch record model's preprocessing: the 13 measurements standardised, the colour one-hot."""
    wine, _ = _tabular()
    measurements = (frame[list(wine.FEATURES)].to_numpy(dtype=np.float64) - means) / stds  # type: ignore[index]
    colour = np.stack([(frame["colour"] == c).to_numpy(dtype=np.float64) for c in wine.COLOURS], axis=1)  # type: ignore[index]
    return np.concatenate([measurements, colour], axis=1).astype(np.float32)


@cache
def wine_torch_record_model() -> object:
    """A torch MLP over the wine table's standardised measurements and one-hot colour (a RecordModel with
    its preprocess), trained in a second: affine in every measurement, so tabular[pgd-<eps>] applies."""
    from functools import partial

    from pytest_mlguard import RecordModel

    wine, _ = _tabular()
    frame, y = wine.load_wine_table("train")
    values = frame[list(wine.FEATURES)].to_numpy(dtype=np.float64)
    preprocess = partial(_wine_features, values.mean(axis=0), values.std(axis=0))
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3))
    optimiser = torch.optim.Adam(net.parameters(), lr=0.01)
    x, target = torch.as_tensor(preprocess(frame)), torch.as_tensor(y)
    for _ in range(300):
        optimiser.zero_grad()
        nn.functional.cross_entropy(net(x), target).backward()
        optimiser.step()
    return RecordModel(net.eval(), preprocess=preprocess, n_classes=3, class_names=wine.CLASS_NAMES, output="logits", name="wine-torch")


class FineEdges(nn.Module):
    """A linear classifier over the second Laplacian of the image: it reads only the finest detail."""

    def __init__(self) -> None:
        super().__init__()
        laplacian = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])
        self.register_buffer("kernel", laplacian[None, None])
        self.linear = nn.Linear(64, 10)

    def edges(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(2):
            x = nn.functional.conv2d(x, self.kernel, padding=1)
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.edges(x))


@cache
def _fine_edges_state(steps: int = 300) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    net = FineEdges()
    train = digits("train")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add contention on a busy machine
    try:
        with torch.no_grad():  # the filter is fixed: its outputs are computed once
            features = net.edges(torch.from_numpy(train.x))
        labels = torch.from_numpy(train.y)
        optimizer = torch.optim.Adam(net.linear.parameters(), lr=0.02)
        for _ in range(steps):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net.linear(features), labels).backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def fine_edges_model() -> TorchModel:
    """Reads only the finest edges of a digit: about 92% accurate on clean digits, but JPEG at
    quality 10 smooths those edges away (about 67%, under 0.8*clean, where the example CNN keeps
    94%): fails inputs[compression]."""
    net = FineEdges()
    net.load_state_dict(_fine_edges_state())
    return TorchModel(net.eval(), input_shape=(1, 8, 8), n_classes=10, name="fine-edges")


def random_proba(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of ``n`` samples over ``k`` classes from random logits at a random scale, and
    labels that agree with the top class 70% of the time: inputs for comparing metrics."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * rng.uniform(0.5, 4)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.where(rng.random(n) < 0.7, proba.argmax(axis=1), rng.integers(0, k, n))
    return proba, labels


class PeriodicInput(nn.Module):
    """Adds ``amplitude * sin(16 pi x)`` to its input: zero on the digits' 1/16 grid, so clean inputs
    pass unchanged, but the gradient flips sign from pixel to pixel (shattered gradients)."""

    def __init__(self, net: nn.Module, amplitude: float) -> None:
        super().__init__()
        self.net, self.amplitude = net, amplitude

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x + self.amplitude * torch.sin(16 * torch.pi * x))


def shattered_model() -> TorchModel:
    """The digits CNN behind a periodic input encoding (Athalye et al., 2018, "shattered gradients"):
    clean accuracy about the CNN's, but its gradients mislead PGD, whose robust accuracy then rises with
    epsilon (0.86 at eps 1/64, 0.97 at 3/32 on 120 samples): the attack sweep flags it."""
    net = PeriodicInput(load_model(), 0.2).eval()
    return TorchModel(net, input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="shattered")


# -- broken model output (docs/model-contract.md, "Model output") ---------------------------------------
class NanOnBright(nn.Module):
    """Returns NaN logits for the brightest images (an overflow in a custom layer, say): those whose
    normalised pixels sum above ``threshold``, about 5% of the digits. The other outputs are the
    CNN's, so accuracy on the rest stays high."""

    def __init__(self, net: nn.Module, threshold: float = 10.0) -> None:
        super().__init__()
        self.net, self.threshold = net, threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        bright = x.flatten(1).sum(dim=1) > self.threshold
        return torch.where(bright[:, None], torch.full_like(logits, float("nan")), logits)


def nan_model() -> TorchModel:
    """The digits CNN behind :class:`NanOnBright`: NaN probabilities for a few samples. Fails every
    check that predicts on the evaluation data, naming how many samples and which."""
    net = NanOnBright(load_model()).eval()
    return TorchModel(net, input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="nan-on-bright")


class NanOffTheGrid(NanOnBright):
    """Returns NaN logits for an input off the digits' own 1/16 pixel grid whose nearest image on the grid
    is one of :class:`NanOnBright`'s brightest: finite on every digit, NaN on the adversarial examples of
    the bright ones (an attack under 1/32 moves them off the grid, and rounding brings them back)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        grid = torch.round((x * STD + MEAN) * 16)
        off = ((x * STD + MEAN) * 16 - grid).abs().flatten(1).amax(dim=1) > 0.01
        bright = ((grid / 16 - MEAN) / STD).flatten(1).sum(dim=1) > self.threshold
        return torch.where((off & bright)[:, None], torch.full_like(logits, float("nan")), logits)


def nan_adversarial_model() -> TorchModel:
    """The digits CNN behind :class:`NanOffTheGrid`: finite clean probabilities, NaN adversarial ones for
    the samples :func:`nan_model` returns NaN for (an attack check fails, naming them)."""
    net = NanOffTheGrid(load_model()).eval()
    return TorchModel(net, input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="nan-adversarial")


class ReturnsList(nn.Module):
    """Returns ``[logits, features]``, as a network with an auxiliary head does."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.net(x), x.flatten(1)]


def list_model() -> TorchModel:
    """The digits CNN behind :class:`ReturnsList`: a malformed output, a contract error at the first call."""
    return TorchModel(ReturnsList(load_model()).eval(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="returns-list")


class ExportsAuxiliaryHead(nn.Module):
    """Returns the logits when run eagerly, but ``(logits, features)`` when traced for deployment, as a
    network whose export path keeps an auxiliary head does."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(x)
        return (logits, x.flatten(1)) if torch.jit.is_tracing() else logits


def traced_tuple_model() -> TorchModel:
    """The digits CNN behind :class:`ExportsAuxiliaryHead`: well-formed eagerly, a malformed output as
    ``drift[torchscript]`` deploys it (a contract error naming ``mlguard_model`` as deployed)."""
    net = ExportsAuxiliaryHead(load_model()).eval()
    return TorchModel(net, input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="traced-tuple")


class FixedBatch(nn.Module):
    """Compiled for a static batch of ``size``: pads or cuts every input to that many samples and
    returns ``size`` rows, whatever the batch it was given."""

    def __init__(self, net: nn.Module, size: int = 16) -> None:
        super().__init__()
        self.net, self.size = net, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = torch.zeros((self.size, *x.shape[1:]), dtype=x.dtype, device=x.device)
        padded[: min(len(x), self.size)] = x[: self.size]
        return self.net(padded)


def wrong_batch_model() -> TorchModel:
    """The digits CNN behind :class:`FixedBatch`: outputs of the wrong batch size, a contract error at the first call."""
    return TorchModel(FixedBatch(load_model()).eval(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="fixed-batch")


# -- the model as deployed: train mode, and image sizes other than the declared one -----------------------
class InputBatchNorm(nn.Module):
    """Standardises its input with ``BatchNorm2d`` whose running statistics are the training set's (mean
    0.3054, std 0.3761): in eval mode exactly the example's normalisation; in train mode each batch's own
    statistics, and every call overwrites the running ones."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(1, affine=False)
        with torch.no_grad():
            self.norm.running_mean.fill_(MEAN)
            self.norm.running_var.fill_(STD**2)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(x))


def train_mode_model() -> TorchModel:
    """The digits CNN behind :class:`InputBatchNorm`, left in train mode as a training loop leaves it (no
    ``.eval()`` before serving): a sample's prediction then depends on the rest of its batch. Fails
    contract[eval-mode] and determinism[batch] (in the mode it was given), and no other check."""
    return TorchModel(InputBatchNorm(load_model()).train(), input_shape=(1, 8, 8), class_names=CLASS_NAMES, name="train-mode")


class AdaptiveDigitsCNN(nn.Module):
    """The example's CNN with adaptive average pooling before its head: it takes images of any size, and
    at 8x8 it is the example's CNN exactly (the pooling of a 4x4 map to 4x4 is the identity)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv1, _, conv2, _, _ = self.net.features
        x = torch.relu(conv2(torch.relu(conv1(x))))
        x = nn.functional.max_pool2d(x, 2, ceil_mode=True)  # ceil_mode: a 1x1 image still has a 1x1 map
        return self.net.head(nn.functional.adaptive_avg_pool2d(x, 4))


def adaptive_model() -> TorchModel:
    """The digits CNN with adaptive pooling (:class:`AdaptiveDigitsCNN`): takes any size; passes every check."""
    return TorchModel(
        AdaptiveDigitsCNN(load_model()).eval(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="adaptive"
    )


class PadsOddSizesWithNaN(nn.Module):
    """Pads an odd height or width to an even one with NaN, a 'missing pixel' marker, then removes the
    marker by multiplying with a mask of the real pixels: ``NaN * 0`` is NaN, not 0, and adaptive pooling
    spreads it over every output. Even sizes, the declared 8x8 included, are exact."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        padded = nn.functional.pad(x, (0, width % 2, 0, height % 2), value=float("nan"))
        return self.net(padded * ~torch.isnan(padded))


def odd_size_nan_model() -> TorchModel:
    """The adaptive digits CNN behind :class:`PadsOddSizesWithNaN`: NaN for any odd image size. Fails
    contract[input-sizes] and no other check; its service (:func:`odd_size_nan_pipeline`) always resizes
    to 8x8, so the inputs checks pass."""
    return TorchModel(
        PadsOddSizesWithNaN(AdaptiveDigitsCNN(load_model())),
        input_shape=(1, 8, 8),
        mean=MEAN,
        std=STD,
        class_names=CLASS_NAMES,
        name="odd-size-nan",
    )


def odd_size_nan_pipeline() -> Pipeline:
    """The example's service around :func:`odd_size_nan_model`'s network: it resizes every upload to 8x8."""
    service = DigitsService(odd_size_nan_model().module)
    return Pipeline(service.predict, rejects=InvalidImage, input="image-bytes", name="odd-size-nan-service")


class CropsToDeclaredSize(nn.Module):
    """Fits any image to the 8x8 the network was trained on by padding a small one and cropping a large
    one to its top-left corner, instead of resizing: exact at 8x8, valid at every size, but a picture sent
    at twice the size is read from its top-left quarter."""

    def __init__(self, net: nn.Module, size: int = 8) -> None:
        super().__init__()
        self.net, self.size = net, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        x = nn.functional.pad(x, (0, max(0, self.size - width), 0, max(0, self.size - height)))
        return self.net(x[..., : self.size, : self.size])


def crops_to_size_model() -> TorchModel:
    """The digits CNN behind :class:`CropsToDeclaredSize`: a valid but different class for a picture at
    another size. Fails contract[resized-copies] and no other check."""
    return TorchModel(
        CropsToDeclaredSize(load_model()).eval(),
        input_shape=(1, 8, 8),
        mean=MEAN,
        std=STD,
        class_names=CLASS_NAMES,
        name="crops-to-size",
    )


def _wine_feature_paths(online: str, name: str) -> object:
    wine, _ = _tabular()
    import wine_features

    x, _ = wine.load_wine_split("test")
    return wine_features.feature_paths(wine_estimator(), wine.as_records(x), online=getattr(wine_features, online), name=name)


def wine_feature_paths() -> object:
    """The tabular example's offline (pandas, batch) and online (per record) feature paths: they agree."""
    return _wine_feature_paths("online_features", "wine-features")


def variance_skewed_feature_paths() -> object:
    """The online path standardises with the variance instead of the standard deviation: fails
    skew[features] and skew[predictions]."""
    return _wine_feature_paths("online_features_variance", "wine-features-variance")


def regions_data(n: int = 1200, seed: int = 0) -> object:
    """A table of two numeric columns and a region (north 45%, south 40%, east 15%); the label follows
    x1 + x2 with the noise of the models' own probabilities (so that they are calibrated)."""
    from pytest_mlguard.contract import TableData

    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    region = rng.choice(np.array(["north", "south", "east"], dtype=object), size=n, p=[0.45, 0.40, 0.15])
    y = (rng.random(n) < 1 / (1 + np.exp(-10 * (x1 + x2)))).astype(np.int64)
    return TableData({"x1": x1, "x2": x2, "region": region}, y, name="regions")


def _regions_proba(frame: object, poor: str | None) -> np.ndarray:
    score = frame["x1"].to_numpy(dtype=float) + frame["x2"].to_numpy(dtype=float)  # type: ignore[index]
    p = 1 / (1 + np.exp(-10 * score))
    proba = np.stack([1 - p, p], axis=1)
    if poor is not None:
        proba[frame["region"].to_numpy() == poor] = 0.5  # type: ignore[index]  # knows nothing there: class 0 for every row
    return proba


def regions_model() -> object:
    """A record model of regions_data, as good in every region: passes slices[accuracy]."""
    from functools import partial

    from pytest_mlguard.contract import RecordModel

    return RecordModel(partial(_regions_proba, poor=None), n_classes=2, input="dataframe", name="regions")


def poor_on_east_model() -> object:
    """The same model, but it answers 0.5/0.5 for region 'east' (15% of rows): about chance there, good
    elsewhere and calibrated: fails slices[accuracy] only."""
    from functools import partial

    from pytest_mlguard.contract import RecordModel

    return RecordModel(partial(_regions_proba, poor="east"), n_classes=2, input="dataframe", name="poor-on-east")


# -- segmentation ---------------------------------------------------------------------------------------
SEGMENTATION = ROOT / "examples" / "segmentation"


@cache
def _segmenter_module():
    """examples/segmentation/segmenter.py, imported by its path (the digits example's ``model`` holds sys.path's name)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("segmenter", SEGMENTATION / "segmenter.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("segmenter", module)
    spec.loader.exec_module(module)
    return module


def segmentation_data():
    """The segmentation example's test data."""
    return segmentation_example()[1]


@cache
def segmentation_example():
    """The segmentation example's model and test data, as its conftest.py declares them."""
    from pytest_mlguard.contract import SegmentationData, TorchSegmentationModel

    shapes = _segmenter_module()
    model = TorchSegmentationModel(shapes.load_model(), input_shape=(3, shapes.SIZE, shapes.SIZE), class_names=shapes.CLASS_NAMES, name="shapes")
    x, y = shapes.scenes(200, seed=1)
    return model, SegmentationData(x, y, ignore_index=shapes.VOID, name="shapes-test")


class CollapsesUnderNoise(nn.Module):
    """The segmentation example's network, except that on an image whose neighbouring pixels differ by
    more than a clean scene's ever do (noise) it calls every pixel background: its clean mIoU, attacks
    (whose small epsilons stay below the threshold) and calibration are the example's; it fails the
    noise corruption checks."""

    ROUGHNESS = 0.11  # the mean |difference| of horizontal neighbours: every test scene stays below (at most 0.108)

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        rough = (x[..., 1:] - x[..., :-1]).abs().mean(dim=(1, 2, 3))
        collapsed = (rough > self.ROUGHNESS).to(logits.dtype).detach().view(-1, 1, 1, 1)
        background = torch.zeros_like(logits)
        background[:, 0] = 10.0
        return logits * (1 - collapsed) + background * collapsed


def noise_collapsing_segmenter():
    """:class:`CollapsesUnderNoise`; as a candidate against the example's segmenter, fails gate[robustness] only
    (the same clean masks: gate[agreement] 1.0, no class drop; its mIoU under noise regresses)."""
    from pytest_mlguard.contract import TorchSegmentationModel

    shapes = _segmenter_module()
    net = CollapsesUnderNoise(shapes.load_model()).eval()
    return TorchSegmentationModel(net, input_shape=(3, shapes.SIZE, shapes.SIZE), class_names=shapes.CLASS_NAMES, name="collapses-under-noise")


# -- segmentation: the inputs and production checks (determinism, drift) --------------------------------
class BatchStatisticsSegmenter(nn.Module):
    """The segmentation example's network after ``BatchNorm2d(track_running_stats=False)`` rescaled to the
    example's input range: the statistics of each batch, even in eval mode. A scene's mask depends on the
    rest of its batch; repeated calls and concurrent requests of the same batches agree."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((self.norm(x) * 0.25 + 0.5).clamp(0.0, 1.0))


def batch_dependent_segmenter():
    """The segmentation example behind :class:`BatchStatisticsSegmenter`: fails determinism[batch] and no
    other determinism or drift check."""
    from pytest_mlguard.contract import TorchSegmentationModel

    shapes = _segmenter_module()
    net = BatchStatisticsSegmenter(shapes.load_model()).eval()
    return TorchSegmentationModel(net, input_shape=(3, shapes.SIZE, shapes.SIZE), class_names=shapes.CLASS_NAMES, name="batch-dependent")


class OffsetSegmenter(nn.Module):
    """:class:`SensorOffset` for the segmentation example: inputs with an offset of 1000 counts, removed by
    a 1x1 convolution. Exact in float32; in bfloat16 ``x + 1000`` keeps nothing of ``x`` in [0, 1]."""

    def __init__(self, net: nn.Module, offset: float = 1000.0) -> None:
        super().__init__()
        self.offset = offset
        self.remove = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.remove.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.remove.bias.fill_(-offset)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.remove(x + self.offset))


def bfloat16_fragile_segmenter():
    """The segmentation example behind :class:`OffsetSegmenter`: fails drift[bfloat16] and no other
    determinism or drift check."""
    from pytest_mlguard.contract import TorchSegmentationModel

    shapes = _segmenter_module()
    net = OffsetSegmenter(shapes.load_model()).eval()
    return TorchSegmentationModel(net, input_shape=(3, shapes.SIZE, shapes.SIZE), class_names=shapes.CLASS_NAMES, name="bfloat16-fragile")


def _segmentation_service():
    """examples/segmentation/segmentation_service.py (after the segmenter, which it imports by name)."""
    _segmenter_module()
    if str(SEGMENTATION) not in sys.path:
        sys.path.insert(0, str(SEGMENTATION))
    import segmentation_service

    return segmentation_service


def segmentation_pipeline():
    """The segmentation example's service, as its conftest.py declares it: passes the inputs checks."""
    service = _segmentation_service()
    return Pipeline(service.SegmentationService().predict, rejects=service.InvalidImage, input="image-bytes", name="segmentation-service")


class IgnoresExifSegmentation:
    """The segmentation example's service, reading the stored pixels and not the EXIF orientation: a phone
    photo stored sideways gets the mask of the sideways picture. Fails inputs[same-content] (its EXIF
    encodings) only: any file it reads still gets a mask of the right shape."""

    def __init__(self) -> None:
        self.service = _segmentation_service()
        self.model = self.service.load_model()

    def predict(self, data: bytes) -> np.ndarray:
        x = torch.from_numpy(self.service.read_rgb(data, self.service.SIZE, orient=False))[None]
        with torch.inference_mode():
            return torch.softmax(self.model(x), dim=1)[0].numpy()


def ignores_exif_segmentation_pipeline():
    return Pipeline(IgnoresExifSegmentation().predict, rejects=_segmentation_service().InvalidImage, input="image-bytes", name="ignores-exif")


class NeverTriangles(nn.Module):
    """The segmentation example's network with the triangle's score pushed down: a retrained candidate that
    lost a class. Its triangles' pixels go to other classes; every other pixel keeps its class."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        return torch.cat([logits[:, :3], logits[:, 3:] - 100.0], dim=1)


def never_triangles_segmenter():
    """A candidate that never predicts triangles: against the example's segmenter as the baseline, fails
    gate[accuracy] (the triangle's IoU falls to 0) and, at its default floor, not gate[agreement]."""
    from pytest_mlguard.contract import TorchSegmentationModel

    shapes = _segmenter_module()
    net = NeverTriangles(shapes.load_model()).eval()
    return TorchSegmentationModel(net, input_shape=(3, shapes.SIZE, shapes.SIZE), class_names=shapes.CLASS_NAMES, name="never-triangles")
