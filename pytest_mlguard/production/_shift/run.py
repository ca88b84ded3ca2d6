"""The measurement of the ``shift`` checks: one analysis of the production sample against the
evaluation data, shared by every check of the family (``Evaluation.memo``), then each check's value.

A drift check's value is the smallest Holm-adjusted p-value of its tests (floor: ``shift.alpha``); its
message names what drifted, the tests with the smallest p-values first. ``shift[accuracy]``'s value is
ATC's estimated accuracy, with a bootstrap interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...checks._base import CheckSpec, Measurement
from ...errors import ConfigError, ContractError, NotApplicable
from .records import outside_summary
from .sample import FIXTURE, ProductionSample, production_sample
from .window import ProductionLog, Window, duration_text, log_length, select_window, timestamps_seconds
from .statistics import (
    TwoSample,
    atc_estimate,
    atc_interval,
    bbse,
    category_shares,
    column_tests,
    confidence_scores,
    frequency_test,
    histogram,
    holm_tests,
    image_statistics,
    missing_test,
    numeric_test,
)

if TYPE_CHECKING:
    from ...checks._evaluation import Evaluation


@dataclass(frozen=True)
class Logged:
    """The production sample (its window of a :class:`~.window.ProductionLog`) as model inputs and the
    model's probabilities on it; what the drift tests compare it with (the evaluation data, or the window
    before it), named; and the window (``None``: no window)."""

    sample: ProductionSample
    proba: np.ndarray
    reference_x: np.ndarray
    reference_proba: np.ndarray
    reference_name: str
    window: Window | None = None
    #: where the reference's values were outside the schema (a previous window of records), by column
    reference_outside: Any = None
    #: what ``mlguard_production`` returned, kept alive while the memo holds it: its ``id`` keys the memo
    source: Any = None


def _identity(evaluation: Evaluation, spec: CheckSpec) -> tuple[Any, ...]:
    """What the analysis of the production sample depends on beyond the evaluation: the sample (a custom
    test may measure several in one evaluation), the window and the reference."""
    production = (getattr(evaluation, "extras", {}) or {}).get("production")
    return (id(production), spec.param("window"), spec.param("reference"))


def _logged(evaluation: Evaluation, spec: CheckSpec) -> Logged:
    """What ``mlguard_production`` returned, read (once per evaluation and window)."""
    production = (getattr(evaluation, "extras", {}) or {}).get("production")
    if production is None:
        raise NotApplicable(
            f"no production sample: define a fixture {FIXTURE} in conftest.py that returns the logged production "
            "inputs (an array of model inputs, or image files), see docs/drift.md"
        )
    length, reference = spec.param("window"), spec.param("reference")

    def compute() -> Logged:
        model = evaluation.model
        value, window = production, None
        if isinstance(production, ProductionLog):
            window = select_window(production, length, reference) if length is not None else None
            value = window.current if window is not None else production.inputs
            if window is None:  # the whole log: its timestamps are checked all the same
                timestamps_seconds(production.timestamps, log_length(value))
        elif length is not None or reference == "previous-window":
            raise ContractError(
                f"Expected a ProductionLog(inputs, timestamps): shift.window {duration_text(length) if length else None!r} and shift.reference {reference!r} select inputs by the time "
                f"they were logged, but got inputs without timestamps ({type(production).__name__})",
                fixture=FIXTURE,
            )
        if reference == "previous-window" and (window is None or window.previous is None):
            raise ConfigError("shift.reference = 'previous-window' compares two windows of the log: set shift.window (such as '1d')")
        pipeline = getattr(evaluation, "pipeline", None)  # image files are read through its decode, where it declares one
        sample = production_sample(value, model, pipeline)
        if window is not None and window.previous is not None:
            previous = production_sample(window.previous, model, pipeline)
            proba = model.predict_proba(previous.x)
            return Logged(sample, model.predict_proba(sample.x), previous.x, proba, "the previous window", window, previous.outside, source=production)
        return Logged(sample, model.predict_proba(sample.x), evaluation.data.x, evaluation.clean_proba, "the evaluation data", window, source=production)

    return evaluation.memo(("shift", "sample", *_identity(evaluation, spec)), compute)


def input_tests(
    reference: np.ndarray,
    production: np.ndarray,
    columns: tuple[str, ...] | None = None,
    outside: Any = None,
    reference_outside: Any = None,
    schema: Any = None,
) -> list[TwoSample]:
    """The ``inputs`` check's tests: per image statistic for images (C, H, W), per column otherwise
    (named ``columns`` where given; the categorical and boolean columns of a record model's ``schema``
    by their categories), and for records, the rate of each column's values outside the schema
    (``outside``, and ``reference_outside``: where, by column; none in the evaluation data)."""
    if reference.ndim == 4:
        stats, prod_stats = image_statistics(reference), image_statistics(production)
        return [numeric_test(name, stats[name], prod_stats[name]) for name in stats]
    ref, prod = reference.reshape(len(reference), -1), production.reshape(len(production), -1)
    names = list(columns) if columns is not None else [f"column {i}" for i in range(ref.shape[1])]
    before = [np.asarray((reference_outside or {}).get(name, np.zeros(len(ref), dtype=bool))) for name in names]
    after = [np.asarray((outside or {}).get(name, np.zeros(len(prod), dtype=bool))) for name in names]
    ref_outside, prod_outside = np.stack(before, axis=1), np.stack(after, axis=1)
    categorical = categorical_columns(schema) if schema is not None else None
    tests = column_tests(ref, prod, names, missing=(np.isnan(ref) & ~ref_outside, np.isnan(prod) & ~prod_outside), categorical=categorical)
    for i, name in enumerate(names):
        if ref_outside[:, i].any() or prod_outside[:, i].any():
            tests.append(missing_test(f"{name} (outside the schema)", ref_outside[:, i], prod_outside[:, i], kind="outside"))
    return tests


def categorical_columns(schema: Any) -> dict[str, tuple[Any, ...]]:
    """The categorical and boolean columns of a record model's ``schema``, each with the categories its codes stand for."""
    return {c.name: (False, True) if c.kind == "boolean" else tuple(c.categories) for c in schema.columns if c.kind != "numeric"}


