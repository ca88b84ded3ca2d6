"""The GitHub Actions outputs as plain functions of a report: workflow-command escaping (GitHub's
runner unescapes ``%25``, ``%0D``, ``%0A``, and in properties ``%3A`` and ``%2C``), where a check is
declared, and the commands of checks that ended without a measurement."""

from __future__ import annotations

import pytest

from pytest_mlguard.reporting._github import annotation_lines, declaration, escape_data, escape_property


@pytest.mark.parametrize(
    ("escape", "text", "expected"),
    [
        (escape_data, "100% sure\r\nnext: a, b", "100%25 sure%0D%0Anext: a, b"),
        (escape_data, "%0A stays literal", "%250A stays literal"),
        (escape_property, "m::accuracy, 50%\n", "m%3A%3Aaccuracy%2C 50%25%0A"),
    ],
)
def test_escaping(escape, text, expected):
    assert escape(text) == expected


def test_a_custom_test_is_declared_by_its_function(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_robust.py").write_text("import pytest\n\n\n@pytest.mark.parametrize('x', [1])\ndef test_noise(x):\n    pass\n")
    assert declaration("tests/test_robust.py::test_noise[1]", tmp_path, None) == ("tests/test_robust.py", 5)
    assert declaration("tests/test_robust.py::test_noise[1]", tmp_path, tmp_path.parent) == (f"{tmp_path.name}/tests/test_robust.py", 5)
    assert declaration("tests/gone.py::test_noise", tmp_path, None) == ("tests/gone.py", None)  # no line where the file cannot be read
    assert declaration("", tmp_path, None) is None


def test_a_check_without_a_measurement_is_an_error_and_passed_checks_say_nothing():
    report = {
        "checks": [{"id": "accuracy", "model": "m", "metric": "accuracy", "value": 0.99, "floor": 0.9, "threshold": "0.9", "n": 10, "passed": True, "verdict": "passed"}],
        "errors": [{"id": "attack[pgd]", "model": "m", "kind": "timeout", "reason": "no answer in 60 s,\nstopped", "nodeid": "conftest.py::mlguard::attack[pgd]"}],
    }
    lines = list(annotation_lines(report, lambda nodeid: ("conftest.py", 3), lambda nodeid: f"pytest {nodeid}"))
    assert lines == ["::error file=conftest.py,line=3,title=mlguard m%3A%3Aattack[pgd] error (timeout)::no answer in 60 s,%0Astopped"]
