"""The model deployed some other way, and the ``drift`` checks' measurements.

:func:`variant_proba` gives the probabilities of a variant of the model on a batch; the checks
compare them with the float32 eager model's (:func:`pytest_mlguard.production._compare.compare_predictions`).
An agreement floor predicts look by look and stops once its verdict is decided (``verdict.early_stop``);
the predictions made are kept for the variant's other checks.

Example:
    >>> import torch
    >>> from pytest_mlguard.contract import TorchModel
    >>> model = TorchModel(torch.nn.Sequential(torch.nn.Linear(4, 3)), input_shape=(4,), n_classes=3)
    >>> variant_proba(model, "int8", np.ones((2, 4), np.float32)).shape
    (2, 3)
"""

from __future__ import annotations

import copy
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._messages import exception_text
from ...checks._base import CheckSpec, Measurement, early_stop_measurement
from ..._cores import usable_cores
from ...errors import NotApplicable
from .._compare import NotDeployable, PrefixPredictions, compare_predictions, thread_count
from .._modes import in_each_mode, in_mode

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

    from ...checks._evaluation import Evaluation
    from ...contract._model import CallableModel, Model, TorchModel


_TORCH_ONLY = ("bfloat16", "torchscript", "export", "int8")


def _deployed(model: TorchModel, module: Any, device: str) -> CallableModel:
    """``module`` (a traced, exported or quantised copy of the network) behind the model's input spec.

    A :class:`CallableModel`, since exported modules do not support ``.eval()`` (``TorchModel.running``).
    """
    import torch

    from ...contract._model import CallableModel

    def scores(batch: np.ndarray) -> Any:
        with torch.inference_mode():
            out = module(model.normalize(torch.from_numpy(np.ascontiguousarray(batch)).to(device)))
        return out.float() if isinstance(out, torch.Tensor) else out  # anything else: the contract's error names it

    return CallableModel(
        scores,
        input_shape=model.input_shape,
        n_classes=model.n_classes,
        class_names=model.class_names,
        value_range=model.value_range,
        output=model.output,
        name=model.name,
        batch_size=model.batch_size,
    )


def _example(model: TorchModel, x: np.ndarray) -> torch.Tensor:
    import torch

    batch = x[: max(2, min(len(x), 8))]
    if len(batch) < 2:
        batch = np.concatenate([batch, batch])
    return model.normalize(torch.from_numpy(np.ascontiguousarray(batch)).to(model.active_device))


def variant_model(model: TorchModel, variant: str, x: np.ndarray) -> CallableModel:
    """A copy of ``model`` deployed as ``variant`` (``torchscript``, ``export`` or ``int8``); ``x`` is
    example input for tracing. The user's module is not modified.

    Raises:
        NotDeployable: the model cannot be exported that way (the message says why).
        NotApplicable: int8 dynamic quantisation finds no layer to quantise.
    """
    import torch

    example = _example(model, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, FutureWarning, UserWarning, torch.jit.TracerWarning))
        try:
            if variant == "torchscript":
                with torch.no_grad():
                    traced = torch.jit.trace(model.module, example, check_trace=False)
                return _deployed(model, traced, model.active_device)
            if variant == "export":
                dynamic = ({0: torch.export.Dim("batch")},)
                exported = torch.export.export(model.module, (example,), dynamic_shapes=dynamic)
                return _deployed(model, exported.module(), model.active_device)
        except Exception as exc:  # any failure: the reason the model cannot be deployed that way
            raise NotDeployable(f"the model cannot be deployed with {variant}: {exception_text(exc)}") from exc
        if variant == "int8":
            try:
                from torch.ao.quantization import quantize_dynamic
            except ImportError:  # removed from torch in favour of torchao
                raise NotApplicable(
                    f"torch {torch.__version__} has no torch.ao.quantization.quantize_dynamic (now in torchao)"
                ) from None

            from ...contract._modes import set_modes

            training = {name: m.training for name, m in model.module.named_modules()}  # the mode it runs in now
            # quantize_dynamic swaps the children of the module it is given, never that module itself: held
            # in a container, a model that is one Linear (or LSTM, GRU) layer is quantised too
            holder = torch.nn.Sequential(copy.deepcopy(model.module).to("cpu"))
            quantized = quantize_dynamic(holder, dtype=torch.qint8)[0]
            set_modes(quantized, training)  # quantize_dynamic leaves the copy in eval mode
            if not any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in quantized.modules()):
                raise NotApplicable(
                    "dynamic int8 quantisation applies to Linear, LSTM and GRU layers; the model has none"
                )
            return _deployed(model, quantized, "cpu")
    raise ValueError(f"unknown variant {variant!r}")


