"""The cores this process may really use: in a Kubernetes pod or a Slurm task, not the node's.

``os.cpu_count()`` counts the node's cores. A Slurm task (``--cpus-per-task``) or ``taskset`` restricts
the CPUs a process may run on (its affinity, a cgroup cpuset); a pod's CPU limit is a cgroup CPU
quota, ``quota`` microseconds of CPU time per ``period``: cgroup v2's ``cpu.max`` ("quota period", or
"max period" without a limit), cgroup v1's ``cpu.cfs_quota_us`` (-1 without a limit) and
``cpu.cfs_period_us``. :func:`usable_cores` is the fewest of the node's cores, the CPUs allowed and
each quota of the process's cgroup and those above it, rounded up (``os.process_cpu_count()`` of
Python 3.13 counts the affinity only, and 3.10 to 3.12 lack it).

Example:
    >>> usable_cores() >= 1
    True
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

#: the cgroup v1 directories (under ``/sys/fs/cgroup``) that may hold the ``cpu`` controller
_V1_CPU = ("cpu", "cpu,cpuacct", "cpuacct,cpu")


def usable_cores(root: Path | str = "/") -> int:
    """The cores this process may use (at least 1); ``root``: where ``/proc`` and ``/sys`` are (a test's fake files)."""
    counts = [os.cpu_count() or 1]
    if hasattr(os, "sched_getaffinity"):
        counts.append(len(os.sched_getaffinity(0)))
    counts += cgroup_quotas(Path(root))
    return max(1, min(counts))


def cgroup_quotas(root: Path) -> list[int]:
    """The CPU quotas, in cores rounded up, of this process's cgroup and the cgroups above it (v2 and v1)."""
    quotas = []
    for directory, version in _cgroup_directories(root):
        if version == 2:
            text = _read(directory / "cpu.max")
            quota, _, period = (text or "").partition(" ")
        else:
            quota, period = _read(directory / "cpu.cfs_quota_us") or "", _read(directory / "cpu.cfs_period_us") or ""
        if quota.isdigit() and period.isdigit() and int(quota) > 0 and int(period) > 0:
            quotas.append(math.ceil(int(quota) / int(period)))
    return quotas


def _cgroup_directories(root: Path) -> Iterator[tuple[Path, int]]:
    """Each cgroup directory whose CPU limit applies to this process, with its cgroup version: the
    process's own (``/proc/self/cgroup``) and those above it up to the mount point, which in a
    container is the container's cgroup."""
    mount = root / "sys" / "fs" / "cgroup"
    for line in (_read(root / "proc" / "self" / "cgroup") or "").splitlines():
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if not path.startswith("/"):
            continue
        parts = Path(path).parts[1:]
        above = [Path(*parts[:end]) if end else Path() for end in range(len(parts), -1, -1)]
        if controllers == "":  # cgroup v2's single hierarchy
            yield from ((mount / part, 2) for part in above)
        elif "cpu" in controllers.split(","):
            yield from ((mount / name / part, 1) for name in _V1_CPU for part in above)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
