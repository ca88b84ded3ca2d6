"""Overconfidence on garbage: how sure the model is about inputs that carry no class.

A model that answers "99% cat" for static fails silently in production: nothing errors, and the
confident answer looks like any other. These checks feed the model inputs that belong to no class
and gate its top-class probability against a ceiling:

* ``noise``: uniform noise over the model's value range;
* ``constant``: flat inputs, every value the same (per channel for images, channels first), the two
  extremes of the value range included;
* ``ood``: samples from another domain the user names, an ``.npy`` file (or an ``.npz`` holding one
  array, or an array ``x``) of shape ``(N, *input_shape)`` in the model's raw input units.

Random inputs are sampled apart from being applied (``sample_*`` then a deterministic build), from a
generator seeded by the run's seed, the model and the source, so that the ``mean`` and ``max``
checks of a source see the same inputs and one model pass serves both.

Example:
    >>> rng = np.random.default_rng(0)
    >>> flat = constant_inputs(sample_constant_levels(rng, 3, 1, (0.0, 1.0)), (1, 2, 2))
    >>> flat.shape, flat[:, 0, 0, 0].astype(float).round(2).tolist()
    ((3, 1, 2, 2), [0.0, 1.0, 0.04])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..checks._base import CheckSpec, Measurement
from ..checks._evaluation import stable_seed
from ..errors import CheckError

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation
    from ..contract._model import Model


GarbageSource = Literal["noise", "constant", "ood"]
_DESCRIBE = {"noise": "uniform-noise", "constant": "constant", "ood": "out-of-domain"}


def sample_noise(rng: np.random.Generator, n: int, shape: Sequence[int], value_range: tuple[float, float]) -> np.ndarray:
    """``n`` samples of uniform noise over ``value_range``, float32 of shape ``(n, *shape)``."""
    low, high = value_range
    return rng.uniform(low, high, size=(n, *shape)).astype(np.float32)


def _channels(shape: Sequence[int]) -> int:
    return int(shape[0]) if len(shape) == 3 and shape[0] in (1, 3, 4) else 1


def sample_constant_levels(rng: np.random.Generator, n: int, channels: int, value_range: tuple[float, float]) -> np.ndarray:
    """``(n, channels)`` levels: the lowest value, the highest, then uniform draws in between."""
    low, high = value_range
    levels = rng.uniform(low, high, size=(n, channels))
    levels[:1] = low
    levels[1:2] = high
    return levels.astype(np.float32)


def constant_inputs(levels: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Flat inputs of ``shape`` from ``(n, channels)`` levels (one level fills a whole non-image sample)."""
    n, channels = levels.shape
    per_sample = levels.reshape(n, channels, *([1] * (len(shape) - 1))) if channels > 1 else levels.reshape(n, *([1] * len(shape)))
    return np.ascontiguousarray(np.broadcast_to(per_sample, (n, *shape)), dtype=np.float32)


def load_ood(path: Path, shape: Sequence[int]) -> np.ndarray:
    """The out-of-domain samples in ``path`` (``.npy``, or ``.npz`` with one array or an array ``x``)."""
    fix = "set [tool.mlguard.calibration] ood_data to an .npy file of shape (N, *input_shape) in raw input units"
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CheckError(f"cannot read the out-of-domain data {str(path)!r}: {exc}; {fix}") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            names = list(loaded.files)
            if len(names) != 1 and "x" not in names:
                raise CheckError(f"{str(path)!r} holds arrays {names}: expected one array, or one named 'x'")
            loaded = loaded["x" if "x" in names else names[0]]
    x = np.asarray(loaded)
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape) or len(x) == 0:
        raise CheckError(
            f"the out-of-domain data {str(path)!r} has shape {x.shape}: expected (N, {', '.join(map(str, shape))}), "
            f"N >= 1, the model's input shape; {fix}"
        )
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
        raise CheckError(f"the out-of-domain data {str(path)!r} holds non-numbers or NaN/inf: {fix}")
    return x.astype(np.float32, copy=False)


