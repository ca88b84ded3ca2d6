"""What the parts of one pytest process's run share: :class:`RunPart`, the base of the check runner
(:mod:`pytest_mlguard._runner`) and of the end-of-run reporter (:mod:`pytest_mlguard._reporter`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from ._budget import Budget
    from ._record import RunRecord
    from .config._settings import Settings


class RunPart:
    """pytest's configuration, whether ``--mlguard`` is on (``enabled``), the run's settings, what it
    measured (``record``), the plan of ``--mlguard-budget`` (``None``: no budget) and the result cache
    (``None``: off)."""

    def __init__(self, config: pytest.Config, settings: Settings, record: RunRecord, budget: Budget | None, cache: Any) -> None:
        self.config = config
        self.enabled = bool(config.getoption("mlguard"))
        self.settings = settings
        self.record = record
        self.budget = budget
        self.cache = cache
