"""The suite plans only the inputs checks that apply to the project's pipeline (issue 13): an image
pipeline gets no ``inputs[missing-fields]``, a record pipeline none of the image checks, and a pipeline
of the other kind than the one declared stops the run with a usage error naming both places."""

from __future__ import annotations

import textwrap

import pytest
from conftest import Project, run_pytest

#: no family but inputs, and its checks by default
ONLY_INPUTS = """
[tool.mlguard]
samples = 60
[tool.mlguard.inputs]
isolation = "none"
max_examples = 5
""" + "".join(f"[tool.mlguard.{name}]\nenabled = false\n" for name in ("contract", "accuracy", "corruption", "attack", "calibration"))

IMAGE_CHECKS = ["corrupt-files", "odd-modes", "odd-resolutions", "dtypes", "same-content", "compression"]
ALL_CHECKS = ["corrupt-files", "odd-modes", "odd-resolutions", "dtypes", "missing-fields", "same-content", "compression"]


def write(pytester: pytest.Pytester, pipeline_fixture: str, pyproject: str = "") -> None:
    """The zoo's model and data (tests/plugin/conftest.py), with ``pipeline_fixture`` and only the inputs family."""
    Project(pytester).write(pipeline=None, pyproject=ONLY_INPUTS + pyproject)
    conftest = pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + "\nfrom pytest_mlguard import Pipeline\n" + textwrap.dedent(pipeline_fixture))


def planned(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = run_pytest(pytester, "--mlguard", "--collect-only", "-q", *args)
    assert result.ret == 0, result.stdout.str()
    return [line.split("::inputs[")[1].rstrip("]") for line in result.stdout.lines if "::inputs[" in line]


LITERAL_IMAGE = """
    @pytest.fixture(scope="session")
    def mlguard_pipeline():
        return Pipeline(zoo.DigitsService().predict, rejects=zoo.InvalidImage, input="image-bytes", name="service")
    """
LITERAL_RECORD = """
    @pytest.fixture(scope="session")
    def mlguard_pipeline():
        return zoo.wine_pipeline()  # Pipeline(..., input="record") in tests/zoo.py: followed
    """
UNREADABLE = """
    @pytest.fixture(scope="session", params=["good_pipeline", "wine_pipeline"])
    def mlguard_pipeline(request):
        return getattr(zoo, request.param)()
    """


def test_an_image_pipeline_gets_no_record_checks(pytester):
    write(pytester, LITERAL_IMAGE)
    assert planned(pytester) == IMAGE_CHECKS


def test_a_record_pipeline_gets_no_image_checks(pytester):
    write(pytester, LITERAL_RECORD)
    assert planned(pytester) == ["dtypes", "missing-fields", "same-content"]


def test_a_pipeline_whose_kind_the_source_does_not_tell_gets_every_check_unless_declared(pytester):
    write(pytester, UNREADABLE)
    both = [f"{check}-{param}" for param in ("good_pipeline", "wine_pipeline") for check in ALL_CHECKS]
    assert planned(pytester) == both
    assert planned(pytester, "--mlguard-set", "inputs.pipeline=image") == [c for c in both if not c.startswith("missing-fields")]


def test_an_explicit_list_of_checks_is_kept(pytester):
    write(pytester, LITERAL_IMAGE, '[tool.mlguard.inputs.budgets]\n"missing-fields" = 5\n')
    assert planned(pytester, "--mlguard-set", "inputs.checks=missing-fields,dtypes") == ["missing-fields", "dtypes"]


def test_the_skip_of_a_check_that_does_not_apply_names_the_setting(pytester):
    write(pytester, UNREADABLE)
    result = run_pytest(pytester, "--mlguard", "-k", "missing-fields-good", "-rs")
    result.assert_outcomes(skipped=1, deselected=len(ALL_CHECKS) * 2 - 1)
    result.stdout.fnmatch_lines(
        ['*inputs[[]missing-fields[]]: missing-fields applies to record pipelines; this pipeline takes image files*set inputs.pipeline = "image"*']
    )


@pytest.mark.parametrize(
    "fixture, setting, message",
    [
        (
            LITERAL_IMAGE,
            "--mlguard-set=inputs.pipeline=record",
            "*mlguard_pipeline: returned an image pipeline (Pipeline(..., input='image-bytes')) but the suite planned the inputs checks of "
            "a record pipeline from inputs.pipeline = 'record' (from command line (--mlguard-set inputs.pipeline=...)): "
            'set inputs.pipeline = "image" (or "auto"), or return a record pipeline',
        ),
        (
            # read at collection from the helper the fixture names, returned otherwise at run time
            """
            @pytest.fixture(scope="session")
            def mlguard_pipeline():
                if False:
                    return zoo.wine_pipeline()
                return globals()["zoo"].good_pipeline()
            """,
            "-p no:randomly",
            "*mlguard_pipeline: returned an image pipeline (Pipeline(..., input='image-bytes')) but the suite planned the inputs checks of "
            "a record pipeline from the Pipeline(...) that mlguard_pipeline in conftest.py builds, read at collection: "
            'declare the kind: inputs.pipeline = "image" in [tool.mlguard.inputs]',
        ),
    ],
)
def test_a_pipeline_of_the_other_kind_stops_the_run_naming_both_places(pytester, fixture, setting, message):
    write(pytester, fixture)
    result = run_pytest(pytester, "--mlguard", setting)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stdout.fnmatch_lines([message.replace("[", "[[]")])
    assert result.parseoutcomes().get("failed") == 1  # reported once, by the first inputs check
