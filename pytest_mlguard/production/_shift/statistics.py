"""The label-free statistics of the ``shift`` family, as plain functions over numpy arrays: two-sample
tests of a reference sample (the evaluation data) against a production sample, Holm's correction, and
the ATC estimate of accuracy without labels (Garg et al. 2022).

Each test returns a :class:`TwoSample`: its statistic, p-value and an effect size, with a line that
says what moved. scipy is imported when a test runs.

Example:
    >>> rng = np.random.default_rng(0)
    >>> test = numeric_test("brightness", rng.normal(0, 1, 300), rng.normal(1, 1, 300))
    >>> test.p_value < 1e-6, round(test.effect, 2)
    (True, 0.42)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np


#: how many categories a frequency test's summaries show (those whose share moved most)
SHARES = 3


@dataclass(frozen=True)
class TwoSample:
    """One two-sample test of reference against production.

    Attributes:
        name: what was compared (``classes``, ``confidence``, ``column 3``, ``brightness``).
        test: the test (``chi-squared``, ``ks``).
        statistic: its statistic.
        p_value: its p-value; :func:`holm` adjusts it across a family of tests (``adjusted``).
        effect: an effect size in [0, 1]: the total variation distance between two frequency
            tables, the KS distance between two distributions, the change of a missing rate.
        effect_name: what ``effect`` is.
        what: a line that says what moved (``class '1': 10.0% -> 35.0%``).
        adjusted: the p-value after :func:`holm` (``None`` before).
        reference: a summary of the reference sample (:func:`numeric_summary`, the shares of the
            categories that moved most, a missing rate; always its size ``n``); ``production``: the same of production.
        null: a permutation test's null distribution (:func:`null_summary`).
    """

    name: str
    test: str
    statistic: float
    p_value: float
    effect: float
    effect_name: str
    what: str = ""
    adjusted: float | None = None
    reference: dict[str, Any] | None = None
    production: dict[str, Any] | None = None
    null: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-safe, for a check's details."""
        summaries = {"reference": self.reference, "production": self.production} if self.reference is not None else {}
        return {**self._fields(), **summaries, **({"null": self.null} if self.null is not None else {})}

    def _fields(self) -> dict[str, object]:
        return {
            "name": self.name,
            "test": self.test,
            "statistic": round(float(self.statistic), 6),
            "p_value": float(self.p_value),
            "p_adjusted": None if self.adjusted is None else float(self.adjusted),
            "effect": round(float(self.effect), 6),
            "effect_name": self.effect_name,
            "what": self.what,
        }


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error rate), in the order given.

    Example:
        >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def holm_tests(tests: Sequence[TwoSample]) -> list[TwoSample]:
    """``tests`` with their Holm-adjusted p-values set (``adjusted``)."""
    adjusted = holm([test.p_value for test in tests])
    return [replace(test, adjusted=float(p)) for test, p in zip(tests, adjusted)]


def frequency_test(name: str, reference: Sequence[object], production: Sequence[object], *, labels: Sequence[str] | None = None) -> TwoSample:
    """Chi-squared test of homogeneity of two samples of categories (classes, a categorical column).

    Categories that appear in one sample only count (a new category in production is a change); the
    effect is the total variation distance between the two frequency tables. ``labels[i]`` names
    category ``i`` where the categories are class indices.
    """
    from scipy.stats import chi2_contingency

    ref, prod = np.asarray(reference, dtype=object), np.asarray(production, dtype=object)
    categories = sorted(set(ref.tolist()) | set(prod.tolist()), key=str)
    table = np.array([[np.sum(ref == c) for c in categories], [np.sum(prod == c) for c in categories]], dtype=np.float64)
    share = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
    change = share[1] - share[0]
    effect = 0.5 * float(np.abs(change).sum())
    if len(categories) < 2 or min(len(ref), len(prod)) == 0:
        return TwoSample(name, "chi-squared", 0.0, 1.0, effect, "total variation")
    statistic, p_value, _, _ = chi2_contingency(table, correction=False)
    top = int(np.argmax(np.abs(change)))
    category = categories[top]
    shown = labels[int(category)] if labels is not None and isinstance(category, (int, np.integer)) else category
    new = "" if table[0, top] else " (not in the reference)"
    what = f"{shown!r}{new}: {100 * share[0, top]:.1f}% -> {100 * share[1, top]:.1f}%"
    moved = np.argsort(-np.abs(change), kind="stable")[:SHARES]
    named = [str(labels[int(categories[i])] if labels is not None and isinstance(categories[i], (int, np.integer)) else categories[i]) for i in moved]
    summaries = [{"n": int(table[row].sum()), "shares": {key: round(float(share[row, i]), 6) for key, i in zip(named, moved)}} for row in (0, 1)]
    return TwoSample(name, "chi-squared", float(statistic), float(p_value), effect, "total variation", what, reference=summaries[0], production=summaries[1])


