"""The check a pytest item of the built-in suite runs: read by the suite, which makes the items, and by
the session, which plans the budget over them (and which the suite imports, so it cannot import the suite)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .checks._base import CheckSpec

if TYPE_CHECKING:
    import pytest


def item_spec(item: pytest.Item) -> CheckSpec | None:
    """The check a suite item runs (``None`` for other items)."""
    callspec = getattr(item, "callspec", None)
    spec = callspec.params.get("mlguard_check") if callspec is not None else None
    return spec if isinstance(spec, CheckSpec) else getattr(getattr(item, "obj", None), "mlguard_spec", None)
