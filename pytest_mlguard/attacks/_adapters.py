"""The user's model as an ART estimator, with a query log that counts, caches and watches gradients.

* a :class:`~pytest_mlguard.contract.TorchModel` goes through :class:`MlguardPyTorchClassifier`, a
  thin subclass of ART's ``PyTorchClassifier`` over the module with its normalisation folded in, on
  the configured device, with the parameters frozen while an attack runs (ART would otherwise
  compute every weight's gradient) and without ART's identity ``(0, 1)`` standardisation;
* a :class:`~pytest_mlguard.contract.CallableModel` (a black box) goes through ART's
  ``BlackBoxClassifierNeuralNetwork`` (the black-box classifier Square accepts): only the black-box
  attacks apply;
* a :class:`~pytest_mlguard.contract.SklearnModel` goes through ART's scikit-learn wrapper.

Why a subclass: ART's attacks predict the same inputs again and again (PGD and HopSkipJump compute
their success rate on the clean and adversarial inputs after the attack, Square predicts every
sample at every iteration, robust and broken alike, then predicts the robust ones twice more for its
loss). :meth:`QueryLog.predict` remembers the output of every input row it has seen in the running
check, by content, so each distinct input reaches the model once per check, and the counts it keeps
are the real model evaluations.
``benchmarks/bench_attacks.py`` measures the effect.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..contract._model import CallableModel, Model, SklearnModel, TorchModel
from ..contract._output import non_finite_rows
from ..errors import NonFiniteOutput, NotApplicable
from ._art import import_art, place_estimator


import_art()

from art.estimators.classification import BlackBoxClassifierNeuralNetwork, PyTorchClassifier  # noqa: E402


class QueryLog:
    """Counts model evaluations, caches outputs by input content, and keeps gradient statistics.

    Attributes:
        evaluations: input rows the model actually evaluated (forward passes, without gradients).
        requested: input rows asked for (evaluated or answered from the cache).
        gradient_rows: input rows of loss or class gradients (each a forward and a backward pass).
        zero_gradient_rows: of those, rows whose gradient is exactly zero everywhere.
        nonfinite_gradient_rows: rows whose gradient holds NaN or inf.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._cache: dict[bytes, np.ndarray] = {}
        self._pending: list[Any] = []  # per-row largest |gradient| of recent calls, reduced lazily
        self.evaluations = 0
        self.requested = 0
        self._gradient_rows = 0
        self._zero_gradient_rows = 0
        self._nonfinite_gradient_rows = 0

    def _reduce(self) -> None:
        for largest in self._pending:
            values = largest.cpu().numpy() if hasattr(largest, "cpu") else largest
            self._gradient_rows += len(values)
            self._nonfinite_gradient_rows += int((~np.isfinite(values)).sum())
            self._zero_gradient_rows += int((values == 0).sum())
        self._pending.clear()

    @property
    def gradient_rows(self) -> int:
        self._reduce()
        return self._gradient_rows

    @property
    def zero_gradient_rows(self) -> int:
        self._reduce()
        return self._zero_gradient_rows

    @property
    def nonfinite_gradient_rows(self) -> int:
        self._reduce()
        return self._nonfinite_gradient_rows

    def snapshot(self) -> dict[str, int]:
        return {
            "evaluations": self.evaluations,
            "requested": self.requested,
            "gradient_rows": self.gradient_rows,
            "zero_gradient_rows": self.zero_gradient_rows,
            "nonfinite_gradient_rows": self.nonfinite_gradient_rows,
        }

    def since(self, before: dict[str, int]) -> dict[str, int]:
        return {key: value - before[key] for key, value in self.snapshot().items()}

    def predict(self, x: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``compute(x)``, evaluating only the rows not seen before (by dtype, shape and bytes)."""
        x = np.ascontiguousarray(x)
        n = len(x)
        self.requested += n
        if n == 0:
            return compute(x)
        prefix = f"{x.dtype.str}{x.shape[1:]}".encode()
        if x[0].nbytes <= 4096:  # small rows are their own keys; large ones go by a 128-bit digest
            keys = [prefix + row.tobytes() for row in x]
        else:
            keys = [hashlib.blake2b(prefix + row.tobytes(), digest_size=16).digest() for row in x]
        missing: dict[bytes, int] = {}
        for index, key in enumerate(keys):
            if key not in self._cache and key not in missing:
                missing[key] = index
        if not missing:
            return np.stack([self._cache[key] for key in keys])
        rows = list(missing.values())
        outputs = np.asarray(compute(x[rows] if len(rows) < n else x))
        self.evaluations += len(rows)
        if len(self._cache) + len(rows) > self.max_entries:
            self._cache.clear()
        fresh = dict(zip(missing, outputs))
        self._cache.update(fresh)
        if len(rows) == n:
            return outputs
        return np.stack([fresh[key] if key in fresh else self._cache[key] for key in keys])

    def forget(self) -> None:
        """Forget the outputs seen so far (the counts stay): each check starts with an empty cache, so
        that the evaluations it reports do not depend on which checks ran before it in the same
        process (serially, or on an xdist worker)."""
        self._cache.clear()

    @contextlib.contextmanager
    def scoped(self, cache: dict[bytes, np.ndarray]) -> Iterator[None]:
        """Remember outputs in ``cache`` meanwhile, and find only its outputs there: a chunk of an attack
        (:mod:`._chunks`) computes the same whatever other chunks ran before it in this process."""
        kept, self._cache = self._cache, cache
        try:
            yield
        finally:
            self._cache = kept

    def gradients(self, grads: Any) -> None:
        """Record a batch of input gradients (a tensor or an array) for the per-row statistics.

        One reduction per call, without waiting for the device: the largest absolute value of a row
        is 0 for an all-zero row, and NaN or inf for a row holding a NaN or an inf.
        """
        if hasattr(grads, "detach"):
            import torch

            self._pending.append(torch.linalg.vector_norm(grads.detach().reshape(len(grads), -1), float("inf"), dim=1))
        else:
            self._pending.append(np.abs(np.asarray(grads).reshape(len(grads), -1)).max(axis=1))


class MlguardPyTorchClassifier(PyTorchClassifier):
    """ART's ``PyTorchClassifier`` whose predictions go through a :class:`QueryLog` and whose
    gradients are watched. Everything else is ART's."""

    def __init__(self, *args: Any, log: QueryLog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log = log

    def predict(self, x: np.ndarray, batch_size: int = 128, training_mode: bool = False, **kwargs: Any) -> np.ndarray:
        if training_mode or kwargs:
            return super().predict(x, batch_size=batch_size, training_mode=training_mode, **kwargs)
        return self.log.predict(x, lambda rows: self._forward(rows, batch_size))

    def _forward(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """Logits of ``x`` in batches, without ART's per-sample ``DataLoader``."""
        import torch

        parts = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size])).to(self._device)
                parts.append(self._model(batch)[-1].detach().float().cpu().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self.nb_classes), np.float32)

    def loss_gradient(self, x: Any, y: Any, training_mode: bool = False, **kwargs: Any) -> Any:
        """ART's loss gradient, computed with ``torch.autograd.grad`` for the input alone.

        ART's version sets the train/eval mode of every submodule, clears every parameter's gradient
        and back-propagates into the parameters at each call; the model is in eval mode already
        (``TorchModel.running``), so this one does neither and leaves no ``.grad`` behind. Training
        mode, recurrent models and numpy-side preprocessing go to ART's version.
        """
        import torch

        if training_mode or kwargs or self.is_rnn or not self.all_framework_preprocessing:
            grads = super().loss_gradient(x, y, training_mode=training_mode, **kwargs)
            self.log.gradients(grads)
            return grads
        if self._model.training:
            self._model.eval()
        tensor = isinstance(x, torch.Tensor)
        # a detached view is enough: autograd never writes into its input (ART clones it)
        x_grad = (x.detach() if tensor else torch.from_numpy(np.array(x))).to(self._device).requires_grad_(True)
        y_t = (y.detach() if isinstance(y, torch.Tensor) else torch.from_numpy(np.asarray(y))).to(self._device)
        inputs, labels = self._apply_preprocessing(x_grad, y=y_t, fit=False, no_grad=False)
        loss = self._loss(self._model(inputs)[-1], self.reduce_labels(labels))
        (grad,) = torch.autograd.grad(loss, x_grad)
        grads = grad if tensor else grad.cpu().numpy()
        self.log.gradients(grad)
        return grads

    def class_gradient(self, x: Any, label: Any = None, training_mode: bool = False, **kwargs: Any) -> Any:
        grads = super().class_gradient(x, label=label, training_mode=training_mode, **kwargs)
        # (N, classes, *input) -> one row per sample and class
        self.log.gradients(np.asarray(grads).reshape(-1, *np.shape(grads)[2:]))
        return grads


