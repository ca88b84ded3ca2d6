"""Typed parsers for setting values.

Each parser takes the raw value (a TOML value, or a string from the command line or the
environment) and ``where`` (a description of the place the value came from) and returns the parsed
value, or raises :class:`~pytest_mlguard.errors.ConfigError` that names the key, the value, its
type and where it came from, in the manner of pytest-timeout's ``_validate_method(method, where)``.

Example:
    >>> parse_unit_interval("0.5", "accuracy.floor", "command line")
    0.5
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError

Parser = Callable[[Any, str, str], Any]

__all__ = [
    "DEVICE_EXPECTED",
    "DEVICE_TYPES",
    "Parser",
    "Threshold",
    "invalid",
    "is_device",
    "parse_bool",
    "parse_choice",
    "parse_device",
    "parse_int",
    "parse_list",
    "parse_number",
    "parse_optional",
    "parse_path",
    "parse_str",
    "parse_table",
    "parse_threshold",
    "parse_unit_interval",
    "takes_list",
    "typed_list",
]


def invalid(value: Any, key: str, where: str, expected: str) -> ConfigError:
    """The one message format for a bad setting; the error keeps ``key`` and ``expected`` (as ``expectation``)."""
    error = ConfigError(f"invalid value {value!r} (type={type(value).__name__}) for {key!r} in {where}: expected {expected}")
    error.key, error.expectation = key, expected
    return error


#: torch's device types (c10's DeviceType names) and ``npu``, the name Ascend's backend registers
DEVICE_TYPES = (
    "cpu", "cuda", "mps", "xpu", "meta", "hip", "hpu", "mtia", "xla", "lazy", "vulkan", "ve", "fpga",
    "maia", "ipu", "mkldnn", "opengl", "opencl", "ideep", "privateuseone", "npu",
)  # fmt: skip
DEVICE_EXPECTED = "a torch device such as cpu, cuda, cuda:0 or mps (a device type, optionally :index)"
_DEVICE = re.compile(rf"(?:{'|'.join(DEVICE_TYPES)})(?::\d+)?")


def is_device(value: Any) -> bool:
    """Whether ``value`` is a torch device string (``cpu``, ``cuda:1``), checked without importing torch.

    Example:
        >>> is_device("cuda:1"), is_device("gpu7")
        (True, False)
    """
    return isinstance(value, str) and _DEVICE.fullmatch(value) is not None


def parse_device(value: Any, key: str, where: str) -> str:
    """A torch device string, checked at start-up without importing torch (its availability is
    checked when a model first runs on it)."""
    if not is_device(value):
        raise invalid(value, key, where, DEVICE_EXPECTED)
    return str(value)


def parse_str(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(value, key, where, "a non-empty string")
    return value


def parse_bool(value: Any, key: str, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    raise invalid(value, key, where, "a boolean (true/false)")


def parse_int(minimum: int | None = None, maximum: int | None = None) -> Parser:
    """An integer in ``[minimum, maximum]`` (either end may be open)."""
    lo = "-inf" if minimum is None else str(minimum)
    hi = "inf" if maximum is None else str(maximum)
    expected = f"an integer in [{lo}, {hi}]"

    def parse(value: Any, key: str, where: str) -> int:
        number: int
        if isinstance(value, bool):
            raise invalid(value, key, where, expected)
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            number = int(value)
        else:
            raise invalid(value, key, where, expected)
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise invalid(value, key, where, expected)
        return number

    return parse


def _to_float(value: Any) -> float | None:
    """A number from a TOML number or a string such as ``0.1``, ``8/255`` or ``1e-3``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if "/" in text:
                return float(Fraction(text))
            return float(text)
        except (ValueError, ZeroDivisionError):
            return None
    return None


def parse_number(minimum: float | None = None, maximum: float | None = None, *, open_min: bool = False) -> Parser:
    """A finite number in ``[minimum, maximum]``; strings may be fractions such as ``8/255``."""
    lo = "-inf" if minimum is None else f"{minimum:g}"
    hi = "inf" if maximum is None else f"{maximum:g}"
    expected = f"a number in {'(' if open_min else '['}{lo}, {hi}]"

    def parse(value: Any, key: str, where: str) -> float:
        number = _to_float(value)
        if number is None or not math.isfinite(number):
            raise invalid(value, key, where, expected)
        if minimum is not None and (number < minimum or (open_min and number == minimum)):
            raise invalid(value, key, where, expected)
        if maximum is not None and number > maximum:
            raise invalid(value, key, where, expected)
        return number

    return parse


parse_unit_interval = parse_number(0.0, 1.0)


