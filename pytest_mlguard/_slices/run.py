"""The measurement of ``slices[accuracy]``: the evaluation data's slices (:mod:`.functional`), their
accuracies on the clean predictions, the weakest against the floor."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks._base import CheckSpec, Measurement
from ..errors import InvalidArgument, NotApplicable
from .functional import SliceScore, define_slices, measure_slices, simultaneous_confidence, weakest

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation


def table_columns(data: Any, chosen: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``(columns by name, kinds)`` of the evaluation data: a ``TableData``'s, or a 2-D array's as numeric
    columns ``feature_<i>``; only ``chosen`` ones where given."""
    schema = getattr(data, "schema", None)
    if schema is not None and isinstance(getattr(data, "columns", None), dict):
        columns, kinds = dict(data.columns), {c.name: c.kind for c in schema.columns}
    elif np.asarray(data.x).ndim == 2:
        x = np.asarray(data.x, dtype=np.float64)
        columns = {f"feature_{j}": x[:, j] for j in range(x.shape[1])}
        kinds = dict.fromkeys(columns, "numeric")
    else:
        raise NotApplicable(
            f"slices need a table: mlguard_data holds inputs of shape {tuple(np.asarray(data.x).shape[1:])}; return a "
            "pytest_mlguard.TableData (named columns and their kinds) or a 2-D array"
        )
    unknown = [name for name in chosen if name not in columns]
    if unknown:
        raise InvalidArgument(f"Expected slices.columns to name columns of mlguard_data, among {list(columns)}, but got {unknown}")
    keep = list(chosen) or list(columns)
    return {name: columns[name] for name in keep}, {name: kinds[name] for name in keep}


def ranked_lines(scores: Sequence[SliceScore], threshold: float, top: int) -> list[str]:
    """The ranked table of the weakest slices, one line each."""
    width = max((len(s.name) for s in scores[:top]), default=0)
    lines = []
    for score in scores[:top]:
        mark = "below the floor" if score.high < threshold else "undecided" if score.low < threshold else ""
        lines.append(
            f"  {score.name:<{width}}  accuracy {score.accuracy:.4f} [{score.low:.3f}, {score.high:.3f}]  n={score.n}  ece {score.ece:.3f}  {mark}".rstrip()
        )
    return lines


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """The accuracy of the weakest slice of the evaluation data, with its simultaneous interval."""
    columns, kinds = table_columns(evaluation.data, spec.param("columns"))
    least = int(spec.param("min_samples"))
    slices = define_slices(columns, kinds, bins=int(spec.param("bins")), min_samples=least, pairs=bool(spec.param("pairs")))
    if not slices:
        raise NotApplicable(f"no slice holds {least} of the {evaluation.data.n} evaluation samples: lower slices.min_samples or slices.bins")
    method = evaluation.settings.get("verdict.interval")
    scores = weakest(measure_slices(slices, evaluation.clean_proba, evaluation.data.y, evaluation.rules.check_confidence, method))
    clean = evaluation.clean_accuracy()
    threshold = spec.threshold.resolve(clean, None)
    top = int(spec.param("top"))
    below = sum(s.high < threshold for s in scores)
    undecided = sum(s.low < threshold <= s.high for s in scores)
    saved = evaluation.artifact_dir(spec) / "slices.json"
    saved.write_text(json.dumps([s.to_dict() for s in scores], indent=1) + "\n", encoding="utf-8")
    details = {
        "slices": len(scores),
        "columns": list(columns),
        "min_samples": least,
        "multiplicity": f"bonferroni over {len(scores)} slices",
        "below_floor": below,
        "undecided": undecided,
        "floor": threshold,
        "weakest": [s.to_dict() for s in scores[:top]],
        "saved": str(saved),
    }
    worst = scores[0]
    head = f"the weakest of {len(scores)} slices of at least {least} samples ({below} surely below the floor {threshold:.4f}, {undecided} undecided; intervals hold for all slices at once):"
    message = "\n".join([head, *ranked_lines(scores, threshold, top), f"  every slice: {saved}"])
    return Measurement(
        value=worst.accuracy,
        n=worst.n,
        clean=clean,
        successes=worst.correct,
        interval=(worst.low, worst.high),
        interval_method=f"{method}, Bonferroni over {len(scores)} slices",
        interval_confidence=simultaneous_confidence(evaluation.rules.check_confidence, len(scores)),  # the level of each slice's interval
        details=details,
        message=message,
    )
