"""Whether the gate indicates rolling back to the model in production, from the same intervals as the
gate checks' verdicts: a regression an interval decides indicates it, one it leaves undecided is
listed as such (before, the point estimates decided it, so a candidate whose interval straddled a
threshold could indicate a rollback that its check's verdict called inconclusive).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...checks._base import CheckSpec
    from ...checks._result import VerdictRules


def _number(value: float | None) -> str:
    return "NaN" if value is None else f"{value:.4f}"


def _model_reasons(
    spec: CheckSpec, models: dict[str, Any], rules: VerdictRules, agreement: tuple[float, float, float, int] | None = None
) -> tuple[list[str], list[str]]:
    """Why ``gate[agreement]`` and ``gate[accuracy]`` (those gated) indicate a rollback: the regressions
    their intervals decide (the agreement's interval wholly below its floor, the largest class
    drop's paired interval wholly above ``class_drop``), and those they leave undecided (the interval
    straddles the threshold), as the checks' verdicts judge them. ``agreement``: the estimate, interval
    and n that ``gate[agreement]`` decided on, where it drew more samples or stopped early; otherwise the
    binomial interval of the compared samples."""
    from ..._verdicts.intervals import binomial_interval
    from ._class_drop import class_drop_interval

    decided: list[str] = []
    undecided: list[str] = []
    gated = spec.param("gated")
    n = sum(models["pairs"])
    if "agreement" in gated and n:
        floor = spec.param("agreement")
        if agreement is None:
            low, high = binomial_interval(n - len(models["disagreements"]), n, rules.check_confidence, rules.interval)  # type: ignore[arg-type]
            agreement = (models["agreement"], low, high, n)
        estimate, low, high, seen = agreement
        if low < floor:
            counts = f"{models['broken']} newly wrong, {models['fixed']} newly right" + (f" of the first {n}" if seen != n else "")
            text = (
                f"the candidate agrees with the baseline on {estimate:.1%} of {seen} samples, interval [{low:.1%}, {high:.1%}] "
                f"(floor {floor:.1%}; {counts})"
            )
            (decided if high < floor else undecided).append(text)
    drops = class_drop_interval(models["per_class"], rules.check_confidence, rules.interval) if "accuracy" in gated else None
    if drops is not None and drops[1] > spec.param("class_drop"):
        worst = min(models["per_class"].items(), key=lambda item: item[1]["change"])
        text = (
            f"class {worst[0]!r} accuracy fell from {worst[1]['baseline']:.3f} to {worst[1]['candidate']:.3f}, the largest class drop "
            f"in [{drops[0]:.3f}, {drops[1]:.3f}] (tolerated drop {spec.param('class_drop'):g})"
        )
        (decided if drops[0] > spec.param("class_drop") else undecided).append(text)
    return decided, undecided


def _robustness_reasons(robustness: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The metrics whose regression is decided (by a paired interval, or by the estimate where there
    is none, and the score), and those whose paired interval leaves it undecided."""
    decided: list[str] = []
    undecided: list[str] = []
    for metric in robustness["metrics"]:
        if metric["decision"] in ("regressed", "inconclusive"):
            change = "NaN" if metric["change"] is None else f"{metric['change']:+.4f}"
            name = metric["id"] if metric["id"] == metric["metric"] else f"{metric['id']} {metric['metric']}"
            text = f"{name} {_number(metric['baseline'])} -> {_number(metric['candidate'])} ({change}, tolerance {metric['tolerance']:g})"
            (decided if metric["decision"] == "regressed" else undecided).append(text)
    if robustness["score"]["regressed"]:
        score = robustness["score"]
        decided.append(f"robustness score {score['baseline']:.1f} -> {score['candidate']:.1f} (tolerated drop {score['tolerance']:g})")
    return decided, undecided


def rollback(
    spec: CheckSpec, comparison: dict[str, Any], candidate: str, rules: VerdictRules, agreement: tuple[float, float, float, int] | None = None
) -> dict[str, Any]:
    """Whether rolling back is indicated: yes when a gate check's interval decides a regression (its
    verdict is ``failed``), the same intervals the verdicts report; a regression the samples leave
    undecided (an ``inconclusive`` verdict) is listed as such, and indicates nothing. ``agreement``:
    the estimate, interval and n ``gate[agreement]`` decided on, where those are not the compared
    samples' (it drew more, or stopped early)."""
    reasons, undecided = _model_reasons(spec, comparison["models"], rules, agreement)
    if comparison["robustness"] is not None:
        more = _robustness_reasons(comparison["robustness"])
        reasons, undecided = reasons + more[0], undecided + more[1]
    baseline = comparison["baseline"]
    if reasons:
        verdict = f"ROLLBACK INDICATED: keep the baseline {baseline!r} in production; the candidate {candidate!r} regresses: " + "; ".join(reasons)
    elif undecided:
        verdict = (
            f"no rollback decided: the samples cannot tell whether the candidate {candidate!r} regresses from the baseline "
            f"{baseline!r} beyond tolerance: " + "; ".join(undecided)
        )
    else:
        verdict = f"no rollback indicated: the candidate {candidate!r} is within every tolerance of the baseline {baseline!r}"
    return {"indicated": bool(reasons), "reasons": reasons, "undecided": undecided, "verdict": verdict}
