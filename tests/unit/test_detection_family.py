"""The detection family's plan and settings: planned for the detection task only, checks made by name,
invalid settings rejected with the key and what was expected."""

from __future__ import annotations

import pytest

from pytest_mlguard.checks._registry import all_keys
from pytest_mlguard.config import resolve
from pytest_mlguard.detection import FAMILY, attack_eps, attack_norm, patch_side
from pytest_mlguard.errors import ConfigError


def _settings(**cli: object):
    return resolve(cli={"task": "detection", **cli}, environ={}, keys=all_keys())


def test_planned_for_the_detection_task_only():
    assert FAMILY.planned(resolve(cli={}, environ={}, keys=all_keys())) == []
    ids = [spec.id for spec in FAMILY.planned(_settings())]
    assert ids == ["detection[map]", "detection[map_50]", "detection[gaussian_noise-3]", "detection[mpc]", "detection[ece]", "detection[pgd-linf-1/255]"]


def test_no_corruptions_plan_no_mpc_and_checks_are_made_by_name():
    settings = _settings(**{"detection.corruptions": [], "detection.attacks": [], "detection.checks": ["ece"]})
    assert [spec.id for spec in FAMILY.planned(settings)] == ["detection[ece]"]
    cell = FAMILY.spec("fog-5", settings)
    assert (cell.param("corruption"), cell.param("severity"), cell.threshold.reference) == ("fog", 5, "clean")
    assert FAMILY.spec("ece", settings).kind == "ceiling"
    assert FAMILY.spec("pgd-linf-0.02", settings).param("eps") == 0.02
    l2 = FAMILY.spec("pgd-l2-0.5", settings)
    assert (l2.param("eps"), l2.param("norm"), l2.id) == (0.5, "l2", "detection[pgd-l2-0.5]")
    patch = FAMILY.spec("patch-24", settings)
    assert (patch.param("side"), patch.keywords, patch.threshold.reference) == (24, ("attack", "patch"), "clean")
    with pytest.raises(KeyError, match="expected a detection check"):
        FAMILY.spec("fog-6", settings)


@pytest.mark.parametrize(("name", "side"), [("patch-24", 24), ("patch-1", 1), ("patch-0", None), ("patch-4097", None), ("patch-2.5", None), ("patch-", None), ("pgd-linf-1/255", None)])
def test_patch_side(name, side):
    assert patch_side(name) == side


@pytest.mark.parametrize(
    ("name", "eps", "norm"),
    [
        ("pgd-linf-1/255", 1 / 255, "linf"),
        ("pgd-linf-0.03", 0.03, "linf"),
        ("pgd-linf-0", None, None),
        ("pgd-linf-2", None, None),
        ("pgd-l2-0.5", 0.5, "l2"),
        ("pgd-l2-2", 2.0, "l2"),
        ("pgd-l2-0", None, None),
        ("pgd-l2-inf", None, None),
        ("pgd-l1-0.5", None, None),
        ("pgd-linf-x", None, None),
        ("pgd-linf-1/0", None, None),
    ],
)
def test_attack_eps_and_norm(name, eps, norm):
    assert (attack_eps(name), attack_norm(name)) == (eps, norm)


INVALID = [
    ({"detection.checks": ["mAP"]}, "'detection.checks[0]'", "one of 'map', 'map_50', 'ece'"),
    ({"detection.attacks": ["pgd-l1-0.5"]}, "'detection.attacks[0]'", "an attack 'pgd-linf-<eps>'"),
    ({"detection.attacks": ["pgd-l2-0"]}, "'detection.attacks[0]'", "'pgd-l2-<eps>' with eps > 0"),
    ({"detection.attacks": ["patch-0"]}, "'detection.attacks[0]'", "'patch-<side>' in pixels"),
    ({"detection.patch_steps": 0}, "'detection.patch_steps'", "[1, 10000]"),
    ({"detection.corruptions": ["blurr"]}, "'detection.corruptions[0]'", "a corruption name"),
    ({"detection.severities": [6]}, "'detection.severities[0]'", "[1, 5]"),
    ({"detection.ece_ceiling": 1.5}, "'detection.ece_ceiling'", "a number in [0, 1]"),
    ({"detection.floor": "0.5*dirty"}, "'detection.floor'", "relative threshold"),
]


@pytest.mark.parametrize(("cli", "key", "expected"), INVALID)
def test_invalid_settings_name_the_key_and_what_was_expected(cli, key, expected):
    with pytest.raises(ConfigError) as info:
        _settings(**cli)
    assert key in str(info.value) and expected in str(info.value)


def test_the_report_figure_draws_map_against_severity_with_mpc_and_rpc():
    from pytest_mlguard.detection._figures import curves

    checks = [
        {"id": "detection[map]", "value": 0.75, "passed": True, "details": {}},
        {"id": "detection[fog-1]", "value": 0.7, "passed": True, "details": {"corruption": "fog", "severity": 1}},
        {"id": "detection[fog-5]", "value": 0.2, "passed": False, "details": {"corruption": "fog", "severity": 5}},
        {"id": "detection[mpc]", "value": 0.45, "passed": True, "details": {"mPC": 0.45, "rPC": 0.6}},
    ]
    (figure,) = curves("shapes", checks)
    assert figure["png"] and "mPC 0.450, rPC 0.600" in figure["caption"]
    assert curves("shapes", checks[:1]) == []


def test_the_terminal_summary_prints_mpc_and_rpc_of_each_model_and_map_by_severity():
    from pytest_mlguard.detection._report import summary_lines

    cells = [{"corruption": name, "severity": s, "map": m} for name, s, m in [("fog", 1, 0.7), ("fog", 3, 0.6), ("jpeg_compression", 3, 0.5)]]
    checks = [
        {"id": "detection[mpc]", "model": "a", "family": "detection", "details": {"mPC": 0.6, "rPC": 0.75, "clean_map": 0.8, "cells": cells}},
        {"id": "detection[map]", "model": "a", "family": "detection", "details": {"map": 0.8}},
        {"id": "detection[mpc]", "model": "blind", "family": "detection", "details": {"mPC": 0.0, "rPC": None, "clean_map": 0.0, "cells": cells[:1]}},
        {"id": "detection[mpc]", "model": "broken", "family": "detection", "details": {}},  # the check raised: no line
    ]
    assert list(summary_lines(checks)) == [
        "a: mPC 0.6000 (mean mAP over 3 corruption cells), rPC 0.750 (of the clean mAP 0.8000)",
        "  fog               severity 1: 0.700  3: 0.600",
        "  jpeg_compression  severity 3: 0.500",
        "blind: mPC 0.0000 (mean mAP over 1 corruption cell), rPC n/a (of the clean mAP 0.0000)",
        "  fog  severity 1: 0.700",
    ]