class Adapter:
    """One model as an ART estimator, shared by the attack checks of an evaluation.

    Args:
        model: the model adapter.
        batch_size: batch size of predictions.

    Attributes:
        estimator: the ART estimator.
        log: its :class:`QueryLog`.
        gradients: whether gradient attacks apply.
        outputs: what the estimator's ``predict`` returns: ``"logits"`` (or log-probabilities, the same
            after a softmax) or ``"probabilities"``.
        flat: whether samples are flattened for the estimator (scikit-learn).
    """

    def __init__(self, model: Model, batch_size: int = 128) -> None:
        self.model = model
        self.batch_size = batch_size
        self.log = QueryLog()
        self.flat = False
        if isinstance(model, TorchModel):
            self.estimator = _torch_estimator(model, self.log)
            self.gradients, self.outputs = True, "logits"
        elif isinstance(model, SklearnModel):
            from art.estimators.classification import SklearnClassifier

            self.estimator = SklearnClassifier(model=model.estimator, clip_values=model.value_range)
            self.flat = True
            self.gradients = hasattr(self.estimator, "loss_gradient")
            self.outputs = "probabilities"
            if self.gradients:
                _watch_gradients(self.estimator, self.log)
            _cache_predictions(self.estimator, self.log)
        elif isinstance(model, CallableModel) or getattr(model, "no_gradients", None):  # a black box, or an OnnxModel
            self.estimator = BlackBoxClassifierNeuralNetwork(
                lambda x: self.log.predict(x, model.predict_proba),
                input_shape=model.input_shape,
                nb_classes=model.n_classes,
                clip_values=model.value_range,
                preprocessing=None,
            )
            self.gradients, self.outputs = False, "probabilities"
        else:  # pragma: no cover - a new adapter kind
            raise NotApplicable(f"no ART estimator for a {type(model).__name__}")

    def freeze(self) -> None:
        """Freeze the parameters for an attack (``TorchModel.running`` restores them afterwards)."""
        if isinstance(self.model, TorchModel):
            for parameter in self.model.module.parameters():
                parameter.requires_grad_(False)

    def to_estimator(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1) if self.flat else x

    def from_estimator(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32).reshape((len(x), *self.model.input_shape))

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of ``x`` (model input shape) through the estimator.

        Raises:
            NonFiniteOutput: some are NaN or inf (on adversarial inputs, say): the check fails.
        """
        outputs = np.asarray(self.estimator.predict(self.to_estimator(x), batch_size=self.batch_size), np.float64)
        if self.outputs == "probabilities":
            proba = outputs
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                shifted = outputs - outputs.max(axis=1, keepdims=True)
                exp = np.exp(shifted)
                proba = exp / exp.sum(axis=1, keepdims=True)
        bad = non_finite_rows(proba)
        if len(bad):  # the top class of a NaN row is class 0: it must not count as a prediction
            raise NonFiniteOutput(self.model.name, bad.tolist(), len(proba))
        return proba

    def labels(self, x: np.ndarray) -> np.ndarray:
        """Top-1 classes of ``x`` through the estimator (``NonFiniteOutput`` as :meth:`proba`)."""
        return self.proba(x).argmax(axis=1)

    def proba_of(self, x: np.ndarray, rows: np.ndarray, samples: np.ndarray | None = None, what: str = "probabilities of adversarial examples", within: int | None = None) -> np.ndarray:
        """:meth:`proba` of ``x``, rows ``rows`` of a check's samples (adversarial examples, by default):
        ``NonFiniteOutput`` names those rows, or the samples of ``mlguard_data`` they are where ``samples``
        gives them (the attack check names rows as samples: ``run._Run.measure``), and says the batch was one
        of the check's ``within`` samples where it was a look or a chunk of them."""
        try:
            return self.proba(x)
        except NonFiniteOutput as exc:
            error = NonFiniteOutput(exc.model, [int(rows[row]) for row in exc.rows], exc.total, what=what, within=within)
            raise (error if samples is None else error.located(sorted(int(samples[row]) for row in exc.rows))) from None


