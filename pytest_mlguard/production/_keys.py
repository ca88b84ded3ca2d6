"""Settings keys the production families share the shape of: which checks run, and their floors."""

from __future__ import annotations

from ..config.parse import parse_choice, parse_list, parse_table, parse_unit_interval
from ..config._settings import Key


def selection_keys(family: str, choices: tuple[str, ...], floor: float, what: str) -> tuple[Key, ...]:
    """``<family>.checks`` (a list of ``choices``, none by default), ``<family>.floor`` and
    ``<family>.floors`` (a floor per choice) of ``what``, a fraction in [0, 1]."""
    choice = parse_choice(*choices)
    return (
        Key(f"{family}.checks", parse_list(choice), (), f"{family} checks to run: {', '.join(choices)}"),
        Key(f"{family}.floor", parse_unit_interval, floor, f"floor of {what}"),
        Key(f"{family}.floors", parse_table(parse_unit_interval, name=choice), {}, f"floors of {what} per check", table=True),
    )
