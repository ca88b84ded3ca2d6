"""A detector runs the families' checks, as a segmentation model does: accuracy (mAP, mAP@0.5), corruption
(mAP under each cell, mPC and rPC in the corruption summary), attack (robust mAP under PGD, FGSM, a patch) and
calibration (detection ECE); nothing that assumes one class vector per input is planned, and the report's
summary and figures label the metric."""

from __future__ import annotations

import pytest

from pytest_mlguard.attacks import patch_side
from pytest_mlguard.checks._registry import all_keys, families, family
from pytest_mlguard.config import resolve
from pytest_mlguard.errors import ConfigError


def _settings(**cli: object):
    return resolve(cli={"task": "detection", **cli}, environ={}, keys=all_keys())


def _planned(settings, names=("accuracy", "corruption", "attack", "calibration")) -> list[str]:
    return [spec.id for fam in families() if fam.name in names for spec in fam.planned(settings)]


def test_a_detector_plans_the_families_checks_in_its_metric():
    settings = _settings(**{"attack.checks": ["fgsm-linf-1/255", "pgd-linf-1/255", "pgd-linf-sweep", "deepfool-l2", "patch-24"], "calibration.checks": ["ece", "brier"]})
    assert _planned(settings) == [
        "accuracy[map]",
        "accuracy[map_50]",
        "corruption[gaussian_noise-3]",
        "attack[fgsm-linf-1/255]",
        "attack[pgd-linf-1/255]",
        "attack[patch-24]",
        "calibration[ece]",
    ]
    metrics = {spec.id: spec.metric for fam in families() for spec in fam.planned(settings)}
    assert (metrics["accuracy[map]"], metrics["accuracy[map_50]"], metrics["corruption[gaussian_noise-3]"], metrics["attack[pgd-linf-1/255]"], metrics["attack[patch-24]"]) == (
        "map",
        "map_50",
        "map",
        "robust_map",
        "robust_map",
    )
    assert "detection" not in [fam.name for fam in families()]  # no family of its own: the task's measurements


def test_a_patch_is_planned_for_a_detector_only_and_takes_its_steps_and_floor():
    checks = {"attack.checks": ["pgd-linf-1/255", "patch-24"], "attack.patch_steps": 3, "attack.floors": {"patch-24": "0.2*clean"}}
    patch = family("attack").spec("patch-24", _settings(**checks))
    assert (patch.param("attack"), patch.param("side"), patch.param("steps"), (patch.threshold.value, patch.threshold.reference)) == ("patch", 24, 3, (0.2, "clean"))
    for task in ("classification", "segmentation"):
        assert [spec.id for spec in family("attack").planned(resolve(cli={"task": task, **checks}, environ={}, keys=all_keys()))] == ["attack[pgd-linf-1/255]"]


@pytest.mark.parametrize(("name", "side"), [("patch-24", 24), ("patch-1", 1), ("patch-0", None), ("patch-4097", None), ("patch-2.5", None), ("patch-", None), ("pgd-linf-1/255", None)])
def test_patch_side(name, side):
    assert patch_side(name) == side


def test_the_detection_floors_are_the_families_and_map_50_has_its_own():
    settings = _settings(**{"accuracy.floor": 0.6, "accuracy.floor_50": 0.85, "corruption.floor": "0.4*clean", "attack.floor": "0.5*clean"})
    specs = {spec.id: spec for fam in families() for spec in fam.planned(settings)}
    thresholds = [(specs[i].threshold.value, specs[i].threshold.reference) for i in ("accuracy[map]", "accuracy[map_50]", "corruption[gaussian_noise-3]", "attack[pgd-linf-2/255]")]
    assert thresholds == [(0.6, None), (0.85, None), (0.4, "clean"), (0.5, "clean")]
    assert specs["calibration[ece]"].kind == "ceiling"


INVALID = [
    ({"attack.checks": ["patch-0"]}, "'attack.checks[0]'", "an attack name"),
    ({"attack.patch_steps": 0}, "'attack.patch_steps'", "[1, 10000]"),
    ({"accuracy.floor_50": "0.5*dirty"}, "'accuracy.floor_50'", "relative threshold"),
]


@pytest.mark.parametrize(("cli", "key", "expected"), INVALID)
def test_invalid_settings_name_the_key_and_what_was_expected(cli, key, expected):
    with pytest.raises(ConfigError) as info:
        _settings(**cli)
    assert key in str(info.value) and expected in str(info.value)


