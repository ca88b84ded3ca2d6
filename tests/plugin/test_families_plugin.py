"""Families from outside: a conftest's ``pytest_mlguard_families`` hook, the ``pytest_mlguard.families``
entry-point group, and examples/custom_family, planned, run, reported, scored and badged."""

from __future__ import annotations

import json
import textwrap

import pytest
from conftest import TESTS, Project, run_pytest

EXAMPLE = TESTS.parent / "examples" / "custom_family"

#: a family declared in a conftest: accuracy on digits flipped left to right, with its own settings
FLIP_FAMILY = """
from pytest_mlguard.checks import CheckSpec, Family, Measurement
from pytest_mlguard.config import Key, Threshold
from pytest_mlguard.config.parse import parse_threshold


def run_flip(spec, evaluation):
    flipped = evaluation.data.x[..., ::-1].copy()
    correct = evaluation.model.predict_proba(flipped).argmax(axis=1) == evaluation.data.y
    return Measurement(value=float(correct.mean()), n=len(correct), clean=evaluation.clean_accuracy(), successes=int(correct.sum()))


FLIP = Family(
    name="flip",
    keys=(Key("flip.floor", parse_threshold, Threshold(0.1), "floor of accuracy on flipped digits"),),
    plan=lambda settings: [CheckSpec("flip", "horizontal", "accuracy", settings.get("flip.floor"))],
    run=run_flip,
    doc="accuracy on digits flipped left to right",
)


def pytest_mlguard_families(config):
    return {returned}
"""

#: the digits model's accuracy and the family under test only
ONLY_ACCURACY = "[tool.mlguard]\nsamples = 120\n" + "".join(
    f"[tool.mlguard.{name}]\nenabled = false\n" for name in ("contract", "corruption", "attack", "calibration", "inputs")
)


def write(pytester: pytest.Pytester, returned: str = "[FLIP]", pyproject: str = ONLY_ACCURACY) -> None:
    """The suite's temp project (tests/plugin/conftest.py) with the family added to its conftest.py."""
    Project(pytester).write(pipeline=None, pyproject=pyproject)
    conftest = pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + FLIP_FAMILY.format(returned=returned))


def test_a_conftest_family_is_planned_run_and_in_the_report_score_and_badges(pytester):
    write(pytester, pyproject=ONLY_ACCURACY + "[tool.mlguard.flip]\nfloor = 0.9\n")
    result = run_pytest(pytester, "--mlguard", "-v")
    result.stdout.fnmatch_lines(["*conftest.py::mlguard::accuracy PASSED*", "*conftest.py::mlguard::flip?horizontal? FAILED*"])
    result.stdout.fnmatch_lines(["*digits::flip?horizontal?*accuracy * < floor 0.9000*FAILED*", "robustness score of digits: * (accuracy *, flip *)"])
    assert result.ret == 1  # the flipped digits fail the floor of pyproject.toml
    report = json.loads((pytester.path / "mlguard-report" / "report.json").read_text())
    assert [(c["id"], c["passed"]) for c in report["checks"]] == [("accuracy", True), ("flip[horizontal]", False)]
    assert report["checks"][1]["floor"] == 0.9 and report["checks"][1]["n"] == 120
    assert set(report["score_components"]["digits"]["components"]) == {"accuracy", "flip"}
    badge = json.loads((pytester.path / "mlguard-report" / "badge-flip.json").read_text())
    assert badge["label"] == "robustness: flip"
    assert "flip[horizontal]" in (pytester.path / "mlguard-report" / "report.html").read_text()


def test_an_empty_table_of_a_conftest_family_is_not_an_unknown_setting(pytester):
    """``[tool.mlguard.flip]`` with no setting in it (each commented out): the check made before the conftest
    files are imported stopped the run with "unknown mlguard setting 'flip'", a family the conftest declares."""
    write(pytester, pyproject=ONLY_ACCURACY + "[tool.mlguard.flip]\n# floor = 0.9\n")
    result = run_pytest(pytester, "--mlguard", "-k", "flip")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1, deselected=1)


