"""The inputs checks as a user runs them: broken pipelines in one session, the replay command, and
the digits and tabular examples end to end."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from conftest import run_pytest

TESTS = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS.parent / "examples"

BROKEN = {
    # zoo function: (pipeline name, the check it fails, what the failure says, what the shrunk input is)
    "index_error_pipeline": ("index-error", "corrupt-files", "raised undeclared IndexError: list index out of range", "truncated at 8 of"),
    "abort_on_tiny_pipeline": ("abort-on-1x1", "odd-resolutions", "crashed the worker process: killed by SIGABRT", "PNG 1x1 L"),
    "hang_on_empty_pipeline": ("hang-on-empty", "corrupt-files", "hung: no answer within 1 s", "truncated at 0 of"),
    "unbounded_allocation_pipeline": ("allocates-declared-size", "corrupt-files", "ran out of memory: MemoryError", ""),
}


@pytest.fixture
def broken_project(pytester: pytest.Pytester) -> pytest.Pytester:
    conftest = f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import pytest
        import zoo

        @pytest.fixture(scope="session")
        def mlguard_model():
            return zoo.good_model()

        @pytest.fixture(scope="session")
        def mlguard_data():
            return zoo.digits()

        @pytest.fixture(scope="session", params={list(BROKEN)!r})
        def mlguard_pipeline(request):
            return getattr(zoo, request.param)()
        """
    pytester.makeconftest(textwrap.dedent(conftest))
    pytester.makefile(
        ".toml",
        pyproject="""
        [tool.pytest.ini_options]
        addopts = '-p no:cacheprovider'
        [tool.mlguard]
        samples = 60
        [tool.mlguard.inputs]
        checks = ["corrupt-files", "odd-resolutions"]
        max_examples = 30
        max_side = 256
        timeout = 1
        memory_mb = 512
        time_budget = 60
        """,
    )
    return pytester