def numeric_test(name: str, reference: np.ndarray, production: np.ndarray, *, unit: str = "") -> TwoSample:
    """Two-sample Kolmogorov-Smirnov test of two samples of numbers (missing values left out); the
    effect is the KS distance, and the line says how the median moved."""
    from scipy.stats import ks_2samp

    ref = np.asarray(reference, dtype=np.float64).ravel()
    prod = np.asarray(production, dtype=np.float64).ravel()
    ref, prod = ref[np.isfinite(ref)], prod[np.isfinite(prod)]
    if len(ref) == 0 or len(prod) == 0:
        return TwoSample(name, "ks", 0.0, 1.0, 0.0, "ks distance", "no values to compare")
    result = ks_2samp(ref, prod)
    what = f"median {np.median(ref):.4g}{unit} -> {np.median(prod):.4g}{unit}"
    summaries = (numeric_summary(ref), numeric_summary(prod))
    return TwoSample(name, "ks", float(result.statistic), float(result.pvalue), float(result.statistic), "ks distance", what, reference=summaries[0], production=summaries[1])


def numeric_summary(values: np.ndarray) -> dict[str, Any]:
    """A sample of numbers in five figures: its size, mean, median, and 5th and 95th percentiles.

    Example:
        >>> numeric_summary(np.arange(101.0))
        {'n': 101, 'mean': 50.0, 'median': 50.0, 'p05': 5.0, 'p95': 95.0}
    """
    v = np.asarray(values, dtype=np.float64)
    low, median, high = np.quantile(v, [0.05, 0.5, 0.95]) if len(v) else (np.nan, np.nan, np.nan)
    return {"n": len(v), "mean": round(float(v.mean()) if len(v) else np.nan, 6), "median": round(float(median), 6), "p05": round(float(low), 6), "p95": round(float(high), 6)}


