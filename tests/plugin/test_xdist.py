"""pytest-xdist and CI: the model is loaded once per worker, results merge on the controller, and
JUnit XML carries each suite item's metric, value and floor as properties."""

from __future__ import annotations

import collections
import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
CONFTEST = f"""
import os, sys
sys.path.insert(0, {str(TESTS)!r})
import pytest
import zoo

@pytest.fixture(scope="session")
def mlguard_model():
    with open("loads.txt", "a") as log:  # one line per load, naming the process that loaded it
        log.write(os.environ.get("PYTEST_XDIST_WORKER", "controller") + "\\n")
    return zoo.good_model()

@pytest.fixture(scope="session")
def mlguard_data():
    return zoo.digits()
"""


def test_each_worker_gets_its_share_of_the_cores_unless_the_user_chose(monkeypatch, tmp_path):
    import os
    import sys
    import types

    from pytest_mlguard._session import share_cores

    calls = []
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(set_num_threads=calls.append))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    root = tmp_path  # no cgroup quota (tests/unit/test_cores.py fakes them)
    assert share_cores(4, root=root) == 4 and calls == [4]
    assert share_cores(32, root=root) == 1  # never below one thread
    assert share_cores(1, root=root) is None  # a serial run keeps torch's default
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert share_cores(4, root=root) is None and calls == [4, 1]
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert share_cores(4, root=root) is None  # no torch in use: nothing to share


LAYOUT_PYPROJECT = """
[tool.pytest.ini_options]
addopts = "-p no:cacheprovider"
[tool.mlguard]
samples = 120
[tool.mlguard.corruption]
corruptions = ["gaussian_noise", "defocus_blur"]
severities = [3]
[tool.mlguard.attack]
checks = ["fgsm-linf-0.1", "pgd-linf-0.1", "square-linf-0.1"]
steps = 5
queries = 100
floor = 0.3
"""