def _schema(evaluation: Evaluation, sample: ProductionSample) -> Any:
    """The record model's schema the sample was encoded through (``None``: none)."""
    schema = getattr(evaluation.model, "schema", None)
    return schema if sample.records is not None and schema is not None and tuple(schema.names) == sample.columns else None


#: the most samples of each side shift[embedding] compares (its kernel matrix grows with their square)
EMBEDDING_SAMPLES = 1000


def embedding_test(evaluation: Evaluation, x: np.ndarray, layer: str | None, permutations: int, reference: np.ndarray | None = None) -> TwoSample:
    """MMD of the model's embeddings of ``reference`` (default: the evaluation data) and of ``x``, at most
    :data:`EMBEDDING_SAMPLES` of each, drawn with the run's seed."""
    from ...checks._evaluation import stable_seed
    from .embedding import embed, mmd_test

    rng = np.random.default_rng(stable_seed(evaluation.settings.seed, evaluation.model_id, "shift", "embedding"))
    reference = (evaluation.data.x if reference is None else reference)[:EMBEDDING_SAMPLES]
    production = x[np.sort(rng.permutation(len(x))[:EMBEDDING_SAMPLES])]
    return mmd_test(embed(evaluation.model, reference, layer), embed(evaluation.model, production, layer), permutations=permutations, rng=rng)


def _tests(evaluation: Evaluation, tested: tuple[str, ...], spec: CheckSpec) -> dict[str, list[TwoSample] | NotApplicable]:
    """The tests of the drift checks ``tested``, Holm-adjusted together, by check; a check that does
    not apply (``embedding`` of a model that is not a ``TorchModel``) holds why, and counts no test."""
    logged = _logged(evaluation, spec)
    sample, proba, reference = logged.sample, logged.proba, logged.reference_proba
    names = list(evaluation.model.class_names) if getattr(evaluation.model, "class_names", None) else None
    by_check: dict[str, list[TwoSample]] = {}
    skipped: dict[str, NotApplicable] = {}
    for name in tested:
        if name == "classes":
            by_check[name] = [frequency_test("classes", reference.argmax(axis=1), proba.argmax(axis=1), labels=names)]
        elif name == "confidence":
            by_check[name] = [numeric_test("confidence", reference.max(axis=1), proba.max(axis=1))]
        elif name == "inputs":
            by_check[name] = input_tests(logged.reference_x, sample.x, sample.columns, sample.outside, logged.reference_outside, _schema(evaluation, sample))
    if "embedding" in tested:  # last: its permutations resolve p-values that survive Holm across every test
        count = sum(len(found) for found in by_check.values()) + 1
        permutations = max(spec.param("permutations"), math.ceil(2 * count / spec.param("alpha")))
        try:
            by_check["embedding"] = [embedding_test(evaluation, sample.x, spec.param("layer"), permutations, logged.reference_x)]
        except NotApplicable as exc:
            skipped["embedding"] = exc
    adjusted = iter(holm_tests([test for tests in by_check.values() for test in tests]))
    return {**{name: [next(adjusted) for _ in tests] for name, tests in by_check.items()}, **skipped}