def null_summary(null: np.ndarray, observed: float, bins: int = 30) -> dict[str, Any]:
    """A permutation test's null distribution, JSON-safe, for the report: its size, quantiles, the
    observed statistic, and a histogram (``edges``, ``counts`` as fractions) over the null's range.

    Example:
        >>> summary = null_summary(np.arange(100.0), 120.0, bins=4)
        >>> summary["permutations"], summary["q99"], summary["observed"], summary["counts"]
        (100, 98.01, 120.0, [0.25, 0.25, 0.25, 0.25])
    """
    values = np.asarray(null, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    edges = np.linspace(low, high if high > low else low + 1e-12, bins + 1)
    counts = np.histogram(values, bins=edges)[0] / len(values)
    quantiles = np.quantile(values, [0.5, 0.95, 0.99])
    return {
        "permutations": len(values),
        "observed": round(float(observed), 8),
        "median": round(float(quantiles[0]), 8),
        "q95": round(float(quantiles[1]), 8),
        "q99": round(float(quantiles[2]), 8),
        "edges": np.round(edges, 8).tolist(),
        "counts": np.round(counts, 6).tolist(),
    }


#: what :func:`missing_test` tests: the line's label, the effect's name and the summaries' key, by kind
RATES = {"missing": ("missing", "missing-rate change", "missing_rate"), "outside": ("outside the schema", "outside-rate change", "outside_rate")}


def missing_test(name: str, reference: np.ndarray, production: np.ndarray, *, kind: str = "missing") -> TwoSample:
    """Fisher's exact test of the change of a missing rate (``reference`` and ``production``: booleans,
    True where the value is missing); the effect is the change of the rate. ``kind="outside"``: the
    rate of values outside the schema, the same test."""
    from scipy.stats import fisher_exact

    label, effect_name, key = RATES[kind]
    ref, prod = np.asarray(reference, dtype=bool), np.asarray(production, dtype=bool)
    table = [[int(ref.sum()), int((~ref).sum())], [int(prod.sum()), int((~prod).sum())]]
    rate_ref, rate_prod = ref.mean() if len(ref) else 0.0, prod.mean() if len(prod) else 0.0
    p_value = 1.0 if table[0][0] + table[1][0] == 0 else float(fisher_exact(table).pvalue)
    what = f"{label} {100 * rate_ref:.1f}% -> {100 * rate_prod:.1f}%"
    summaries = ({"n": len(ref), key: round(float(rate_ref), 6)}, {"n": len(prod), key: round(float(rate_prod), 6)})
    return TwoSample(name, "fisher", float(rate_prod - rate_ref), p_value, float(abs(rate_prod - rate_ref)), effect_name, what, reference=summaries[0], production=summaries[1])


def column_tests(
    reference: np.ndarray,
    production: np.ndarray,
    names: Sequence[str] | None = None,
    missing: tuple[np.ndarray, np.ndarray] | None = None,
    categorical: Mapping[str, Sequence[Any]] | None = None,
) -> list[TwoSample]:
    """Per-column tests of two tables of numbers ``(n, columns)``: KS on each column's values (the
    chi-squared test of its categories for a column ``categorical`` names: its values are the codes of
    those categories) and, where a column has missing values in either sample, Fisher's test of its
    missing rate. ``missing``: where values are missing in each table (default: NaN; records' values
    outside the schema are NaN too, and not missing)."""
    ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    prod = np.asarray(production, dtype=np.float64).reshape(len(production), -1)
    if ref.shape[1] != prod.shape[1]:
        raise ValueError(f"expected tables of the same columns, got {ref.shape[1]} and {prod.shape[1]}")
    names = list(names) if names is not None else [f"column {i}" for i in range(ref.shape[1])]
    ref_missing, prod_missing = missing if missing is not None else (np.isnan(ref), np.isnan(prod))
    tests = []
    for i, name in enumerate(names):
        if categorical is not None and name in categorical:
            tests.append(frequency_test(name, _categories(ref[:, i], categorical[name]), _categories(prod[:, i], categorical[name])))
        else:
            tests.append(numeric_test(name, ref[:, i], prod[:, i]))
        if ref_missing[:, i].any() or prod_missing[:, i].any():
            tests.append(missing_test(f"{name} (missing)", ref_missing[:, i], prod_missing[:, i]))
    return tests


def _categories(codes: np.ndarray, categories: Sequence[Any]) -> list[str]:
    """The categories that ``codes`` (NaN: none) stand for, as text."""
    return [str(categories[int(code)]) for code in codes[np.isfinite(codes)]]


def image_statistics(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image statistics of a batch ``(n, C, H, W)`` in raw units: ``brightness`` (the mean),
    ``contrast`` (the standard deviation), and for colour images the mean of each channel."""
    images = np.asarray(x, dtype=np.float64)
    flat = images.reshape(len(images), -1)
    stats = {"brightness": flat.mean(axis=1), "contrast": flat.std(axis=1)}
    if images.ndim == 4 and images.shape[1] == 3:
        for channel, colour in enumerate(("red", "green", "blue")):
            stats[f"{colour} mean"] = images[:, channel].reshape(len(images), -1).mean(axis=1)
    return stats


def confidence_scores(proba: np.ndarray, score: str = "max-probability") -> np.ndarray:
    """The confidence of each prediction: its top probability, or its negative entropy."""
    p = np.asarray(proba, dtype=np.float64)
    if score == "max-probability":
        return p.max(axis=1)
    if score == "negative-entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    raise ValueError(f"expected score 'max-probability' or 'negative-entropy', got {score!r}")


def atc_threshold(scores: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    """ATC's threshold on labelled data: ``(t, w)`` such that the fraction of scores above ``t``, plus
    ``w`` times the fraction equal to it, is the accuracy (ties, as at a top probability of 1.0, are
    counted in part)."""
    s = np.asarray(scores, dtype=np.float64)
    accuracy = float(np.mean(correct))
    if accuracy <= 0.0:
        return float(np.inf), 0.0
    t = float(np.sort(s)[::-1][int(np.ceil(accuracy * len(s))) - 1])
    above, tied = float(np.mean(s > t)), float(np.mean(s == t))
    return t, (accuracy - above) / tied if tied else 0.0


def atc_estimate(scores: np.ndarray, correct: np.ndarray, production_scores: np.ndarray) -> float:
    """ATC (Garg et al. 2022): the accuracy on ``production_scores`` estimated without labels, the
    fraction of them above the threshold that the labelled ``scores`` give (:func:`atc_threshold`).

    Example:
        >>> atc_estimate(np.array([0.9, 0.8, 0.6, 0.4]), np.array([1, 1, 1, 0]), np.array([0.95, 0.3]))
        0.5
    """
    t, w = atc_threshold(scores, correct)
    prod = np.asarray(production_scores, dtype=np.float64)
    return float(np.clip(np.mean(prod > t) + w * np.mean(prod == t), 0.0, 1.0))


def atc_interval(
    scores: np.ndarray, correct: np.ndarray, production_scores: np.ndarray, confidence: float, *, resamples: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`atc_estimate`, resampling both the labelled sample (the
    threshold's uncertainty) and the production sample."""
    s, c, prod = np.asarray(scores), np.asarray(correct), np.asarray(production_scores)
    values = np.empty(resamples)
    for i in range(resamples):
        ref = rng.integers(0, len(s), size=len(s))
        values[i] = atc_estimate(s[ref], c[ref], prod[rng.integers(0, len(prod), size=len(prod))])
    alpha = 1 - confidence
    low, high = np.clip(np.quantile(values, [alpha / 2, 1 - alpha / 2]), 0.0, 1.0)
    return float(low), float(high)


def histogram(reference: np.ndarray, production: np.ndarray, bins: int = 20) -> dict[str, list[float]]:
    """JSON-safe histograms of two samples over shared ``bins`` (``edges``), as fractions of each
    sample's finite values, for the report's figure.

    Example:
        >>> histogram(np.array([0.0, 1.0]), np.array([1.0, 1.0]), bins=2)["production"]
        [0.0, 1.0]
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    prod = np.asarray(production, dtype=np.float64).ravel()
    ref, prod = ref[np.isfinite(ref)], prod[np.isfinite(prod)]
    pooled = np.concatenate([ref, prod])
    low, high = (float(pooled.min()), float(pooled.max())) if len(pooled) else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    counts = [np.histogram(values, bins=edges)[0] / max(len(values), 1) for values in (ref, prod)]
    return {"edges": np.round(edges, 6).tolist(), "reference": np.round(counts[0], 6).tolist(), "production": np.round(counts[1], 6).tolist()}



def category_shares(reference: np.ndarray, production: np.ndarray, categories: Sequence[Any]) -> dict[str, list[Any]]:
    """JSON-safe shares of each category (``labels``, as text) in two samples of category codes
    (NaN: missing, not counted), as fractions of each sample's coded values, for the report's bar chart
    of a categorical column.

    Example:
        >>> category_shares(np.array([0.0, 0.0, 1.0, np.nan]), np.array([1.0, 1.0]), ["Paris", "Lyon"])
        {'labels': ['Paris', 'Lyon'], 'reference': [0.666667, 0.333333], 'production': [0.0, 1.0]}
    """
    shares = []
    for codes in (reference, production):
        values = np.asarray(codes, dtype=np.float64).ravel()
        counts = np.bincount(values[np.isfinite(values)].astype(int), minlength=len(categories))[: len(categories)]
        shares.append(np.round(counts / max(int(counts.sum()), 1), 6).tolist())
    return {"labels": [str(category) for category in categories], "reference": shares[0], "production": shares[1]}

def bbse(reference_predicted: np.ndarray, reference_labels: np.ndarray, production_predicted: np.ndarray, n_classes: int) -> tuple[np.ndarray, float]:
    """Black-box shift estimation (Lipton et al. 2018): production's class distribution, from the joint
    confusion matrix of the labelled data and production's predicted class frequencies (least squares,
    weights clipped at 0), and the accuracy it gives with the labelled data's per-class accuracies. An
    estimate under label shift alone: each class's inputs as in the labelled data.

    Example:
        >>> distribution, accuracy = bbse(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]), np.array([1, 1, 1, 0]), 2)
        >>> distribution.round(2).tolist(), round(accuracy, 2)
        ([0.25, 0.75], 1.0)
    """
    pred, labels = np.asarray(reference_predicted, dtype=int), np.asarray(reference_labels, dtype=int)
    joint = np.zeros((n_classes, n_classes))
    np.add.at(joint, (pred, labels), 1.0)
    joint /= max(len(labels), 1)
    source = joint.sum(axis=0)
    target_predicted = np.bincount(np.asarray(production_predicted, dtype=int), minlength=n_classes)[:n_classes] / max(len(production_predicted), 1)
    weights = np.clip(np.linalg.lstsq(joint, target_predicted, rcond=None)[0], 0.0, None)
    target = weights * source
    target = target / target.sum() if target.sum() > 0 else source
    recall = np.divide(np.diag(joint), source, out=np.zeros(n_classes), where=source > 0)
    return target, float(np.sum(target * recall))
