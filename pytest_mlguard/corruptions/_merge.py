"""A corruption check merged from the shards of ``--mlguard-shard`` (:mod:`pytest_mlguard._shard`): the
accuracy under the corruption is a proportion of per-sample outcomes, so the merged outcomes give the
value, the counts paired with the clean outcomes and the interval, as the unsharded run measures them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks._base import CheckSpec, Measurement

if TYPE_CHECKING:
    from .._shard.merge import ShardFile
    from ..checks._evaluation import Evaluation


def merged_corruption(spec: CheckSpec, evaluation: Evaluation, shards: list[ShardFile], entries: list[dict[str, Any]], results: list[dict[str, Any]]) -> Measurement:
    """A corruption check's measurement from the shards' per-sample outcomes (early stopping off)."""
    from .._shard.outcomes import merged_arrays, merged_early_stop
    from .._verdicts.intervals import paired_counts
    from ..calibration.metrics import expected_calibration_error
    from ._run import _bins

    merged = merged_arrays(shards, entries, ("outcomes", "confidence"))
    positions, correct = merged["positions"], merged["outcomes"].astype(bool)
    n, clean = len(correct), evaluation.clean_accuracy()
    clean_correct = evaluation.clean_correct()[positions]
    stopper = evaluation.early_stop(spec, n, clean=clean)
    stopper.update(int(correct.sum()), n)
    accuracy, interval, method = stopper.value_and_interval()
    stops = [entry["details"].get("early_stop") or {} for entry in entries]
    early = merged_early_stop(shards, entries, stops, evaluation)
    if early is not None:  # some shard stopped on its own share: the product of the shards' e-values decides
        interval, method = early.pop("interval"), "confidence-sequence-product"
    bins = _bins(evaluation)
    as_proba = np.stack([merged["confidence"], np.zeros(n)], axis=1)  # the top confidence, right when the label is 0
    sizes = [len(shards[i].array(entry["arrays"]["positions"])) for i, entry in enumerate(entries)]
    change = sum(size * (entry["details"]["mean_abs_change"] or 0.0) for size, entry in zip(sizes, entries)) / max(1, n)
    details = {key: value for key, value in results[0]["details"].items() if key not in ("examples", "budget")}
    details.update(
        clean_accuracy=clean,
        relative_robustness=accuracy / clean if clean > 0 else None,
        error=1.0 - accuracy,
        ece=expected_calibration_error(as_proba, (~correct).astype(np.int64), bins),
        clean_ece=expected_calibration_error(evaluation.clean_proba, evaluation.data.y, bins),
        flipped=int((clean_correct & ~correct).sum()),
        mean_abs_change=change,
        early_stop=early or stopper.details(n),
        shards=len(shards),
    )
    message = (
        f"under {spec.param('corruption')} at severity {spec.param('severity')}: accuracy {accuracy:.4f}, clean {clean:.4f} "
        f"(relative {accuracy / clean if clean else float('nan'):.3f}); "
        f"{details['flipped']} of {int(clean_correct.sum())} correct predictions flipped; ECE {details['ece']:.4f}"
    )
    return Measurement(
        value=accuracy, n=n, clean=clean, details=details, message=message, successes=int(correct.sum()),
        paired=paired_counts(clean_correct, correct), interval=interval, interval_method=method, evaluations=n,
        evaluations_saved=(early or {}).get("evaluations_saved", 0),
    )
