"""Temp projects for plugin tests: a conftest.py declaring a model from the zoo, and a pyproject.toml."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

FAST = """
[tool.mlguard]
samples = 120
[tool.mlguard.accuracy]
floor = 0.85
[tool.mlguard.corruption]
floor = "0.7*clean"
[tool.mlguard.attack]
checks = ["fgsm-linf-0.1", "pgd-linf-0.1"]
steps = 5
floor = 0.4
[tool.mlguard.calibration]
ece_ceiling = 0.08
[tool.mlguard.inputs]
checks = ["corrupt-files"]  # the other inputs checks: tests/plugin/test_inputs_suite.py
isolation = "none"
max_examples = 20
[tool.mlguard.contract]
enabled = false  # the contract checks (train mode, other input sizes): tests/plugin/test_deployed_suite.py
"""


class Project:
    """A user's project in a pytester directory."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester

    def write(self, model: str = "good_model", pipeline: str | None = "good_pipeline", pyproject: str = FAST, params: list[str] | None = None) -> Project:
        if params:
            model_fixture = f"""
            @pytest.fixture(scope="session", params={params!r})
            def mlguard_model(request):
                return getattr(zoo, request.param)()
            """
        else:
            model_fixture = f"""
            @pytest.fixture(scope="session")
            def mlguard_model():
                return zoo.{model}()
            """
        pipeline_fixture = (
            f"""
            @pytest.fixture(scope="session")
            def mlguard_pipeline():
                return zoo.{pipeline}()
            """
            if pipeline
            else ""
        )
        conftest = f"""
            import sys
            sys.path.insert(0, {str(TESTS)!r})
            import pytest
            import zoo
            {model_fixture}
            @pytest.fixture(scope="session")
            def mlguard_data():
                return zoo.digits()
            {pipeline_fixture}
            """
        self.pytester.makeconftest(textwrap.dedent(conftest).replace("\n            ", "\n"))
        self.pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n" + pyproject)
        return self

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(*args)

    def report(self, output: str = "mlguard-report") -> dict:
        return json.loads((self.pytester.path / output / "report.json").read_text())


@pytest.fixture
def project(pytester: pytest.Pytester) -> Project:
    return Project(pytester)
