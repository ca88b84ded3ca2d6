"""`pytest --help` as a user reads it: every mlguard option and ini key comes from its settings Key
(its flag, its help) and its line ends with the key's default."""

from __future__ import annotations

import re

from conftest import run_pytest

from pytest_mlguard.checks._registry import all_keys

GROUP = "robustness checks of ML models (pytest-mlguard):"
DEFAULT = re.compile(r"\(default: ([^()]*)\)$")


def entries(lines: list[str], first: str, entry: re.Pattern[str]) -> dict[str, str]:
    """name -> help text (wrapped lines joined) of the entries after the first line that starts with
    ``first``, to the next blank line after them."""
    found: dict[str, str] = {}
    name = None
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    for line in lines[start + 1 :]:
        if not line.strip():
            if found:
                break
            continue  # the blank line under a section's title
        match = entry.match(line)
        if match:
            name = match.group(1)
            found[name] = match.group(2).strip()
        elif name is not None:
            found[name] = f"{found[name]} {line.strip()}".strip()
    return found


def same_words(a: str, b: str) -> bool:
    """Equal but for whitespace (argparse wraps lines, at hyphens too)."""
    return "".join(a.split()) == "".join(b.split())


def shows_default(key, shown: str) -> bool:
    """Whether ``shown`` is the key's default as the key's own parser reads it."""
    if shown == "none":
        return key.default is None or key.default == ()
    return key.parse(shown, key.name, "--help") == key.default


def test_every_option_and_ini_key_is_its_keys_flag_and_help_ending_in_its_default(pytester):
    lines = run_pytest(pytester, "--help").stdout.lines
    options = entries(lines, GROUP, re.compile(r"^  (--mlguard[\w-]*)(?:=\S+)?(.*)$"))
    ini = {name: text for name, text in entries(lines, "[pytest] ", re.compile(r"^  (\S+) \(.*?\):(.*)$")).items() if name.startswith("mlguard_")}
    keys = [key for key in all_keys() if key.cli]
    assert {key.cli for key in keys} | {"--mlguard", "--mlguard-cache-clear", "--mlguard-set", "--mlguard-merge"} == set(options), options
    for flag, text in options.items():
        assert DEFAULT.search(text), f"{flag}: {text!r} does not end with its default"
    for key in keys:
        text = options[key.cli]
        shown = DEFAULT.search(text).group(1)
        assert shows_default(key, shown), f"{key.cli} shows the default {shown!r}; the key's is {key.default!r}"
        help_part = text.partition(" (default:")[0].removesuffix("; repeatable")
        assert same_words(help_part, key.help), f"{key.cli}: {text!r} is not the key's help {key.help!r}"
    ini_keys = [key for key in all_keys() if key.ini]
    assert {f"mlguard_{key.name}" for key in ini_keys} == set(ini), ini
    for key in ini_keys:
        text = ini[f"mlguard_{key.name}"]
        assert same_words(text.partition(" (default:")[0], f"pytest-mlguard: {key.help}"), text
        assert DEFAULT.search(text) and shows_default(key, DEFAULT.search(text).group(1)), text
