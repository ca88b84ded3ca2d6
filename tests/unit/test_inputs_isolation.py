"""The isolated worker: a crash, a hang or a memory blow-up is an outcome, and the next input runs."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
import time
import types

import pytest

from pytest_mlguard.errors import CheckError, InvalidArgument
from pytest_mlguard.inputs.isolation import IsolatedPipeline, PipelineFactory, isolation_available

pytestmark = pytest.mark.skipif(not isolation_available(), reason="isolation needs os.fork and Unix sockets")


class Refused(ValueError):
    pass


def misbehave(raw: bytes) -> list[float]:
    if raw == b"abort":
        os.abort()
    if raw == b"segfault":
        ctypes.string_at(0)
    if raw == b"hang":
        time.sleep(60)
    if raw == b"memory":
        return [float(len(bytearray(2 * 1024**3)))]
    if raw == b"memory-stuck":  # an allocation that fails at the cap and is retried: never answers
        blocks = []
        while True:
            try:
                blocks.append(bytearray(8 * 1024**2))
            except MemoryError:
                time.sleep(0.01)
    if raw == b"exit":
        sys.exit(3)
    if raw == b"refuse":
        raise Refused("not a thing this pipeline reads")
    return [0.25, 0.75]


def make_predict(offset: float) -> object:
    return lambda raw: [offset, 1.0 - offset]


def test_crashes_hangs_and_memory_are_failures_and_the_worker_restarts():
    with IsolatedPipeline(misbehave, rejects=(Refused,), n_classes=2, timeout=1.0, memory_mb=256) as isolated:
        outcomes = {raw: isolated(raw) for raw in (b"ok", b"abort", b"segfault", b"hang", b"memory", b"exit", b"refuse", b"again")}
        assert outcomes[b"ok"].kind == outcomes[b"again"].kind == "prediction"
        assert outcomes[b"refuse"].kind == "rejection"
        details = {raw.decode(): outcome.detail for raw, outcome in outcomes.items() if outcome.kind == "failure"}
        assert details["abort"].startswith("crashed the worker process: killed by SIGABRT (Fatal Python error: Aborted")
        assert "test_inputs_isolation.py" in details["abort"]  # the frame of the pipeline that aborted
        assert details["segfault"].startswith("crashed the worker process: killed by SIGSEGV")
        assert details["hang"] == "hung: no answer within 1 s (the time budget inputs.timeout); worker killed"
        assert details["memory"] == "ran out of memory: MemoryError (the memory cap inputs.memory_mb = 256 MiB)"
        assert details["exit"] == "called sys.exit(3)"
        assert isolated.restarts == 3 and isolated.calls == 8  # abort, segfault, hang: a fresh worker each


def test_stuck_at_the_memory_cap_is_out_of_memory_not_a_hang():
    # under load, a memory blow-up may give no answer within the timeout: the worker's memory, not
    # the time it took, says which it was
    with IsolatedPipeline(misbehave, rejects=(), n_classes=2, timeout=2.0, memory_mb=256) as isolated:
        stuck, hang = isolated(b"memory-stuck"), isolated(b"hang")
    assert stuck.kind == "failure" and stuck.detail.startswith("ran out of memory: the worker's memory grew by "), stuck.detail
    assert "(the memory cap inputs.memory_mb = 256 MiB), and it gave no answer within 2 s; worker killed" in stuck.detail
    assert hang.detail == "hung: no answer within 2 s (the time budget inputs.timeout); worker killed"


def test_a_fresh_worker_is_cheap_after_a_crash():
    with IsolatedPipeline(misbehave, rejects=(), n_classes=2, timeout=5.0) as isolated:
        isolated(b"ok")
        start = time.perf_counter()
        for _ in range(5):
            assert isolated(b"abort").kind == "failure"
            assert isolated(b"ok").kind == "prediction"
        assert (time.perf_counter() - start) / 5 < 1.0  # a fork of the loaded zygote, not an interpreter start


def test_a_crash_in_a_conftest_pipeline_names_the_conftest_file(tmp_path):
    # functions of a conftest.py travel by value; the crash must still name the user's file and line
    source = tmp_path / "conftest.py"
    source.write_text("import os\n\n\nclass Service:\n    def predict(self, raw):\n        if raw == b'abort':\n            os.abort()\n        return [0.5, 0.5]\n")
    spec = importlib.util.spec_from_file_location("mlguard_test_conftest", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        with IsolatedPipeline(module.Service().predict, rejects=(), n_classes=2, timeout=5.0) as isolated:
            assert isolated(b"ok").kind == "prediction"
            crashed = isolated(b"abort")
    finally:
        del sys.modules[spec.name]
    assert "<dynamic-code>" not in crashed.detail
    assert f'File "{source}", line 7 in predict' in crashed.detail, crashed.detail


def test_factory_builds_the_pipeline_in_the_worker():
    factory = PipelineFactory("test_inputs_isolation:make_predict", 0.25)
    assert factory(b"") == [0.25, 0.75] and repr(factory) == "PipelineFactory('test_inputs_isolation:make_predict')"
    with IsolatedPipeline(factory, rejects=(), n_classes=2) as isolated:
        assert isolated(b"x").kind == "prediction"
    with pytest.raises(InvalidArgument, match="Expected 'module:function' but got target='no_colon'"):
        PipelineFactory("no_colon")


def test_unpicklable_pipeline_says_how_to_send_it():
    lock = threading.Lock()

    def locked(raw: bytes) -> list[float]:
        with lock:
            return [0.5, 0.5]

    with pytest.raises(CheckError, match=r"cannot be sent to the isolated worker process .*PipelineFactory\('module:function'\)"):
        IsolatedPipeline(locked, rejects=(), n_classes=2)


def test_pipeline_the_worker_cannot_import_is_a_check_error():
    module = types.ModuleType("not_importable_anywhere")
    exec("def predict(raw):\n    return 0\n", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        with pytest.raises(CheckError, match="could not load the pipeline: ModuleNotFoundError: No module named 'not_importable_anywhere'"):
            IsolatedPipeline(module.predict, rejects=(), n_classes=2).start()
    finally:
        del sys.modules[module.__name__]