def _cell(name: str, severity: int, value: float, passed: bool = True) -> dict:
    details = {"corruption": name, "severity": severity, "metric": "map", "clean_accuracy": 0.8, "clean_map": 0.8}
    return {"id": f"corruption[{name}-{severity}]", "model": "shapes", "family": "corruption", "value": value, "passed": passed, "details": details}


CELLS = [_cell("fog", 1, 0.7), _cell("fog", 3, 0.6), _cell("jpeg_compression", 3, 0.5, passed=False)]


def test_the_corruption_summary_gives_a_detectors_mpc_and_rpc_over_map_and_the_terminal_prints_them():
    from pytest_mlguard.corruptions._metrics import summarize
    from pytest_mlguard.corruptions._report import summary_lines

    summary = summarize(CELLS)["shapes"]
    assert (summary["metric"], summary["mPC"], summary["rPC"], summary["clean_accuracy"]) == ("map", pytest.approx(0.6), pytest.approx(0.75), 0.8)
    assert summary["corruptions"]["fog"]["mean_accuracy"] == pytest.approx(0.65)
    assert next(iter(summary_lines({"shapes": summary}))) == "shapes: mPC 0.6000 (mean mAP over 3 corruption checks), rPC 0.750 (of the clean mAP 0.8000)"


def test_the_figures_label_the_axes_by_the_tasks_metric():
    from pytest_mlguard.corruptions._figures import curves
    from pytest_mlguard.reporting.plots import metric_label

    (figure,) = curves("shapes", CELLS)
    assert figure["caption"].startswith("mAP (IoU 0.5:0.95) against corruption severity, from the clean mAP") and "mPC 0.600, rPC 0.750" in figure["caption"]
    assert metric_label(CELLS) == "mAP (IoU 0.5:0.95)" and metric_label([{"details": {"metric": "robust_miou"}}]) == "mIoU"
    assert metric_label([{"details": {"metric": "robust_accuracy"}}]) == "accuracy"


def test_the_reliability_diagram_says_what_its_bins_hold_for_each_task():
    from pytest_mlguard.calibration._figures import reliability
    from pytest_mlguard.reporting.plots import reliability_diagram

    bins = {"accuracy": [0.5, 1.0], "confidence": [0.7, 0.6], "count": [4, 1]}
    held = {"detection_ece": "share of true positives (IoU 0.5)", "pixel_ece": "pixel accuracy", "ece": "accuracy"}
    for metric, label in held.items():
        check = {"model": "m", "id": "calibration[ece]", "metric": "ece", "value": 0.1, "details": {"metric": metric, "reliability": bins}}
        top = reliability_diagram(check, bins).axes[0]
        assert top.get_ylabel() == label and sorted(top.get_legend_handles_labels()[1]) == sorted([label, f"{label} above confidence", f"confidence above {label}", "perfect calibration"])
        (figure,) = reliability("m", [check])
        assert figure["caption"].startswith(f"Reliability diagram (calibration[ece]): {label} of each confidence bin")


def test_the_patch_attack_has_its_point_on_the_attack_figure_at_its_side():
    from pytest_mlguard.attacks._figures import curves

    details = {"metric": "robust_map", "clean_accuracy": 0.8}
    pgd = {"id": "attack[pgd-linf-1/255]", "value": 0.6, "passed": True, "details": {**details, "attack": "pgd", "norm": "linf", "eps": 1 / 255}}
    patch = {"id": "attack[patch-24]", "value": 0.3, "passed": False, "details": {**details, "attack": "patch", "side": 24, "steps": 10}}
    (figure,) = curves("shapes", [patch])  # a patch alone: before, no figure (no epsilon)
    assert figure["alt"] == "robust mAP (IoU 0.5:0.95) against epsilon of shapes: patch (side in px)"
    assert "its point at the patch's side in pixels" in figure["caption"] and "patch" not in curves("shapes", [pgd])[0]["caption"]
    from pytest_mlguard.reporting.plots import attack_panels

    assert attack_panels([pgd, patch]) == {"linf": {"pgd-linf": [(1 / 255, 0.6, True)]}, "patch": {"patch (side in px)": [(24.0, 0.3, False)]}}
