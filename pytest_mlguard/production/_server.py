"""The production server a model will run on, as the user describes it in ``[tool.mlguard.server]``,
and the machine the checks actually ran on.

Settings (``[tool.mlguard.server]``):

* ``name``: a label for reports, such as ``"c6i.large"`` (default: none);
* ``threads``: the CPU threads the model gets there (``torch.set_num_threads``; default: every core of
  the machine the checks run on);
* ``memory_mb``: the memory of the serving process there, Python and torch included, in MB
  (default: no limit).

The resources checks run the model in a separate process limited to ``threads`` and ``memory_mb``;
the drift check ``drift[threads]`` compares 1 thread with ``threads``.

Example:
    >>> from pytest_mlguard.config import resolve
    >>> Server.from_settings(resolve(cli={"server.threads": "2"}, environ={}, keys=SERVER_KEYS)).threads
    2
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from typing import Any

from ..config.parse import parse_int, parse_number, parse_optional, parse_str
from ..config._settings import Key, Settings


SERVER_KEYS: tuple[Key, ...] = (
    Key("server.name", parse_optional(parse_str), None, "a label for the production server in reports, such as 'c6i.large'"),
    Key(
        "server.threads",
        parse_optional(parse_int(1, 1024)),
        None,
        "CPU threads the model gets on the production server (torch.set_num_threads); none: every core here",
    ),
    Key(
        "server.memory_mb",
        parse_optional(parse_number(1.0)),
        None,
        "memory of the serving process on the production server in MB, Python and torch included; none: no limit",
    ),
)


@dataclass(frozen=True)
class Server:
    """The production server: a label, CPU threads and memory (``None``: not described)."""

    name: str | None = None
    threads: int | None = None
    memory_mb: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Server:
        return cls(settings.get("server.name"), settings.get("server.threads"), settings.get("server.memory_mb"))

    def describe(self) -> str:
        """``server 'c6i.large': 2 threads, 1024 MB`` (what is not described is left out)."""
        parts = []
        if self.threads is not None:
            parts.append(f"{self.threads} thread{'s' if self.threads != 1 else ''}")
        if self.memory_mb is not None:
            parts.append(f"{self.memory_mb:g} MB")
        name = f" {self.name!r}" if self.name else ""
        return f"server{name}: {', '.join(parts) or 'not described'}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware")):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_total_mb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20, 1)
    except (AttributeError, ValueError, OSError):
        return None


def machine() -> dict[str, Any]:
    """The machine these checks run on, JSON-safe: CPU model, cores, memory, OS, Python."""
    from .._cores import usable_cores

    usable = usable_cores()  # a pod's CPU limit and a Slurm task's CPUs, not the node's
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": usable,
        "memory_mb": _memory_total_mb(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def describe_machine(info: dict[str, Any]) -> str:
    """``Intel Xeon ... (2 usable of 2 CPUs, 24105 MB), Linux-...``."""
    memory = f", {info['memory_mb']:.0f} MB" if info.get("memory_mb") else ""
    return f"{info['cpu']} ({info['cpus_usable']} usable of {info['cpus']} CPUs{memory}), {info['platform']}"
