"""The cores a process may really use in a Kubernetes pod or a Slurm task (issue 20): the CPUs it may run
on and its cgroup's CPU quota, not the node's count that ``os.cpu_count()`` gives."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from pytest_mlguard._runner import share_cores


def _node(monkeypatch, cores: int, allowed: int) -> None:
    """A node of ``cores`` cores of which this process may run on ``allowed`` (a cpuset, taskset)."""
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(allowed)), raising=False)


def _cgroup(root: Path, files: dict[str, str], membership: str = "0::/\n") -> Path:
    """Fake ``/proc/self/cgroup`` and files under ``/sys/fs/cgroup`` below ``root``."""
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "cgroup").write_text(membership)
    for name, text in files.items():
        path = root / "sys" / "fs" / "cgroup" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def torch_threads(monkeypatch):
    """What ``share_cores`` hands to ``torch.set_num_threads``."""
    calls: list[int] = []
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(set_num_threads=calls.append))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    return calls


def test_a_slurm_task_shares_the_cores_it_may_run_on_not_the_nodes(monkeypatch, tmp_path, torch_threads):
    _node(monkeypatch, cores=64, allowed=8)  # --cpus-per-task=8 on a 64-core node: Slurm's cpuset
    assert share_cores(4, root=_cgroup(tmp_path, {})) == 2 and torch_threads == [2]


def test_a_pod_shares_its_cpu_limit_rounded_up(monkeypatch, tmp_path, torch_threads):
    _node(monkeypatch, cores=64, allowed=64)  # limits: {cpu: "7.5"}: no cpuset, a CFS quota
    root = _cgroup(tmp_path, {"cpu.max": "750000 100000\n"})
    assert share_cores(4, root=root) == 2 and torch_threads == [2]


@pytest.mark.parametrize(
    ("files", "membership", "expected"),
    [
        ({"cpu.max": "max 100000\n"}, "0::/\n", 16),  # cgroup v2 without a limit
        ({"cpu.max": "150000 100000\n"}, "0::/\n", 2),  # 1.5 cores: rounded up
        ({"cpu.max": "200000 100000\n", "a/b/cpu.max": "max 100000\n", "a/cpu.max": "300000 100000\n"}, "0::/a/b\n", 2),
        ({"a/b/cpu.max": "max 100000\n", "a/cpu.max": "300000 100000\n"}, "0::/a/b\n", 3),  # a host: the limit above the process's cgroup
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, "4:cpu,cpuacct:/\n", 16),  # cgroup v1 without a limit
        ({"cpu/cpu.cfs_quota_us": "400000\n", "cpu/cpu.cfs_period_us": "100000\n"}, "4:cpu,cpuacct:/kubepods/x\n", 4),  # v1 in a container
        ({"cpu,cpuacct/k/cpu.cfs_quota_us": "50000\n", "cpu,cpuacct/k/cpu.cfs_period_us": "100000\n"}, "2:cpuacct,cpu:/k\n", 1),
        ({"cpu.max": "garbage\n"}, "0::/\n", 16),  # unreadable: no limit known
        ({}, "", 16),  # no cgroup at all (another OS, a bare chroot)
        ({"cpu.max": "2000000 100000\n"}, "0::/\n", 16),  # a quota above the CPUs allowed: those
    ],
)
def test_the_usable_cores_are_the_fewest_of_the_cpuset_and_the_cgroup_quota(monkeypatch, tmp_path, files, membership, expected):
    from pytest_mlguard._cores import usable_cores

    _node(monkeypatch, cores=64, allowed=16)
    assert usable_cores(_cgroup(tmp_path, files, membership)) == expected


def test_without_sched_getaffinity_the_count_is_the_cpu_count_within_the_quota(monkeypatch, tmp_path):
    from pytest_mlguard._cores import usable_cores

    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # macOS, Windows
    assert usable_cores(_cgroup(tmp_path, {})) == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert usable_cores(_cgroup(tmp_path / "none", {})) == 1


def test_this_machine_has_at_least_one_usable_core():
    from pytest_mlguard._cores import usable_cores

    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