def variant_predictor(model: Model, variant: str, x: np.ndarray, *, threads: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A function that gives the probabilities of ``model`` deployed as ``variant`` on a batch; the
    variant is built (traced, exported, quantised) once, with ``x`` as example input.

    ``threads`` (the ``threads`` variant) is the thread count; the other variants run with the
    current one.
    """
    if variant == "threads":
        count = threads or max(2, usable_cores())

        def on_threads(batch: np.ndarray) -> np.ndarray:
            with thread_count(count):
                return model.predict_proba(batch)

        return on_threads
    from ...contract._model import TorchModel

    if not isinstance(model, TorchModel):
        raise NotApplicable(f"drift[{variant}] needs a TorchModel; model {model.name!r} is a {model.kind} model")
    if variant == "export" and model.export is not None:
        return _declared_export(model.export)
    reason = getattr(model, "not_deployable", {}).get(variant)  # a compiled program (TorchScriptModel, ExportedModel)
    if reason:
        raise NotApplicable(f"drift[{variant}] does not apply to model {model.name!r}, a {model.kind} program: {reason}")
    if variant == "bfloat16":
        import torch

        def in_bfloat16(batch: np.ndarray) -> np.ndarray:
            with torch.autocast(device_type=torch.device(model.active_device).type, dtype=torch.bfloat16):
                return model.predict_proba(batch)

        return in_bfloat16
    return variant_model(model, variant, x).predict_proba


def _declared_export(export: Model) -> Callable[[np.ndarray], np.ndarray]:
    """The probabilities of the export a :class:`TorchModel` declares (``export=``), run as its own adapter runs."""

    def exported(batch: np.ndarray) -> np.ndarray:
        with export.running():
            return export.predict_proba(batch)

    return exported


def variant_proba(model: Model, variant: str, x: np.ndarray, *, threads: int | None = None) -> np.ndarray:
    """Probabilities of ``model`` deployed as ``variant`` on ``x`` (:func:`variant_predictor`)."""
    return variant_predictor(model, variant, x, threads=threads)(x)


def _variant(evaluation: Evaluation, variant: str, threads: int) -> PrefixPredictions:
    """The variant's predictions, in the mode the model runs in now (:mod:`~pytest_mlguard.production._modes`)."""
    model, x = evaluation.model, evaluation.data.x
    return evaluation.memo(
        ("drift", variant, threads, *_other_mode(evaluation)),
        lambda: PrefixPredictions(in_mode(evaluation, _named(variant_predictor(model, variant, x, threads=threads), variant)), x),
    )


def _named(predict: Callable[[np.ndarray], np.ndarray], variant: str) -> Callable[[np.ndarray], np.ndarray]:
    """``predict``, whose malformed outputs are contract errors naming the fixture and the variant:
    ``mlguard_model (deployed with torchscript): model 'x' returned a tuple ...``."""
    from ...errors import ContractError

    def named(batch: np.ndarray) -> np.ndarray:
        try:
            return predict(batch)
        except ContractError as exc:
            if exc.fixture is not None:
                raise
            raise ContractError(str(exc), fixture=f"mlguard_model (deployed with {variant})") from None

    return named


def _reference(evaluation: Evaluation, variant: str) -> PrefixPredictions:
    """What ``variant`` is compared with: the model on one thread (``threads``), else its float32 eager
    predictions: the clean ones in the mode it is served in, made already for every family."""
    model, x, other = evaluation.model, evaluation.data.x, _other_mode(evaluation)
    if variant == "threads":
        return evaluation.memo(("drift", "one-thread", *other), lambda: PrefixPredictions(in_mode(evaluation, _one_thread(model)), x))
    if not other:
        return PrefixPredictions(lambda rows: rows, evaluation.clean_proba)
    return evaluation.memo(("drift", "eager", *other), lambda: PrefixPredictions(in_mode(evaluation, model.predict_proba), x))


def _other_mode(evaluation: Evaluation) -> tuple[str, ...]:
    """``()`` in the mode the model is served in, else ``(mode,)``: a part of the keys of kept predictions."""
    mode = evaluation.model.active_mode
    return () if mode is None or mode == evaluation.model.modes()[0] else (mode,)


def _deployed_as(model: Model, variant: str) -> str:
    """``export``, or the export the model declares: ``onnx model 'digits-onnx' (export)``."""
    export = getattr(model, "export", None)
    return f"{export.kind} model {export.name!r} ({variant})" if variant == "export" and export is not None else variant


def _one_thread(model: Model) -> Callable[[np.ndarray], np.ndarray]:
    def predict(batch: np.ndarray) -> np.ndarray:
        with thread_count(1):
            return model.predict_proba(batch)

    return predict


def _threads(spec: CheckSpec) -> int:
    threads = spec.param("threads")
    return threads if threads and threads > 1 else max(2, usable_cores())


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The check on the model in each mode it may run in (:func:`~pytest_mlguard.production._modes.in_each_mode`);
    a segmenter's or a detector's with the task's agreement (:mod:`._tasks`)."""
    try:
        if getattr(evaluation.model, "task", "classification") != "classification":
            from ._tasks import measure

            return in_each_mode(spec, evaluation, lambda: measure(spec, evaluation), unchanged="")
        return in_each_mode(spec, evaluation, lambda: _measure(spec, evaluation), unchanged="")
    except NotDeployable as exc:  # a failure with the exporter's reason, not an error
        variant = str(spec.param("variant"))
        return Measurement(value=0.0, n=int(evaluation.data.n), details={"variant": variant, "deployable": False}, message=str(exc), failure=str(exc))


def _measure(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    variant = spec.param("variant")
    threads = _threads(spec)
    n = evaluation.data.n
    deployed, reference = _variant(evaluation, variant, threads), _reference(evaluation, variant)
    stopper = None
    if spec.metric == "agreement":  # a proportion against a floor: it may stop once its verdict is decided

        def agrees(rows: slice) -> np.ndarray:
            return deployed.upto(rows.stop)[rows].argmax(axis=1) == reference.upto(rows.stop)[rows].argmax(axis=1)

        agreeing, stopper = evaluation.looks(spec, n, agrees)
        n = len(agreeing)
    x = evaluation.data.x[:n]
    proba, reference_proba = deployed.upto(n), reference.upto(n)
    comparison = compare_predictions(reference_proba, proba)
    against = f"1 thread against {threads}" if variant == "threads" else f"{_deployed_as(evaluation.model, variant)} against float32 eager"
    details: dict[str, Any] = {"variant": variant, "compared": against, **comparison}
    if variant == "threads":
        details["threads"] = threads
    largest = comparison["max_proba_diff"]
    largest_text = "NaN" if largest is None else f"{largest:.3g}"
    message = (
        f"{against}: top-1 agreement {comparison['agreement']:.4f}, {comparison['n_flipped']} of {len(x)} predictions "
        f"flipped, probabilities differ by up to {largest_text}"
    )
    if comparison["flipped"]:
        message += "; flipped samples: " + ", ".join(
            f"{f['index']} ({f['reference']}->{f['other']})" for f in comparison["flipped"][:5]
        )
    if stopper is None:  # max_proba_diff: the largest difference over every sample
        return Measurement(value=float(np.nan if largest is None else largest), n=n, details=details, message=message)
    measurement = early_stop_measurement(stopper, details, message)
    return measurement if stopper.stopped else _draw_more(spec, evaluation, measurement, agreeing, deployed)


def _draw_more(spec: CheckSpec, evaluation: Evaluation, measurement: Measurement, agreeing: np.ndarray, deployed: PrefixPredictions) -> Measurement:
    """An agreement floor that every sample of the data leaves undecided draws more of the data as
    ``verdict.more_samples`` says (:meth:`~pytest_mlguard.checks._evaluation.Evaluation.draw_more`): the
    variant and its reference predict the samples drawn. The flips listed stay those of the data."""
    import dataclasses

    from ..._verdicts.sequential import drawn_more

    model, full = evaluation.model, evaluation.full_data
    reference = in_mode(evaluation, _one_thread(model) if spec.param("variant") == "threads" else model.predict_proba)

    def more(index: np.ndarray) -> np.ndarray:
        x = full.x[index]
        return np.asarray(deployed.predict(x)).argmax(axis=1) == reference(x).argmax(axis=1)

    outcomes, drawn, test = evaluation.draw_more(spec, agreeing, more, threshold=spec.threshold.resolve())
    measurement = dataclasses.replace(measurement, details={**measurement.details, "more_samples": drawn})
    if test is None:
        return measurement
    extra = drawn_more(outcomes, drawn, test, evaluation.data.n)
    extra["message"] = f"{measurement.message}\n{extra['message']}"
    value, n, successes = float(outcomes.mean()), len(outcomes), int(outcomes.sum())
    return dataclasses.replace(measurement, value=value, n=n, successes=successes, evaluations=n, **extra)