def make_adapter(model: Model, batch_size: int = 128) -> Adapter:
    """The :class:`Adapter` of ``model`` (call it inside ``model.running(device)`` for a torch model)."""
    return Adapter(model, batch_size)


def _torch_estimator(model: TorchModel, log: QueryLog) -> MlguardPyTorchClassifier:
    import torch

    module = model.raw_module()
    if model.output != "logits":
        module = _log_of(module, model.output)
    device = torch.device(model.active_device)
    estimator = MlguardPyTorchClassifier(
        model=module,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=model.input_shape,
        nb_classes=model.n_classes,
        clip_values=model.value_range,
        preprocessing=None,
        device_type="gpu" if device.type == "cuda" else "cpu",
        log=log,
    )
    return place_estimator(estimator, device)  # ART picks the current CUDA device; honour cuda:1 and friends


def _log_of(module: Any, output: str) -> Any:
    """Log-probabilities from a module that returns probabilities or log-probabilities."""
    import torch

    class LogOf(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.inner(x)
            return out if output == "log_probabilities" else torch.log(out.clamp_min(1e-12))

    return LogOf()


def _watch_gradients(estimator: Any, log: QueryLog) -> None:
    loss_gradient = estimator.loss_gradient

    def watched(x: Any, y: Any, **kwargs: Any) -> Any:
        grads = loss_gradient(x, y, **kwargs)
        log.gradients(grads)
        return grads

    estimator.loss_gradient = watched


def _cache_predictions(estimator: Any, log: QueryLog) -> None:
    predict = estimator.predict

    def cached(x: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        return log.predict(x, lambda rows: predict(rows, *args, **kwargs))

    estimator.predict = cached
