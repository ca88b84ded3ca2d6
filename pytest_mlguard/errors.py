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
    "ConfigError",
    "ContractError",
    "ContractWarning",
    "InvalidArgument",
    "MissingDependency",
    "MlguardError",
    "NonFiniteOutput",
    "NotApplicable",
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
    """An invalid setting; the plugin turns it into a ``pytest.UsageError``.

    ``key`` and ``expectation`` are set where one key's value is invalid (``config.parse.invalid``);
    ``unknown`` where a setting's name is unknown.
    """

    key: str | None = None
    expectation: str | None = None  # not `expected`, which would hide InvalidArgument.expected()
    unknown: str | None = None  # the name of an unknown setting


class ContractError(InvalidArgument):
    """What a project declares breaks the model contract (docs/model-contract.md): a model output of
    the wrong type or shape, evaluation samples of another shape than the model's input, labels the
    model cannot predict. The suite reports it once, as a usage error naming the fixture, and stops.

    Example:
        >>> str(ContractError("returned a list", fixture="mlguard_model"))
        'mlguard_model: returned a list'
    """

    def __init__(self, message: str, *, fixture: str | None = None) -> None:
        super().__init__(f"{fixture}: {message}" if fixture else message)
        self.fixture = fixture


class ContractWarning(UserWarning):
    """A declaration that works but probably not as meant: evaluation samples far outside the model's
    ``value_range``, float labels. ``-W error::pytest_mlguard.errors.ContractWarning`` makes them errors."""


class MissingDependency(MlguardError, ImportError):
    """An optional library a check needs is not installed."""

    def __init__(self, package: str, needed_for: str) -> None:
        super().__init__(f"{needed_for} needs the package {package!r}: install it with `pip install {package}`")
        self.package = package


class CheckError(MlguardError):
    """A check could not run to a verdict (as opposed to running and failing its floor)."""


class NonFiniteOutput(CheckError):
    """A model returned NaN or inf: the check that asked fails, naming how many samples and which.

    Attributes:
        rows: the rows of the batch given to the model whose outputs are not finite.
        total: the size of that batch.
        samples: where known, the same rows as indices into the project's ``mlguard_data``.
        within: where the batch was one of several of a check (a look, a chunk), the check's sample count.
    """

    def __init__(self, model: str, rows: list[int], total: int, *, samples: list[int] | None = None, what: str = "probabilities", within: int | None = None) -> None:
        self.model, self.rows, self.total, self.samples, self.what, self.within = model, list(rows), total, samples, what, within
        shown = samples if samples is not None else rows
        where = "mlguard_data samples" if samples is not None else "rows"
        listed = ", ".join(map(str, shown[:10])) + (f" and {len(shown) - 10} more" if len(shown) > 10 else "")
        part = f" (a batch of the check's {within} samples, where it stopped)" if within is not None and within != total else ""
        super().__init__(
            f"model {model!r} returned NaN or inf {what} for {len(rows)} of {total} samples{part}: {where} {listed}; "
            "a prediction that is not a number is wrong, so the check fails"
        )

    def located(self, samples: list[int]) -> NonFiniteOutput:
        """The same error, with its rows as indices ``samples`` of ``mlguard_data``."""
        return NonFiniteOutput(self.model, self.rows, self.total, samples=samples, what=self.what, within=self.within)

    def details(self) -> dict[str, object]:
        """JSON-safe, for the check's details in the report."""
        return {"count": len(self.rows), "of": self.total, "within": self.within, "rows": self.rows[:100], "samples": None if self.samples is None else self.samples[:100]}


class NotApplicable(MlguardError):
    """A check does not apply to this model or data (a black box under a gradient attack, say).

    The suite reports the check as skipped with this message as the reason.
    """