def _comparable(report: dict) -> dict:
    """report.json less what measures the machine or the clock: resources checks, durations, and
    the corruption threads ``corruption.workers = "auto"`` chose from the CPU load it measured."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("duration_s", "workers")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    report = {**report, "checks": [c for c in report["checks"] if c["family"] != "resources"]}
    return strip(report)


def test_two_workers_load_the_model_once_each_and_give_the_serial_report_with_junit_properties(pytester, monkeypatch):
    """The same seed gives the same report.json whatever the xdist layout (resources aside): a check's
    evaluation counts do not depend on which checks ran before it in the same process. One torch
    thread in both runs: without it each worker gets its share of the cores, and a model's float
    reductions (so Square's random search) may differ in the last bits between thread counts.
    The run on two workers also loads the model once per worker (never on the controller), merges the
    results on the controller, which alone shows progress, and writes each item's JUnit properties."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    pytester.makeconftest(textwrap.dedent(CONFTEST))
    pytester.makefile(".toml", pyproject=LAYOUT_PYPROJECT)
    args = ("--mlguard", "-p", "no:randomly", "-k", "accuracy or corruption or attack or ece", "--mlguard-set", "progress.after=0")
    reports, loads = [], collections.Counter()
    for layout in ((), ("-n", "2", "--junitxml=junit.xml")):
        (pytester.path / "loads.txt").unlink(missing_ok=True)
        result = pytester.runpytest_subprocess(*args, *layout)
        result.assert_outcomes(passed=7)
        loads = collections.Counter((pytester.path / "loads.txt").read_text().split())
        reports.append(json.loads((pytester.path / "mlguard-report" / "report.json").read_text()))
    assert set(loads) <= {"gw0", "gw1"} and set(loads.values()) == {1}, loads  # once per worker, never on the controller
    assert (pytester.path / "mlguard-report" / "report.html").is_file()
    assert "mlguard [" not in result.stdout.str()  # workers show no progress lines: the controller shows each item
    ids = ["accuracy", "corruption[defocus_blur-3]", "corruption[gaussian_noise-3]", "attack[fgsm-linf-0.1]", "attack[pgd-linf-0.1]", "attack[square-linf-0.1]", "calibration[ece]"]
    assert [c["id"] for c in reports[1]["checks"]] == ids
    assert_junit_properties(pytester.path / "junit.xml", reports[1])
    serial, parallel = (_comparable(r) for r in reports)
    assert [c["id"] for c in serial["checks"]] == [c["id"] for c in parallel["checks"]]
    for ours, theirs in zip(serial["checks"], parallel["checks"]):
        assert ours == theirs, ours["id"]
    assert serial == parallel


def assert_junit_properties(junit: Path, report: dict) -> None:
    """Each suite item's testcase carries its check's model, metric, value, floor or ceiling, threshold, n,
    verdict and interval as JUnit properties."""
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    by_id = {c["id"]: c for c in report["checks"]}
    assert set(cases) == set(by_id)
    assert {"floor", "ceiling"} <= {"floor" if "floor" in check else "ceiling" for check in by_id.values()}  # both kinds met
    for name, case in cases.items():
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        check = by_id[name]
        kind = "floor" if "floor" in check else "ceiling"
        assert properties == {
            "mlguard_model": "digits",
            "mlguard_metric": check["metric"],
            "mlguard_value": str(check["value"]),
            f"mlguard_{kind}": str(check[kind]),
            "mlguard_threshold": check["threshold"],
            "mlguard_n": str(check["n"]),
            "mlguard_passed": "True",
            "mlguard_verdict": check["verdict"],
            **({"mlguard_interval": str([check["interval"]["low"], check["interval"]["high"]])} if check["interval"] else {}),
        }, name


MASKED_CONFTEST = CONFTEST.replace("zoo.good_model()", "zoo.rounding_model()")
MASKED_PYPROJECT = """
[tool.pytest.ini_options]
addopts = "-p no:cacheprovider"
[tool.mlguard]
samples = 48
[tool.mlguard.verdict]
early_stop = "off"
[tool.mlguard.attack]
checks = ["pgd-linf-0.1", "square-linf-0.1"]
steps = 5
queries = 30
floor = 0.4
[tool.mlguard.contract]
enabled = false
"""


def test_black_box_beats_white_box_is_found_whatever_the_xdist_layout(pytester, monkeypatch):
    """Square against PGD at one epsilon is compared in the process that runs both: the attack checks
    of a suite go to one worker together, in their order, so the check that carries the soundness
    failure, its value and its counts are those of a serial run. With two items and two workers,
    xdist's ``load`` and ``worksteal`` hand one item to each worker (the soundness failure was lost)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    pytester.makeconftest(textwrap.dedent(MASKED_CONFTEST))
    pytester.makefile(".toml", pyproject=MASKED_PYPROJECT)
    args = ("--mlguard", "-p", "no:randomly", "-k", "attack", "--mlguard-set", "progress.after=0")
    reports = []
    for layout in ((), ("-n", "2"), ("-n", "2", "--dist", "worksteal")):
        result = pytester.runpytest_subprocess(*args, *layout)
        result.assert_outcomes(failed=2)
        result.stdout.fnmatch_lines(["*attack[[]square-linf-0.1[]] on model 'rounding': *fails, unsound evaluation (black-box-beats-white-box)"])
        reports.append(_comparable(json.loads((pytester.path / "mlguard-report" / "report.json").read_text())))
    serial = reports[0]
    codes = {c["id"]: [p["code"] for p in c["details"]["soundness"]["problems"]] for c in serial["checks"]}
    assert codes == {"attack[pgd-linf-0.1]": ["zero-gradients"], "attack[square-linf-0.1]": ["black-box-beats-white-box"]}
    for parallel in reports[1:]:
        for ours, theirs in zip(serial["checks"], parallel["checks"]):
            assert ours == theirs, ours["id"]
        assert serial == parallel


def test_the_scheduler_sends_a_suites_attack_checks_as_one_unit_and_everything_else_alone():
    from pytest_mlguard._scheduling import SuiteScheduling

    scheduler = SuiteScheduling.__new__(SuiteScheduling)  # the unit of a node id needs no workers
    scheduler.together = ("attack",)
    units = {
        nodeid: scheduler._split_scope(nodeid)
        for nodeid in (
            "a/conftest.py::mlguard::attack[pgd-linf-0.1]",
            "a/conftest.py::mlguard::attack[square-linf-0.1]",
            "b/conftest.py::mlguard::attack[pgd-linf-0.1]",
            "a/conftest.py::mlguard::corruption[gaussian_noise-3]",
            "a/conftest.py::mlguard::accuracy",
            "tests/test_attack.py::test_x[1]",
            "tests/test_g.py::test_y@mine",  # a user's xdist_group under --dist loadgroup
        )
    }
    assert units == {
        "a/conftest.py::mlguard::attack[pgd-linf-0.1]": "a/conftest.py::mlguard::attack",
        "a/conftest.py::mlguard::attack[square-linf-0.1]": "a/conftest.py::mlguard::attack",
        "b/conftest.py::mlguard::attack[pgd-linf-0.1]": "b/conftest.py::mlguard::attack",
        "a/conftest.py::mlguard::corruption[gaussian_noise-3]": "a/conftest.py::mlguard::corruption[gaussian_noise-3]",
        "a/conftest.py::mlguard::accuracy": "a/conftest.py::mlguard::accuracy",
        "tests/test_attack.py::test_x[1]": "tests/test_attack.py::test_x[1]",
        "tests/test_g.py::test_y@mine": "mine",
    }