@pytest.mark.slow
def test_broken_pipelines_fail_the_right_check_and_the_session_survives(broken_project):
    # each pipeline with the check it fails, and index-error with the one it passes
    select = "inputs and ((corrupt and not abort) or (resolutions and abort) or (resolutions and index))"
    result = run_pytest(broken_project, "--mlguard", "-k", select, "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert (outcomes.get("failed"), outcomes.get("passed")) == (4, 1), result.stdout.str()[-3000:]
    report = json.loads((broken_project.path / "mlguard-report" / "report.json").read_text())
    assert len(report["checks"]) == 5  # every item ran to a verdict: no crash, hang or blow-up ended the session
    output = result.stdout.str()
    for fixture, (name, check, detail, shrunk) in BROKEN.items():
        result.stdout.fnmatch_lines([f"FAILED *::mlguard::inputs[[]{check}-{fixture}[]]*"])
        failed = next(c for c in report["checks"] if c["id"] == f"inputs[{check}]" and c["details"]["pipeline"] == name)
        assert not failed["passed"]
        found = [f for f in failed["details"]["failures"] if f["input"] == "shrunk"]
        assert found and detail in found[0]["detail"] and shrunk in found[0]["what"], (fixture, failed["details"]["failures"])
        assert Path(found[0]["saved"]).is_file() and f"/{name}/shrunk" in found[0]["saved"]
    assert "shrunk by Hypothesis: evaluation sample 0 as PNG truncated at 8 of" in output

    # the replay command of a failure runs exactly the saved input again
    replay = re.search(r"replay the failing input: (pytest .*corrupt-files-index_error_pipeline.*)", output)
    assert replay, output[-3000:]
    args = [arg.strip("'") for arg in replay.group(1).split()[1:]]
    again = run_pytest(broken_project, *args)
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(
        ["*graceful_fraction 0.0000 < floor 1.0000*", "*replay-shrunk: replayed */index-error/shrunk.png", "*raised undeclared IndexError*"]
    )
    assert "replay the failing input" not in again.stdout.str()


def run_example(pytester: pytest.Pytester, target: Path, *args: str) -> tuple[pytest.RunResult, dict]:
    output = pytester.path / "report"
    result = run_pytest(pytester, "--mlguard", str(target), f"--mlguard-output={output}", "-p", "no:randomly", *args)
    return result, json.loads((output / "report.json").read_text())


@pytest.mark.slow
def test_tabular_example_passes_and_its_broken_variant_is_caught(pytester):
    fast = ("--mlguard-set", "inputs.max_examples=50")
    result, report = run_example(pytester, EXAMPLES / "tabular", *fast)
    # 9 of the service's suite (with skew[features], skew[predictions], slices[accuracy]),
    # 28 of the record suite (records/conftest.py: the tabular family, and skew and slices)
    result.assert_outcomes(passed=37)
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["inputs[corpus-bad-records]"]["n"] == 9 and checks["inputs[missing-fields]"]["passed"]
    assert checks["inputs[same-content]"]["passed"] and checks["inputs[same-content]"]["value"] == 1.0

    result, report = run_example(pytester, EXAMPLES / "tabular" / "broken", *fast)
    result.assert_outcomes(passed=6, failed=3)  # same-content passes: it reads fields by name; so do skew and slices
    missing = next(c for c in report["checks"] if c["id"] == "inputs[missing-fields]")
    shrunk = next(f for f in missing["details"]["failures"] if f["input"] == "shrunk")
    assert shrunk["detail"] == "returned NaN or inf probabilities" and re.fullmatch(r"record with missing-field '\w+'", shrunk["what"])
    record = json.loads(Path(shrunk["saved"]).read_text())
    assert len(record) == 12  # one of the 13 measurements missing
    result.stdout.fnmatch_lines(["*inputs[[]missing-fields[]] on model 'wine-lenient': graceful_fraction * < floor 1.0000*"])


@pytest.mark.slow
def test_digits_example_passes_every_inputs_check(pytester):
    result, report = run_example(pytester, EXAMPLES / "digits", "-k", "inputs", "--mlguard-samples", "120", "--mlguard-set", "inputs.max_examples=30")
    result.assert_outcomes(passed=7, deselected=result.parseoutcomes().get("deselected", 0))  # no missing-fields: an image pipeline
    ids = {c["id"]: c for c in report["checks"]}
    names = ("corpus-images", "corrupt-files", "odd-modes", "odd-resolutions", "dtypes", "same-content", "compression")
    assert set(ids) == {f"inputs[{name}]" for name in names}
    corpus = ids["inputs[corpus-images]"]
    manifest = json.loads((TESTS.parent / "corpora" / "manifest.json").read_text())
    assert len(manifest["files"]) == len(corpus["details"]["inputs"]) == corpus["details"]["files"]
    assert corpus["details"]["manifest"]["must_predict"] == sum(f["expect"] == "prediction" for f in manifest["files"])
    assert all(c["passed"] for c in ids.values())
    assert [p["quality"] for p in ids["inputs[compression]"]["details"]["curve"]] == [90, 75, 50, 30, 10] * 2
    same = ids["inputs[same-content]"]
    assert same["value"] == 1.0 and len(same["details"]["encodings"]) == 25 and same["interval"] is not None


@pytest.mark.slow
def test_pipelines_that_misread_the_picture_fail_same_content_only(pytester):
    # the zoo's pipelines that ignore EXIF and clip 16-bit pictures are graceful on every input: only
    # the equivalence of encodings catches them, with the cause named
    conftest = f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        import pytest
        import zoo

        @pytest.fixture(scope="session")
        def mlguard_model():
            return zoo.good_model()

        @pytest.fixture(scope="session")
        def mlguard_data():
            return zoo.digits()

        @pytest.fixture(scope="session", params=["ignores_exif_pipeline", "clips_16bit_pipeline"])
        def mlguard_pipeline(request):
            return getattr(zoo, request.param)()
        """
    pytester.makeconftest(textwrap.dedent(conftest))
    pytester.makefile(
        ".toml",
        pyproject=f"""
        [tool.pytest.ini_options]
        addopts = '-p no:cacheprovider'
        [tool.mlguard]
        samples = 60
        [tool.mlguard.inputs]
        checks = ["corrupt-files", "odd-modes", "odd-resolutions", "dtypes", "same-content"]
        corpora = [{str(TESTS.parent / "corpora" / "images")!r}]
        max_examples = 30
        max_side = 256
        [tool.mlguard.inputs.same_content]
        samples = 40
        """,
    )
    # in this process: tests/plugin/conftest.py imports the zoo before any run, so examples/digits, by
    # which the isolated workers load the zoo's pipelines, stays on sys.path after an earlier in-process run
    result = run_pytest(pytester, "--mlguard", "-k", "inputs", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert (outcomes.get("failed"), outcomes.get("passed")) == (2, 10), result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(
        [
            "FAILED *inputs[[]same-content-ignores_exif_pipeline[]]*",
            "FAILED *inputs[[]same-content-clips_16bit_pipeline[]]*",
        ]
    )
    output = result.stdout.str()
    assert "EXIF orientation ignored: apply it before reading the pixels" in output
    assert "16-bit pixels clipped or cut to 8 bits" in output
