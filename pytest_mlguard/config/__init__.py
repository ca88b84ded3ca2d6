"""Settings: declared keys, typed parsers and their one resolution (CLI > env > ini/pyproject > marker)."""

from ._files import pyproject_source
from .parse import Threshold
from ._settings import CORE_KEYS, Key, Settings, Source, resolve

__all__ = ["CORE_KEYS", "Key", "Settings", "Source", "Threshold", "pyproject_source", "resolve"]