def histograms(logged: Logged, check: str, schema: Any = None) -> dict[str, Any]:
    """Reference and production histograms of what ``check`` compares (the report's figure): the top
    probability for ``confidence``, each image statistic or column for ``inputs``; a categorical or
    boolean column of a record model's ``schema``: the shares of its categories, by label."""
    x, columns = logged.sample.x, logged.sample.columns
    if check == "confidence":
        return {"confidence": histogram(logged.reference_proba.max(axis=1), logged.proba.max(axis=1))}
    if check != "inputs":
        return {}
    reference = logged.reference_x
    if reference.ndim == 4:
        ref, prod = image_statistics(reference), image_statistics(x)
        return {name: histogram(ref[name], prod[name]) for name in ref}
    flat_ref, flat_prod = reference.reshape(len(reference), -1), x.reshape(len(x), -1)
    names = columns or tuple(f"column {i}" for i in range(flat_ref.shape[1]))
    categorical = categorical_columns(schema) if schema is not None else {}
    return {
        name: category_shares(flat_ref[:, i], flat_prod[:, i], categorical[name]) if name in categorical else histogram(flat_ref[:, i], flat_prod[:, i])
        for i, name in enumerate(names)
    }


def _ranked(tests: list[TwoSample]) -> list[TwoSample]:
    return sorted(tests, key=lambda test: (test.adjusted if test.adjusted is not None else test.p_value, -test.effect))


def drift_message(check: str, tests: list[TwoSample], alpha: float, top: int, sizes: tuple[int, int], reference: str = "the evaluation data") -> str:
    """What a drift check says: the tests that drift (adjusted p-value below ``alpha``), or the
    closest ones, the smallest p-values first, at most ``top``."""
    ranked = _ranked(tests)
    drifting = [test for test in ranked if (test.adjusted or 1.0) < alpha]
    shown = (drifting or ranked)[:top]
    parts = [
        f"{test.name} ({test.effect_name} {test.effect:.3f}, {test.what}, {test.test} p={test.p_value:.2g}, Holm {test.adjusted:.2g})"
        for test in shown
    ]
    n_ref, n_prod = sizes
    head = (
        f"production drifts from {reference} in {len(drifting)} of {len(tests)} {check} tests"
        if drifting
        else f"no {check} test drifts at alpha {alpha:g}"
    )
    more = f", and {len(drifting) - len(shown)} more" if len(drifting) > len(shown) else ""
    short = "evaluation" if reference == "the evaluation data" else reference.removeprefix("the ")
    return f"{head} (production n={n_prod}, {short} n={n_ref}): " + "; ".join(parts) + more


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """Measure one ``shift`` check on ``evaluation`` (its ``extras["production"]``: what
    ``mlguard_production`` returned)."""
    if spec.name == "accuracy":
        return _accuracy(spec, evaluation)
    if spec.name == "ood":
        return _ood(spec, evaluation)
    tested = tuple(spec.param("tested"))
    tested += () if spec.name in tested else (str(spec.name),)
    by_check = evaluation.memo(("shift", "tests", tested, *_identity(evaluation, spec)), lambda: _tests(evaluation, tested, spec))
    tests = by_check[spec.name]
    if isinstance(tests, NotApplicable):
        raise tests
    logged = _logged(evaluation, spec)
    sample = logged.sample
    value = min((test.adjusted for test in tests if test.adjusted is not None), default=1.0)
    sizes = (len(logged.reference_x), len(sample.x))
    details: dict[str, Any] = {
        "tests": [test.to_dict() for test in _ranked(tests)],
        "production_samples": len(sample.x),
        "evaluation_samples": evaluation.data.n,
        "reference": logged.reference_name.removeprefix("the "),
        "holm_tests": sum(len(t) for t in by_check.values() if isinstance(t, list)),
    }
    if sample.files:
        details["files"] = dict(sample.files)
    if sample.records is not None:
        details["records"] = dict(sample.records)
    drawn = histograms(logged, str(spec.name), _schema(evaluation, sample))
    if drawn:
        details["histograms"] = drawn
    message = drift_message(str(spec.name), tests, spec.param("alpha"), spec.param("top"), sizes, logged.reference_name)
    if spec.name == "inputs" and sample.records is not None and outside_summary(sample.records):
        message += f"\nproduction: {outside_summary(sample.records)}"
    if sample.files.get("rejected"):
        files = sample.files
        message += f"\nproduction: pipeline {files['decoded_by']!r} rejected {files['rejected']} of {files['rejected'] + len(sample.x)} files, which the model never saw, such as {files['rejected_examples'][0]}"
    return Measurement(value=value, n=len(sample.x), details=_windowed(details, logged), message=_windowed_message(message, logged))


