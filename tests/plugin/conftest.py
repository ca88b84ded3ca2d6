"""Temp projects for plugin tests: a conftest.py declaring a model from the zoo, and a pyproject.toml."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _pytest.pytester as _pytester
import pytest
import zoo  # noqa: F401 - imported here, outside any project run: it puts examples/digits on sys.path for good

# A project's conftest.py imports the zoo too. Were that the first import, it would happen inside an
# in-process run, whose sys.path pytester restores when the test ends: examples/digits would leave sys.path
# while the zoo and its `model` module stayed imported, and a later test's subprocess that unpickles the
# zoo's models (the resources checks' measuring process) could not import `model`.

TESTS = Path(__file__).resolve().parents[1]


def _forgetting_only(root: Path) -> type[_pytester.SysModulesSnapshot]:
    """pytester's snapshot of ``sys.modules``, made to forget only the modules of the project under
    test (its files under ``root``, and any conftest.py, as an example's) when restored. pytester's own forgets every
    module imported since it was taken, and numpy, torch (its lazily imported parts too) and
    matplotlib break when imported twice in one process."""

    class Snapshot(_pytester.SysModulesSnapshot):
        keeps_libraries = True

        def __init__(self, preserve: Callable[[str], bool] | None = None) -> None:
            def keep(name: str) -> bool:
                path = getattr(sys.modules.get(name), "__file__", None) or ""
                project = path.startswith(str(root)) or os.path.basename(path) == "conftest.py"
                return not project or (preserve is not None and preserve(name))

            super().__init__(preserve=keep)

    return Snapshot

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


def run_pytest(pytester: pytest.Pytester, *args: str, isolated: bool = False, **kwargs: Any) -> pytest.RunResult:
    """Run pytest in ``pytester``'s project: in this process (torch, ART and the plugin are imported
    once per worker, not once per run: a plugin test takes a quarter of the time), or in a fresh one
    where the test needs it (signals, timeouts, a second interpreter's state), or for every run with
    ``PLUGIN_TESTS_IN_SUBPROCESS=1``."""
    if isolated or os.environ.get("PLUGIN_TESTS_IN_SUBPROCESS") == "1":
        return pytester.runpytest_subprocess(*args, **kwargs)
    for path in pytester.path.glob("test_*.py"):  # in one process, pytest imports a basename once
        known = sys.modules.get(path.stem)
        if known is not None and Path(getattr(known, "__file__", "") or "") != path:
            raise AssertionError(f"the project's {path.name} has the name of a module of this test run ({known.__file__}): rename it")
    snapshot = _forgetting_only(pytester.path)
    if not getattr(pytester._sys_modules_snapshot, "keeps_libraries", False):
        pytester._sys_modules_snapshot = snapshot()  # the one restored when the test ends
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_pytester, "SysModulesSnapshot", snapshot)
        return pytester.runpytest_inprocess(*args, **kwargs)


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

    def run(self, *args: str, isolated: bool = False) -> pytest.RunResult:
        return run_pytest(self.pytester, *args, isolated=isolated)

    def report(self, output: str = "mlguard-report") -> dict:
        return json.loads((self.pytester.path / output / "report.json").read_text())


@pytest.fixture
def project(pytester: pytest.Pytester) -> Project:
    return Project(pytester)


def zoo_project(pytester: pytest.Pytester, model: str, data: str, settings: str = "", module: str = "zoo") -> pytest.Pytester:
    """A project whose conftest.py declares the zoo's ``model()`` and ``data()`` (of ``module``: ``zoo``, or
    ``zoo_detection``), with ``settings`` appended to its pyproject.toml (``[tool.mlguard...]`` tables)."""
    pytester.makeconftest(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(TESTS)!r})
            import pytest
            import {module} as zoo

            @pytest.fixture(scope="session")
            def mlguard_model():
                return zoo.{model}()

            @pytest.fixture(scope="session")
            def mlguard_data():
                return zoo.{data}()
            """
        )
    )
    pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n" + settings)
    return pytester
