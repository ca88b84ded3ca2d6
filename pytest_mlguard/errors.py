"""The exception family of pytest-mlguard.

Every error the package raises on purpose derives from :class:`MlguardError`. Messages say what
was expected, what was given (name, value and type) and, where there is one, the fix, in the
manner of Hypothesis' ``InvalidArgument``.

Example:
    >>> from pytest_mlguard.errors import InvalidArgument
    >>> try:
    ...     raise InvalidArgument.expected("a number in [0, 1]", "floor", 1.7)
    ... except ValueError as exc:
    ...     print(exc)
    Expected a number in [0, 1] but got floor=1.7 (type=float)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CheckError",
    "NotApplicable",
    "ConfigError",
    "InvalidArgument",
    "MissingDependency",
    "MlguardError",
]


class MlguardError(Exception):
    """Base class of every error raised by pytest-mlguard."""


class InvalidArgument(MlguardError, ValueError):
    """An argument, model, data set or pipeline is not what pytest-mlguard expects."""

    @classmethod
    def expected(cls, what: str, name: str, value: Any, *, where: str = "", fix: str = "") -> InvalidArgument:
        """Build the standard message: ``Expected <what> but got <name>=<value> (type=<type>)``."""
        message = f"Expected {what} but got {name}={value!r} (type={type(value).__name__})"
        if where:
            message += f" in {where}"
        if fix:
            message += f". {fix}"
        return cls(message)


class ConfigError(InvalidArgument):
    """An invalid setting; the plugin turns it into a ``pytest.UsageError``."""


class MissingDependency(MlguardError, ImportError):
    """An optional library a check needs is not installed."""

    def __init__(self, package: str, needed_for: str) -> None:
        super().__init__(f"{needed_for} needs the package {package!r}: install it with `pip install {package}`")
        self.package = package


class CheckError(MlguardError):
    """A check could not run to a verdict (as opposed to running and failing its floor)."""


class NotApplicable(MlguardError):
    """A check does not apply to this model or data (a black box under a gradient attack, say).

    The suite reports the check as skipped with this message as the reason.
    """