def garbage_inputs(
    source: GarbageSource, model: Model, n: int, rng: np.random.Generator, *, ood_data: Path | None = None
) -> np.ndarray:
    """``n`` inputs of ``source`` for ``model`` (fewer for a smaller out-of-domain file)."""
    if source == "noise":
        return sample_noise(rng, n, model.input_shape, model.value_range)
    if source == "constant":
        return constant_inputs(sample_constant_levels(rng, n, _channels(model.input_shape), model.value_range), model.input_shape)
    if ood_data is None:
        raise CheckError(
            "calibration[garbage-ood] needs images from another domain: set [tool.mlguard.calibration] "
            "ood_data = 'path/to/ood.npy' (shape (N, *input_shape), raw input units; relative to the rootdir)"
        )
    x = load_ood(ood_data, model.input_shape)
    if len(x) > n:
        x = x[np.sort(rng.choice(len(x), size=n, replace=False))]
    return x


def confidence_summary(proba: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Mean and max top-class probability, a 10-bin histogram of it, and the classes answered most."""
    confidence = proba.max(axis=1)
    predicted = np.bincount(proba.argmax(axis=1), minlength=len(class_names))
    top = np.argsort(-predicted, kind="stable")[:3]
    return {
        "mean_confidence": float(confidence.mean()),
        "max_confidence": float(confidence.max()),
        "histogram": np.histogram(confidence, bins=10, range=(0.0, 1.0))[0].tolist(),
        "predicted": {class_names[i]: int(predicted[i]) for i in top if predicted[i] > 0},
    }


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """``calibration[garbage-<source>]`` (mean) or ``calibration[garbage-<source>-max]``."""
    model, settings = evaluation.model, evaluation.settings
    source, statistic, n = spec.param("source"), spec.param("statistic"), int(spec.param("samples"))
    ood_data = spec.param("ood_data")
    ood_path = Path(ood_data) if ood_data else None

    def predict() -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(stable_seed(settings.seed, evaluation.model_id, "calibration-garbage", source))
        x = garbage_inputs(source, model, n, rng, ood_data=ood_path)
        return x, model.predict_proba(x)

    x, proba = evaluation.memo(("calibration-garbage", source, n, ood_data), predict)
    summary = confidence_summary(proba, model.class_names)
    clean_confidence = evaluation.clean_proba.max(axis=1)
    value = summary[f"{statistic}_confidence"]
    clean = float(clean_confidence.mean() if statistic == "mean" else clean_confidence.max())
    chance = 1.0 / model.n_classes
    details: dict[str, Any] = {
        "source": source,
        "statistic": statistic,
        **summary,
        "clean_mean_confidence": float(clean_confidence.mean()),
        "chance": chance,
    }
    if ood_path is not None and source == "ood":
        details["ood_data"] = str(ood_path)
    answer, count = next(iter(summary["predicted"].items()))
    message = (
        f"on {len(x)} {_DESCRIBE[source]} inputs, which carry no class, the top-class probability is "
        f"{summary['mean_confidence']:.3f} on average and {summary['max_confidence']:.3f} at most "
        f"(on the evaluation data: {details['clean_mean_confidence']:.3f} on average); "
        f"the model answers {answer!r} for {count / len(x):.0%} of them"
    )
    if value > spec.threshold.resolve(clean, chance):
        worst = int(proba.max(axis=1).argmax())
        path = evaluation.artifact_dir(spec) / f"most-confident-{source}.npy"
        np.save(path, x[worst : worst + 1])
        details["artifact"] = str(path)
        message += f"\nthe most confident input ({proba[worst].max():.3f} for {model.class_names[int(proba[worst].argmax())]!r}) is saved as {path}"
    interval = None
    if statistic == "mean":  # the maximum of a sample has no useful bootstrap interval
        interval = evaluation.mean_interval(spec, proba.max(axis=1))  # bootstrap-t: the confidences crowd near 1
    return Measurement(
        value=value,
        n=len(x),
        clean=clean,
        chance=chance,
        details=details,
        message=message,
        interval=interval,
        interval_method="bootstrap-t" if interval else None,
        evaluations=len(x),
    )
