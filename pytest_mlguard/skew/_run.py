"""The measurement of the ``skew`` checks: :func:`~pytest_mlguard.skew.find_skew` on the declared paths,
seeded by the run, the finding saved as JSON in the check's artefact directory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..checks._base import CheckSpec, Measurement
from ..errors import NotApplicable
from ._paths import as_feature_paths
from ._search import SkewCheck, find_skew

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation

FIXTURE = "mlguard_features"


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    """Search for a raw record the two paths of ``mlguard_features`` disagree on (``spec.name``: on the
    features, or on the model's predictions from them)."""
    from ..checks._evaluation import stable_seed

    declared = (getattr(evaluation, "extras", {}) or {}).get("features")
    if declared is None:
        raise NotApplicable(
            f"no feature paths: define a fixture {FIXTURE} in conftest.py that returns "
            "pytest_mlguard.skew.FeaturePaths(offline=..., online=..., examples=...), see docs/tabular-skew.md"
        )
    paths = as_feature_paths(declared, f"the {FIXTURE} fixture")
    seconds = float(spec.param("time_budget"))
    if getattr(evaluation.limits, "seconds", None) is not None:  # a share of --mlguard-budget
        seconds = min(seconds, float(evaluation.limits.seconds))
    seed = stable_seed(evaluation.settings.seed, evaluation.model_id, spec.id)
    check: SkewCheck = "features" if spec.name == "features" else "predictions"
    model = paths.model if paths.model is not None else evaluation.model
    mutations = tuple(spec.param("mutations", ()))
    finding = find_skew(paths, check, model=model, max_examples=int(spec.param("max_examples")), seed=seed, seconds=seconds, mutations=mutations)
    saved = finding.save(evaluation.artifact_dir(spec) / f"skew-{check}.json") if finding.record is not None else None
    details = {**finding.to_dict(), "saved": str(saved) if saved is not None else None}
    failure = "the paths disagree on a raw record" if finding.record is not None else None
    return Measurement(value=finding.agreement, n=finding.tried, details=details, message=finding.message(saved), failure=failure)
