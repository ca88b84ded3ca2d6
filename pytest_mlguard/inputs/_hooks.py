"""The inputs family's pytest hooks: plan only the checks that apply to the pipeline a conftest.py declares.

Under ``inputs.pipeline = "auto"`` (the default) the plan reads the kind of pipeline from the source
of the conftest's ``mlguard_pipeline`` fixture (:func:`~.kinds.declared_kind`), drops the checks of
the default plan that do not apply to it, and notes the kind on the others, which then stop with a
usage error if the fixture returns a pipeline of the other kind (:func:`~.kinds.check_kind`).
"""

from __future__ import annotations

import dataclasses
import os
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .._stash import session_of
from ._kinds import applies, declared_kind

if TYPE_CHECKING:
    from ..checks._base import CheckSpec

PIPELINE_FIXTURE = "mlguard_pipeline"


def _fixture_function(module: Any, name: str) -> Any:
    """The function of the fixture ``name`` that ``module`` (a conftest) defines, or ``None``."""
    for value in vars(module).values() if isinstance(module, types.ModuleType) else ():
        # pytest >= 8.4 wraps @pytest.fixture functions in FixtureFunctionDefinition, which has .name
        if type(value).__name__ == "FixtureFunctionDefinition" and getattr(value, "name", None) == name:
            return value
    return None


@pytest.hookimpl(tryfirst=True)  # the project's own hooks see the plan that applies
def pytest_mlguard_plan(config: pytest.Config, family: str, checks: list[CheckSpec], path: Path | None) -> None:
    if family != "inputs" or path is None:
        return
    settings = session_of(config).settings
    if settings.get("inputs.pipeline") != "auto":
        return  # the family's plan kept what applies to the declared kind
    function = _fixture_function(config.pluginmanager.get_plugin(str(path)), PIPELINE_FIXTURE)
    kind = declared_kind(function) if function is not None else None
    if kind is None:
        return  # every check stays planned; those that do not apply skip, naming inputs.pipeline
    where = f"{PIPELINE_FIXTURE} in {Path(os.path.relpath(path, config.rootpath)).as_posix()}"
    default = settings.source("inputs.checks") == "default"
    kept = [spec for spec in checks if not default or applies(str(spec.name), kind)]
    checks[:] = [dataclasses.replace(spec, params=(*spec.params, ("pipeline", kind), ("pipeline_from", where))) for spec in kept]