def test_the_family_is_selected_with_k_and_its_settings_are_checked(pytester):
    write(pytester, pyproject=ONLY_ACCURACY + "[tool.mlguard.flip]\nfloor = 1.5\n")
    result = run_pytest(pytester, "--mlguard")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: invalid value 1.5 (type=float) for 'flip.floor' in pyproject.toml [[]tool.mlguard[]]: expected a number in [[]0, 1[]]*"])
    write(pytester)
    result = run_pytest(pytester, "--mlguard", "-k", "flip", "--mlguard-set", "flip.floor=0.05")
    result.assert_outcomes(passed=1, deselected=1)


@pytest.mark.parametrize(
    "returned, message",
    [
        ("'flip'", "ERROR: Expected a pytest_mlguard.checks.Family or a list of them but got families='flip' (type=str) in pytest_mlguard_families of *conftest.py"),
        ("[FLIP, 3]", "ERROR: Expected a pytest_mlguard.checks.Family but got family=3 (type=int) in pytest_mlguard_families of *conftest.py"),
        (
            "[FLIP.__class__(**{**FLIP.__dict__, 'name': 'accuracy'})]",
            "ERROR: Expected a new family name but got Family(name='accuracy') from the pytest_mlguard_families hook: a family of that name is already registered",
        ),
        (
            "[FLIP.__class__(**{**FLIP.__dict__, 'name': 'Flip-2'})]",
            "ERROR: Expected a family name of lower-case letters and underscores, such as 'text_length' but got Family.name='Flip-2' (type=str) in pytest_mlguard_families of *conftest.py",
        ),
    ],
)
def test_what_the_hook_returns_is_checked_with_a_clear_error(pytester, returned, message):
    write(pytester, returned=returned)
    result = run_pytest(pytester, "--mlguard")
    assert result.ret == 4
    result.stderr.fnmatch_lines([message])


def test_families_of_an_entry_point_are_in_the_registry_and_check_model(tmp_path, monkeypatch):
    from pytest_mlguard.checks import _registry as registry

    package = tmp_path / "site"
    (package / "mlguard_extra-0.1.dist-info").mkdir(parents=True)
    (package / "mlguard_extra-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: mlguard-extra\nVersion: 0.1\n")
    (package / "mlguard_extra-0.1.dist-info" / "entry_points.txt").write_text("[pytest_mlguard.families]\nextra = mlguard_extra:families\n")
    (package / "mlguard_extra.py").write_text(
        textwrap.dedent(
            """
            from pytest_mlguard.checks import CheckSpec, Family, Measurement
            from pytest_mlguard.config import Threshold

            def families():
                return [Family("extra", (), lambda s: [CheckSpec("extra", None, "share", Threshold(0.5))],
                               lambda spec, ev: Measurement(value=float((ev.data.y % 2 == 0).mean()), n=ev.data.n))]
            """
        )
    )
    monkeypatch.syspath_prepend(str(package))
    monkeypatch.setattr(registry, "_entry_points", None)  # loaded again, with the package on the path
    assert [f.name for f in registry.families()][-1] == "extra" and "extra.enabled" in {k.name for k in registry.all_keys()}
    import zoo
    from pytest_mlguard import check_model

    (result,) = check_model(zoo.good_model(), zoo.digits(), "extra")
    assert (result.id, result.family, result.n) == ("extra", "extra", 360) and 0 < result.value < 1
    assert "extra" not in [r.family for r in check_model(zoo.good_model(), zoo.digits(), settings={"extra.enabled": False, "attack.enabled": False, "corruption.enabled": False})]


def test_the_custom_family_example_runs_as_the_readme_says(pytester):
    output = pytester.path / "out"
    result = run_pytest(pytester, "--mlguard", str(EXAMPLE), "-p", "no:cacheprovider", f"--mlguard-output={output}")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["sentiment::text_length?first-4?  accuracy * >= floor *PASSED*", "robustness score of sentiment: * text_length *"])
    report = json.loads((output / "report.json").read_text())
    assert [c["id"] for c in report["checks"] if c["family"] == "text_length"] == ["text_length[first-12]", "text_length[first-4]", "text_length[first-8]"]
    assert "text_length" in report["score_components"]["sentiment"]["components"]
    html = (output / "report.html").read_text()
    assert (output / "badge-text_length.svg").exists() and "text_length[first-8]" in html
    assert 'data-plot="text_length"' in html  # the family's figure (Family.plots)
