"""The measurement of the ``shift`` checks: one analysis of the production sample against the
evaluation data, shared by every check of the family (``Evaluation.memo``), then each check's value.

A drift check's value is the smallest Holm-adjusted p-value of its tests (floor: ``shift.alpha``); its
message names what drifted, the tests with the smallest p-values first. ``shift[accuracy]``'s value is
ATC's estimated accuracy, with a bootstrap interval.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ...checks._base import CheckSpec, Measurement
from ...errors import NotApplicable
from .sample import FIXTURE, ProductionSample, production_sample
from .statistics import (
    TwoSample,
    atc_estimate,
    atc_interval,
    bbse,
    column_tests,
    confidence_scores,
    frequency_test,
    histogram,
    holm_tests,
    image_statistics,
    numeric_test,
)

if TYPE_CHECKING:
    from ...checks._evaluation import Evaluation


def _sample(evaluation: Evaluation) -> tuple[ProductionSample, np.ndarray]:
    """The production sample as model inputs, and the model's probabilities on it (once per evaluation)."""
    production = (getattr(evaluation, "extras", {}) or {}).get("production")
    if production is None:
        raise NotApplicable(
            f"no production sample: define a fixture {FIXTURE} in conftest.py that returns the logged production "
            "inputs (an array of model inputs, or image files), see docs/drift.md"
        )

    def compute() -> tuple[ProductionSample, np.ndarray]:
        sample = production_sample(production, evaluation.model)
        return sample, evaluation.model.predict_proba(sample.x)

    return evaluation.memo(("shift", "sample", id(production)), compute)


def input_tests(reference: np.ndarray, production: np.ndarray, columns: tuple[str, ...] | None = None) -> list[TwoSample]:
    """The ``inputs`` check's tests: per image statistic for images (C, H, W), per column otherwise
    (named ``columns`` where given)."""
    if reference.ndim == 4:
        ref, prod = image_statistics(reference), image_statistics(production)
        return [numeric_test(name, ref[name], prod[name]) for name in ref]
    return column_tests(reference.reshape(len(reference), -1), production.reshape(len(production), -1), names=columns)


#: the most samples of each side shift[embedding] compares (its kernel matrix grows with their square)
EMBEDDING_SAMPLES = 1000


def embedding_test(evaluation: Evaluation, x: np.ndarray, layer: str | None, permutations: int) -> TwoSample:
    """MMD of the model's embeddings of the evaluation data and of ``x``, at most
    :data:`EMBEDDING_SAMPLES` of each, drawn with the run's seed."""
    from ...checks._evaluation import stable_seed
    from .embedding import embed, mmd_test

    rng = np.random.default_rng(stable_seed(evaluation.settings.seed, evaluation.model_id, "shift", "embedding"))
    reference = evaluation.data.x[:EMBEDDING_SAMPLES]
    production = x[np.sort(rng.permutation(len(x))[:EMBEDDING_SAMPLES])]
    return mmd_test(embed(evaluation.model, reference, layer), embed(evaluation.model, production, layer), permutations=permutations, rng=rng)


def _tests(evaluation: Evaluation, tested: tuple[str, ...], spec: CheckSpec) -> dict[str, list[TwoSample] | NotApplicable]:
    """The tests of the drift checks ``tested``, Holm-adjusted together, by check; a check that does
    not apply (``embedding`` of a model that is not a ``TorchModel``) holds why, and counts no test."""
    sample, proba = _sample(evaluation)
    reference = evaluation.clean_proba
    names = list(evaluation.model.class_names) if getattr(evaluation.model, "class_names", None) else None
    by_check: dict[str, list[TwoSample]] = {}
    skipped: dict[str, NotApplicable] = {}
    for name in tested:
        if name == "classes":
            by_check[name] = [frequency_test("classes", reference.argmax(axis=1), proba.argmax(axis=1), labels=names)]
        elif name == "confidence":
            by_check[name] = [numeric_test("confidence", reference.max(axis=1), proba.max(axis=1))]
        elif name == "inputs":
            by_check[name] = input_tests(evaluation.data.x, sample.x, sample.columns)
    if "embedding" in tested:  # last: its permutations resolve p-values that survive Holm across every test
        count = sum(len(found) for found in by_check.values()) + 1
        permutations = max(spec.param("permutations"), math.ceil(2 * count / spec.param("alpha")))
        try:
            by_check["embedding"] = [embedding_test(evaluation, sample.x, spec.param("layer"), permutations)]
        except NotApplicable as exc:
            skipped["embedding"] = exc
    adjusted = iter(holm_tests([test for tests in by_check.values() for test in tests]))
    return {**{name: [next(adjusted) for _ in tests] for name, tests in by_check.items()}, **skipped}


