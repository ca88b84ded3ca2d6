"""The isolated worker's processes end: with their parent, even when a fork of it holds their socket,
and a test process keeps at most a few zygotes alive however many pipelines it runs."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_mlguard.inputs import isolation
from pytest_mlguard.inputs.isolation import IsolatedPipeline, isolation_available

pytestmark = pytest.mark.skipif(not (isolation_available() and Path("/proc/self/stat").exists()), reason="needs os.fork and /proc (Linux)")

ROOT = Path(__file__).resolve().parents[2]


def answer(raw: bytes) -> list[float]:
    if raw == b"abort":
        os.abort()
    return [0.5, 0.5]


def children(pid: int, zombies: bool = False) -> dict[int, str]:
    """The child processes of ``pid`` (zombies only if ``zombies``), by pid: their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode() if stat else ""
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields and int(fields[1]) == pid and (zombies or fields[0] != "Z"):
            found[int(entry.name)] = command
    return found


def zygotes() -> set[int]:
    return {pid for pid, command in children(os.getpid()).items() if "zygote_main" in command}


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


PARENT = """
import json, os, sys, time
from pytest_mlguard.inputs.isolation import IsolatedPipeline
isolated = IsolatedPipeline(lambda raw: [0.5, 0.5], rejects=(), n_classes=2).start()
assert isolated(b"x").kind == "prediction"
holder = os.fork()  # as a DataLoader's or multiprocessing's worker forked from the test process
if holder == 0:
    time.sleep(30)
    os._exit(0)
print(json.dumps({"zygote": isolated._process.pid, "worker": isolated._pid, "holder": holder}), flush=True)
time.sleep(60)
"""


def test_zygote_and_worker_end_when_the_parent_is_killed_though_a_fork_holds_the_socket():
    # SIGKILL of the test process (an xdist worker the controller kills, a CI job cancelled): no atexit
    # runs, and the fork still holds the parent's end of the zygote's socket, so no end of file comes
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(PARENT)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        pids = json.loads(parent.stdout.readline())
        assert alive(pids["zygote"]) and alive(pids["worker"])
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (alive(pids["zygote"]) or alive(pids["worker"])):
            time.sleep(0.05)
        assert not alive(pids["zygote"]) and not alive(pids["worker"]), pids
    finally:
        parent.kill()
        if "pids" in locals():
            for pid in (pids["holder"], pids["zygote"], pids["worker"]):
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def test_a_process_keeps_at_most_max_zygotes_and_an_evicted_one_restarts():
    before = zygotes()
    pipelines = [IsolatedPipeline(answer, rejects=(), n_classes=2, timeout=5) for _ in range(isolation.MAX_ZYGOTES + 1)]
    try:
        for pipeline in pipelines:
            assert pipeline(b"x").kind == "prediction"
            assert len(zygotes() - before) <= isolation.MAX_ZYGOTES
        assert pipelines[0](b"x").kind == "prediction"  # shut down as the oldest, started again on its next input
        assert len(zygotes() - before) <= isolation.MAX_ZYGOTES
    finally:
        for pipeline in pipelines:
            pipeline.close()
    assert zygotes() == before


def test_crashed_workers_are_reaped_and_close_all_ends_every_zygote():
    before = zygotes()
    first = IsolatedPipeline(answer, rejects=(), n_classes=2, timeout=5).start()
    second = IsolatedPipeline(answer, rejects=(), n_classes=2, timeout=5).start()
    for _ in range(3):
        assert first(b"abort").kind == "failure"
    assert first(b"x").kind == second(b"x").kind == "prediction"
    assert first._process is not None
    zygote = first._process.pid
    assert list(children(zygote, zombies=True)) == [first._pid]  # the crashed workers were waited for: no zombie, no leftover
    isolation.close_all()
    assert zygotes() == before and not alive(zygote)
    assert first(b"x").kind == "prediction"  # a closed pipeline starts again when used
    first.close()
    assert zygotes() == before


def test_sockets_numbered_past_select_s_limit_work():
    # a long session holds many files: select() cannot watch a descriptor numbered 1024 or more
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 1100:
        pytest.skip("needs more than 1100 open files")
    held = [os.open(os.devnull, os.O_RDONLY)]
    try:
        while held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        with IsolatedPipeline(answer, rejects=(), n_classes=2, timeout=5) as isolated:
            assert isolated(b"x").kind == "prediction"
            assert isolated._worker is not None and isolated._worker.fileno() > 1024
    finally:
        for fd in held:
            os.close(fd)
