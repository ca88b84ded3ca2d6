"""Production readiness as a user runs it: each broken model fails exactly the check built to catch it."""

from __future__ import annotations

import pytest
from conftest import FAST

# a 1-thread server with 768 MB; budgets generous enough for any machine that runs the tests
PRODUCTION = """
[tool.mlguard.server]
name = "test server"
threads = 1
memory_mb = 768
[tool.mlguard.resources]
latency_ms = { p95 = 10000 }
throughput = { 8 = 0.001 }
requests = 30
throughput_s = 0.05
[tool.mlguard.determinism]
checks = ["repeat", "threads", "batch"]
[tool.mlguard.drift]
checks = ["bfloat16", "threads", "torchscript", "int8"]
"""

BROKEN = {
    "good_model": set(),
    "thread_unsafe_model": {"determinism[threads]"},
    "batch_dependent_model": {"determinism[batch]"},
    "bfloat16_fragile_model": {"drift[bfloat16]"},
    "memory_hungry_model": {"resources[memory-inference]"},
}


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch):
    """One OpenMP thread in the test projects: the CI machine's cores are busy with other tests."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _fast(pyproject: str) -> str:
    """FAST with one attack (the production checks do not need two)."""
    return pyproject.replace('checks = ["fgsm-linf-0.1", "pgd-linf-0.1"]', 'checks = ["fgsm-linf-0.1"]')


def _failed(report):
    return {(c["model"], c["id"]) for c in report["checks"] if not c["passed"]}


@pytest.mark.slow
def test_each_broken_model_fails_exactly_its_check(project):
    project.write(params=list(BROKEN), pipeline=None, pyproject=_fast(FAST) + PRODUCTION)
    result = project.run("--mlguard")
    report = project.report()
    names = {"digits": "good_model", "thread-unsafe": "thread_unsafe_model", "batch-dependent": "batch_dependent_model",
             "bfloat16-fragile": "bfloat16_fragile_model", "memory-hungry": "memory_hungry_model"}
    failed = {(names[model], check) for model, check in _failed(report)}
    assert failed == {(model, check) for model, checks in BROKEN.items() for check in checks}, result.stdout.str()[-3000:]
    production = {c["id"] for c in report["checks"] if c["family"] in ("resources", "determinism", "drift")}
    assert len(production) == 10 and all(names[c["model"]] in BROKEN for c in report["checks"])
    result.assert_outcomes(failed=4, passed=len(report["checks"]) - 4)
    result.stdout.fnmatch_lines(
        [
            "*determinism[[]threads[]] on model 'thread-unsafe': matching_fraction 0.* < floor 1.0000",
            "*samples changed between requests of 1 sample from 8 threads at once against the same requests one by one*",
            "*drift[[]bfloat16[]] on model 'bfloat16-fragile': agreement 0.* < floor 0.9900",
            "*resources[[]memory-inference[]] on model 'memory-hungry': peak_inference_mb * > ceiling 768.0000",
            "*peak resident memory after serving: * MB (Python and torch alone: * MB), as on server 'test server' "
            "(1 thread, 768 MB), measured on *",
        ]
    )
    latency = next(c for c in report["checks"] if c["id"] == "resources[latency-p95]")
    assert latency["details"]["machine"]["cpus"] >= 1 and latency["details"]["server"]["threads"] == 1


GATE = """
[tool.mlguard.gate]
checks = ["agreement", "accuracy", "robustness"]
"""

BASELINE = """
@pytest.fixture(scope="session")
def mlguard_baseline_model():
    return zoo.good_model()
"""


@pytest.mark.slow
def test_gate_fails_a_candidate_worse_than_production_and_says_roll_back(project):
    # the linear candidate passes every absolute floor here (attack floor 0.2), but is worse than the CNN
    pyproject = _fast(FAST).replace("floor = 0.4", "floor = 0.2") + GATE
    project.write(model="linear_model", pipeline=None, pyproject=pyproject)
    conftest = project.pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text() + BASELINE)
    result = project.run("--mlguard")
    report = project.report()
    failed = {check for _, check in _failed(report)}
    assert "gate[robustness]" in failed and failed <= {"gate[agreement]", "gate[accuracy]", "gate[robustness]"}, failed
    result.stdout.fnmatch_lines(
        [
            "*gate[[]robustness[]] on model 'linear': regressions * > ceiling 0.0000",
            "*ROLLBACK INDICATED: keep the baseline 'digits' in production; the candidate 'linear' regresses: *attack[[]fgsm-linf-0.1[]]*",
        ]
    )
    for check in report["checks"]:
        if check["family"] == "gate":
            assert check["details"]["rollback"]["indicated"] is True
            assert check["details"]["baseline"] == "digits"


def test_invalid_server_description_stops_the_run_naming_key_and_place(project):
    project.write(pipeline=None, pyproject=FAST + "[tool.mlguard.server]\nthreads = 0\n")
    result = project.run("--mlguard", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*invalid value 0 (type=int) for 'server.threads' in pyproject.toml [[]tool.mlguard[]]: expected an integer in [[]1, 1024[]]*"]
    )


CUSTOM = """
import pytest
from pytest_mlguard.production.determinism.functional import concurrent_diff

@pytest.mark.mlguard(settings={"drift.floor": 0.995})
def test_bfloat16_keeps_predictions(mlguard):
    mlguard.check("drift[bfloat16]")

@pytest.mark.mlguard(settings={"resources.latency_ms.p99": 10000, "server.threads": 1, "resources.requests": 20})
def test_p99_latency_on_one_thread(mlguard):
    result = mlguard.check("resources[latency-p99]")
    assert result.n == 20 and result.details["server"]["threads"] == 1

@pytest.mark.mlguard
def test_sixteen_clients_at_once(mlguard):
    with mlguard.model.running():
        found, errors = concurrent_diff(mlguard.model, mlguard.data.x[:64], threads=16)
    assert not errors and (found.diff <= 1e-6).all() and not found.flipped.any()

@pytest.mark.mlguard
def test_bfloat16_moves_probabilities_very_little(mlguard):
    mlguard.check("drift[bfloat16-proba]", ceiling=0.001)
"""


def test_custom_tests_use_the_production_checks_and_the_gate_needs_a_baseline(project):
    project.write(pipeline=None, pyproject=FAST + GATE)
    project.pytester.makepyfile(test_release_checks=CUSTOM)  # not a module name of this test suite: the run is in-process
    result = project.run("--mlguard", "test_release_checks.py", "conftest.py::mlguard::gate[agreement]")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(["*drift[[]bfloat16-proba[]] on model 'digits': max_proba_diff 0.0* > ceiling 0.0010*"])
    result.stdout.fnmatch_lines(["*gate[[]agreement[]] could not run: *define a fixture mlguard_baseline_model in conftest.py*"])
    assert {c["id"] for c in project.report()["checks"]} == {
        "drift[bfloat16]", "resources[latency-p99]", "drift[bfloat16-proba]"
    }