def histograms(evaluation: Evaluation, check: str, x: np.ndarray, proba: np.ndarray, columns: tuple[str, ...] | None) -> dict[str, Any]:
    """Reference and production histograms of what ``check`` compares (the report's figure): the top
    probability for ``confidence``, each image statistic or column for ``inputs``."""
    if check == "confidence":
        return {"confidence": histogram(evaluation.clean_proba.max(axis=1), proba.max(axis=1))}
    if check != "inputs":
        return {}
    reference = evaluation.data.x
    if reference.ndim == 4:
        ref, prod = image_statistics(reference), image_statistics(x)
        return {name: histogram(ref[name], prod[name]) for name in ref}
    flat_ref, flat_prod = reference.reshape(len(reference), -1), x.reshape(len(x), -1)
    names = columns or tuple(f"column {i}" for i in range(flat_ref.shape[1]))
    return {name: histogram(flat_ref[:, i], flat_prod[:, i]) for i, name in enumerate(names)}


def _ranked(tests: list[TwoSample]) -> list[TwoSample]:
    return sorted(tests, key=lambda test: (test.adjusted if test.adjusted is not None else test.p_value, -test.effect))


def drift_message(check: str, tests: list[TwoSample], alpha: float, top: int, sizes: tuple[int, int]) -> str:
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
        f"production drifts from the evaluation data in {len(drifting)} of {len(tests)} {check} tests"
        if drifting
        else f"no {check} test drifts at alpha {alpha:g}"
    )
    more = f", and {len(drifting) - len(shown)} more" if len(drifting) > len(shown) else ""
    return f"{head} (production n={n_prod}, evaluation n={n_ref}): " + "; ".join(parts) + more


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """Measure one ``shift`` check on ``evaluation`` (its ``extras["production"]``: what
    ``mlguard_production`` returned)."""
    if spec.name == "accuracy":
        return _accuracy(spec, evaluation)
    if spec.name == "ood":
        return _ood(spec, evaluation)
    tested = tuple(spec.param("tested"))
    tested += () if spec.name in tested else (str(spec.name),)
    by_check = evaluation.memo(("shift", "tests", tested), lambda: _tests(evaluation, tested, spec))
    tests = by_check[spec.name]
    if isinstance(tests, NotApplicable):
        raise tests
    sample, proba = _sample(evaluation)
    value = min((test.adjusted for test in tests if test.adjusted is not None), default=1.0)
    sizes = (evaluation.data.n, len(sample.x))
    details: dict[str, Any] = {
        "tests": [test.to_dict() for test in _ranked(tests)],
        "production_samples": len(sample.x),
        "evaluation_samples": evaluation.data.n,
        "holm_tests": sum(len(t) for t in by_check.values() if isinstance(t, list)),
    }
    if sample.files:
        details["files"] = dict(sample.files)
    drawn = histograms(evaluation, str(spec.name), sample.x, proba, sample.columns)
    if drawn:
        details["histograms"] = drawn
    return Measurement(value=value, n=len(sample.x), details=details, message=drift_message(str(spec.name), tests, spec.param("alpha"), spec.param("top"), sizes))


def _accuracy(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """ATC's estimated accuracy on the production sample, with its bootstrap interval."""
    _, proba = _sample(evaluation)
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
    return Measurement(value=estimate, n=len(production), clean=clean, details=details, message=message, interval=interval, interval_method="bootstrap")


def _ood(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The share of production inputs above the out-of-distribution threshold fixed on the evaluation data."""
    from .ood import flagged_share, ood_scores

    sample, proba = _sample(evaluation)
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
    return Measurement(value=share, n=len(production), successes=flagged, details=details, message=message)
