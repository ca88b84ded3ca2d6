"""The plugin's command-line options and ini keys, built from the settings' :class:`~.settings.Key`
declarations: a key with a ``cli`` flag is an option, one with ``ini`` also an ini key, and each help
text is the key's own, ending in its default. Nothing here is restated by hand but the three options
that are no setting (``--mlguard``, ``--mlguard-cache-clear``, ``--mlguard-set``, ``--mlguard-merge``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from ._settings import Key


GROUP = ("mlguard", "robustness checks of ML models (pytest-mlguard)")


def option_dest(flag: str) -> str:
    """The ``config.getoption`` name of a flag.

    Example:
        >>> option_dest("--mlguard-save-baseline")
        'mlguard_save_baseline'
    """
    return flag.lstrip("-").replace("-", "_")


def default_text(key: Key) -> str:
    """A key's default as ``--help`` shows it: ``none`` for no value, ``off`` for a flag's false.

    Example:
        >>> from pytest_mlguard.config import CORE_KEYS
        >>> [default_text(key) for key in CORE_KEYS[:3]]
        ['0', 'none', 'mlguard-report']
    """
    value = key.default
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or (isinstance(value, (tuple, list, Mapping)) and not value):
        return "none"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if isinstance(value, (int, str, Path)) else repr(value)


def help_text(key: Key) -> str:
    """The key's help, ending in its default."""
    return f"{key.help} (default: {default_text(key)})"


def _argparse(text: str) -> str:
    return text.replace("%", "%%")  # argparse formats help with %


def _is_list(key: Key) -> bool:
    return bool(getattr(key.parse, "takes_list", False))


def add_options(parser: pytest.Parser, keys: Sequence[Key]) -> None:
    """Register the plugin's options (in ``--help``'s mlguard group) and ini keys."""
    group = parser.getgroup(*GROUP)
    group.addoption(
        "--mlguard",
        action="store_true",
        dest="mlguard",
        default=False,
        help="run the built-in robustness suite on the models declared in conftest.py, and the tests marked mlguard (default: off)",
    )
    for key in keys:
        if key.cli is None:
            continue
        if isinstance(key.default, bool):  # a flag: given, it sets the key to true
            group.addoption(key.cli, dest=option_dest(key.cli), action="store_const", const="true", help=_argparse(help_text(key)))
        else:
            action = "append" if _is_list(key) else "store"
            text = help_text(key).replace(" (default:", "; repeatable (default:") if _is_list(key) else help_text(key)
            group.addoption(key.cli, dest=option_dest(key.cli), action=action, metavar=key.metavar, help=_argparse(text))
    group.addoption(
        "--mlguard-cache-clear",
        dest="mlguard_cache_clear",
        action="store_true",
        default=False,
        help="empty the mlguard result cache before the run, with or without --mlguard-cache (default: off)",
    )
    group.addoption(
        "--mlguard-set",
        dest="mlguard_set",
        action="append",
        metavar="KEY=VALUE",
        help="set any setting, such as accuracy.floor=0.9 or corruption.floors.gaussian_noise-3=0.7; repeatable (default: none)",
    )
    group.addoption(
        "--mlguard-merge",
        dest="mlguard_merge",
        nargs="+",
        action="extend",
        metavar="DIR",
        help="merge the report directories of the --mlguard-shard runs (or one directory holding them) into one report, "
        "recomputed from their statistics, with the shards' settings; implies --mlguard. Write --mlguard-merge=DIR "
        "(repeated for several) where the directories lie outside the project, so that pytest does not take them "
        "for its root (default: none)",
    )
    for key in keys:
        if key.ini:
            parser.addini(f"mlguard_{key.name}", f"pytest-mlguard: {help_text(key)}", default="")


def option_values(keys: Iterable[Key], option: Any) -> dict[str, Any]:
    """The keys given by their own option, by key name; ``option(dest)`` reads an option (``None``
    where it was not given)."""
    values = {}
    for key in keys:
        value = option(option_dest(key.cli)) if key.cli is not None else None
        if value is not None:
            values[key.name] = value
    return values
