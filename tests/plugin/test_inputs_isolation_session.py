"""No isolated worker process outlives the session that started it: an xdist worker or a process that
runs many sessions (pytester's in-process runs) does not pile them up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import Project

from pytest_mlguard.inputs.isolation import isolation_available

pytestmark = pytest.mark.skipif(not (isolation_available() and Path("/proc/self/stat").exists()), reason="needs os.fork and /proc (Linux)")

#: the inputs family only, one quick check, its pipeline in a worker process
ISOLATED = """
[tool.mlguard]
samples = 30
[tool.mlguard.inputs]
checks = ["odd-resolutions"]
isolation = "process"
max_examples = 3
max_side = 32
""" + "".join(f"[tool.mlguard.{name}]\nenabled = false\n" for name in ("contract", "accuracy", "corruption", "attack", "calibration"))


def zygotes() -> set[int]:
    """This process's children that run ``zygote_main``."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            command = (entry / "cmdline").read_bytes() if stat else b""
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields and int(fields[1]) == os.getpid() and fields[0] != "Z" and b"zygote_main" in command:
            found.add(int(entry.name))
    return found


#: a pipeline that needs no torch in its worker: the zygote starts in a fraction of a second
CONSTANT = """
from pytest_mlguard import Pipeline


def constant(data):
    return [0.1] * 10


@pytest.fixture(scope="session")
def mlguard_pipeline():
    return Pipeline(constant, input="image-bytes", name="constant")
"""


def test_no_zygote_outlives_its_session(pytester):
    before = zygotes()
    project = Project(pytester).write(pipeline=None, pyproject=ISOLATED)
    conftest = pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + CONSTANT)
    result = project.run("--mlguard", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert project.report()["checks"][0]["details"]["isolation"].startswith("process")
    assert zygotes() == before, "a zygote of the finished session is still running"
