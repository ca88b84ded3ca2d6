"""Where the plugin keeps its state: ``config.stash``, never ``config._something``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._session import MlguardSession


SESSION_KEY: pytest.StashKey[MlguardSession] = pytest.StashKey()


def session_of(config: pytest.Config) -> MlguardSession:
    """The run's :class:`~pytest_mlguard._session.MlguardSession`."""
    return config.stash[SESSION_KEY]