def _windowed(details: dict[str, Any], logged: Logged) -> dict[str, Any]:
    return {**details, "window": logged.window.details()} if logged.window is not None else details


def _windowed_message(message: str, logged: Logged) -> str:
    return f"{message}\nproduction: the last {logged.window.describe()}" if logged.window is not None else message


def _accuracy(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """ATC's estimated accuracy on the production sample, with its bootstrap interval."""
    logged = _logged(evaluation, spec)
    proba = logged.proba
    score = spec.param("score")
    scores, correct = confidence_scores(evaluation.clean_proba, score), evaluation.clean_correct()
    production = confidence_scores(proba, score)
    estimate = atc_estimate(scores, correct, production)
    resamples = evaluation.settings.get("verdict.bootstrap")
    interval = None
    if resamples:
        interval = atc_interval(scores, correct, production, evaluation.rules.check_confidence, resamples=resamples, rng=evaluation.rng(spec))
    clean = float(np.mean(correct))
    message = (
        f"accuracy estimated without labels by ATC ({score}): {estimate:.4f} on {len(production)} production samples, "
        f"against {clean:.4f} measured on {len(correct)} labelled evaluation samples; an estimate that assumes the "
        "confidences rank production inputs as they rank the evaluation data (docs/drift.md)"
    )
    distribution, label_shift = bbse(evaluation.clean_proba.argmax(axis=1), evaluation.data.y, proba.argmax(axis=1), proba.shape[1])
    message += (
        f"; under a change of class frequencies alone (BBSE, Lipton et al. 2018) the accuracy would be {label_shift:.4f}"
    )
    details = {
        "estimated_accuracy": estimate,
        "evaluation_accuracy": clean,
        "score": score,
        "production_samples": len(production),
        "bbse": {"estimated_accuracy": label_shift, "class_distribution": np.round(distribution, 6).tolist()},
    }
    details, message = _windowed(details, logged), _windowed_message(message, logged)
    return Measurement(value=estimate, n=len(production), clean=clean, details=details, message=message, interval=interval, interval_method="bootstrap")


def _ood(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The share of production inputs above the out-of-distribution threshold fixed on the evaluation data."""
    from .ood import flagged_share, ood_scores

    logged = _logged(evaluation, spec)
    sample, proba = logged.sample, logged.proba
    reference, name = ood_scores(evaluation.model, evaluation.data.x, evaluation.clean_proba)
    production, _ = ood_scores(evaluation.model, sample.x, proba)
    rate = spec.param("ood_rate")
    share, threshold = flagged_share(reference, production, rate)
    flagged = int(round(share * len(production)))
    message = (
        f"{flagged} of {len(production)} production inputs ({100 * share:.1f}%) score above the {name} threshold {threshold:.4g} "
        f"that {100 * rate:g}% of the {len(reference)} evaluation samples exceed"
    )
    details = {"score": name, "threshold": threshold, "rate": rate, "flagged": flagged, "production_samples": len(production)}
    return Measurement(value=share, n=len(production), successes=flagged, details=_windowed(details, logged), message=_windowed_message(message, logged))
