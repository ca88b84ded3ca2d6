"""PEP 562 lazy exports: a package's public names imported on first use, so that importing it is cheap.

Example:
    >>> getattr_, dir_ = lazy_exports("pytest_mlguard", {"InvalidArgument": "pytest_mlguard.errors"})
    >>> getattr_("InvalidArgument").__name__
    'InvalidArgument'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name of ``names`` is imported from its
    module (absolute, or relative to ``package``) on first use and kept in the package's namespace."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - becomes the package's module __getattr__
        if name in names:
            value = getattr(importlib.import_module(names[name], package), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:  # noqa: N807 - becomes the package's module __dir__
        return sorted(getattr(sys.modules[package], "__all__", names))

    return __getattr__, __dir__