class Threshold:
    """A floor or ceiling: absolute (``0.8``), relative to the clean value (``"0.8*clean"``) or
    a fraction of the way from chance level to perfect (``"0.5*above_chance"``).

    Example:
        >>> Threshold.parse("0.8*clean", "corruption.floor", "pyproject.toml").resolve(clean=0.9)
        0.72
        >>> Threshold.parse("0.5*above_chance", "accuracy.floor", "pyproject.toml").resolve(chance=0.1)
        0.55
    """

    __slots__ = ("reference", "value")

    _RELATIVE = re.compile(r"\s*([0-9.]+)\s*\*\s*(clean|above_chance)\s*")

    def __init__(self, value: float, reference: Literal["clean", "above_chance"] | None = None) -> None:
        self.value = value
        self.reference = reference

    @property
    def relative(self) -> bool:
        return self.reference is not None

    @classmethod
    def parse(cls, value: Any, key: str, where: str) -> Threshold:
        if isinstance(value, Threshold):
            return value
        expected = "a number in [0, 1], or a relative threshold such as '0.8*clean' or '0.5*above_chance'"
        if isinstance(value, str):
            match = cls._RELATIVE.fullmatch(value)
            if match:
                factor = _to_float(match.group(1))
                if factor is None or not 0.0 <= factor <= 1.0:
                    raise invalid(value, key, where, expected)
                reference: Literal["clean", "above_chance"] = "clean" if match.group(2) == "clean" else "above_chance"
                return cls(factor, reference)
        number = _to_float(value)
        if number is None or not 0.0 <= number <= 1.0:
            raise invalid(value, key, where, expected)
        return cls(number)

    def resolve(self, clean: float | None = None, chance: float | None = None) -> float:
        """The absolute threshold, given the clean value or the chance level where it is relative."""
        if self.reference is None:
            return self.value
        if self.reference == "clean":
            if clean is None:
                raise ValueError("a threshold relative to the clean value needs the clean value")
            return round(self.value * clean, 12)
        if chance is None:
            raise ValueError("a threshold relative to chance level needs the chance level")
        return round(chance + self.value * (1.0 - chance), 12)

    def describe(self) -> str:
        return f"{self.value:g}*{self.reference}" if self.reference else f"{self.value:g}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Threshold) and (self.value, self.reference) == (other.value, other.reference)

    def __hash__(self) -> int:
        return hash((self.value, self.reference))

    def __repr__(self) -> str:
        return f"Threshold({self.describe()!r})"


parse_threshold: Parser = Threshold.parse


def parse_choice(*choices: str) -> Parser:
    """One of ``choices`` (case-sensitive)."""

    def parse(value: Any, key: str, where: str) -> str:
        if value not in choices:
            raise invalid(value, key, where, f"one of {', '.join(map(repr, choices))}")
        return str(value)

    return parse


def parse_optional(inner: Parser) -> Parser:
    """``inner`` or nothing: ``"none"`` (TOML has no null). An empty string is an error, not a way to
    say nothing (``--mlguard-budget ""`` is a mistake, not a run without a budget)."""

    @functools.wraps(inner, assigned=(), updated=("__dict__",))  # keeps takes_list
    def parse(value: Any, key: str, where: str) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            return None
        try:
            return inner(value, key, where)
        except ConfigError as exc:
            if exc.key != key:  # an entry of a list or table: its own message
                raise
            raise invalid(value, key, where, f"{exc.expectation}, or none") from None

    return parse


def parse_path(value: Any, key: str, where: str) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise invalid(value, key, where, "a path")
    return Path(value)


def takes_list(parser: Parser) -> Parser:
    """Mark ``parser`` as the parser of a list key (see :func:`typed_list`)."""
    parser.takes_list = True  # type: ignore[attr-defined]
    return parser


def typed_list(parser: Parser, value: Any, key: str, where: str) -> Any:
    """A value of a list key from a typed source (pyproject.toml, a marker), before ``parser``.

    A comma-separated string is how a list is typed on the command line or in the environment; in
    TOML a list is written as one (``severities = [1, 3]``), and ``severities = "1,3"`` is an error. A
    string without a comma is one entry (``corruptions = "all"``).
    """
    if not getattr(parser, "takes_list", False) or not isinstance(value, str):
        return value
    if "," in value:
        example = "[" + ", ".join(repr(part.strip()) if not part.strip().isdigit() else part.strip() for part in value.split(",")) + "]"
        raise invalid(
            value, key, where, f"a list, such as {example} (a comma-separated string is for the command line and the environment)"
        )
    return value


def parse_list(item: Parser, *, unique: bool = True) -> Parser:
    """A list of items; from the command line or environment, a comma-separated string."""

    @takes_list
    def parse(value: Any, key: str, where: str) -> tuple[Any, ...]:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise invalid(value, key, where, "a list")
        items = tuple(item(entry, f"{key}[{index}]", where) for index, entry in enumerate(value))
        if unique and len(set(map(repr, items))) != len(items):
            raise invalid(value, key, where, "a list without repeated entries")
        return items

    return parse


def parse_table(entry: Parser, *, name: Callable[[str, str, str], str] | None = None) -> Parser:
    """A table ``{name = value}``; ``name`` validates each entry's name."""

    def parse(value: Any, key: str, where: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise invalid(value, key, where, "a table of name = value")
        parsed: dict[str, Any] = {}
        for entry_name, entry_value in value.items():
            checked = name(str(entry_name), key, where) if name else str(entry_name)
            parsed[checked] = entry(entry_value, f"{key}.{entry_name}", where)
        return parsed

    parse.entry_parser, parse.name_parser = entry, name  # type: ignore[attr-defined]  # for docs/configuration.md
    return parse
