"""The built-in suite: one pytest item per check and model, collected from the conftest.py that
declares ``mlguard_model``.

Node ids read ``<dir>/conftest.py::mlguard::<family>[<check>]``, with the model fixture's parameter
id appended when it is parametrised, such as
``examples/digits/conftest.py::mlguard::corruption[gaussian_noise-3]``. The items are ordinary
``pytest.Function`` s of a generated class, so the project's fixtures (parametrised or not, of any
scope) resolve as they do for any test, ``-k`` selects them, and xdist distributes them.
"""

from __future__ import annotations

import inspect
import types
from pathlib import Path
from typing import Any

import pytest

from ._names import SUITE_CLASS
from .checks._base import CheckSpec, Family
from ._stash import session_of

MODEL_FIXTURE = "mlguard_model"


def _fixture_names(module: types.ModuleType | None) -> set[str]:
    names = set()
    for value in vars(module).values() if module is not None else ():  # None: not a registered conftest
        # pytest >= 8.4 wraps @pytest.fixture functions in FixtureFunctionDefinition, which has .name
        if type(value).__name__ == "FixtureFunctionDefinition" and isinstance(getattr(value, "name", None), str):
            names.add(value.name)
    return names


def declares_model(config: pytest.Config, path: Path) -> bool:
    """Whether the conftest at ``path`` (already imported by pytest) defines ``mlguard_model``."""
    if path.name != "conftest.py":
        return False
    module = config.pluginmanager.get_plugin(str(path))
    return isinstance(module, types.ModuleType) and MODEL_FIXTURE in _fixture_names(module)


def _check_function(family: Family, fixtures: tuple[str, ...], single: CheckSpec | None) -> Any:
    """A suite method for ``family``: parametrised over ``mlguard_check``, or bound to ``single``."""

    def check(self: Any, request: pytest.FixtureRequest, **values: Any) -> None:
        spec = single if single is not None else values.pop("mlguard_check")
        session_of(request.config).runner.run_suite_check(request, family, spec, values)

    names = ("request", *(() if single is not None else ("mlguard_check",)), *fixtures)
    parameters = [
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in names),
    ]
    check.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    check.__name__ = family.name
    check.__doc__ = family.doc
    check.mlguard_spec = single  # type: ignore[attr-defined]  # for --mlguard-budget's plan
    return pytest.mark.mlguard(check)


def _suite_class(session: Any, with_pipeline: bool, path: Path) -> type:
    attributes: dict[str, Any] = {"__doc__": "The built-in mlguard suite."}
    by_family: dict[str, list[CheckSpec]] = {}
    from .checks._registry import families

    for family in families():
        if "pipeline" in family.needs and not with_pipeline:
            continue
        checks = session.plan(family, path=path)
        if not checks:
            continue
        fixtures = tuple(f"mlguard_{need}" for need in family.needs)
        fixtures += ("mlguard_pipeline",) if with_pipeline and "pipeline" in family.uses else ()
        single = checks[0] if len(checks) == 1 and checks[0].name is None else None
        attributes[family.name] = _check_function(family, fixtures, single)
        if single is None:
            by_family[family.name] = checks

    def pytest_generate_tests(self: Any, metafunc: pytest.Metafunc) -> None:
        checks = by_family.get(metafunc.function.__name__)
        if checks:
            metafunc.parametrize("mlguard_check", checks, ids=[c.name or c.family for c in checks])

    attributes["pytest_generate_tests"] = pytest_generate_tests
    return type(SUITE_CLASS, (), attributes)


class MlguardSuite(pytest.Module):
    """The conftest.py that declares ``mlguard_model``, collected as the built-in suite."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        session = session_of(self.config)
        with_pipeline = "mlguard_pipeline" in _fixture_names(self.config.pluginmanager.get_plugin(str(self.path)))
        module = types.ModuleType(f"mlguard_suite_{abs(hash(str(self.path)))}")
        module.__file__ = str(self.path)
        setattr(module, SUITE_CLASS, _suite_class(session, with_pipeline, self.path))
        self.obj = module

    def istestclass(self, obj: object, name: str) -> bool:
        return name == SUITE_CLASS

    def istestfunction(self, obj: object, name: str) -> bool:
        return False



class MlguardClass(pytest.Class):
    """The generated suite class; its methods are named after families, not ``test_*``.

    Made by the plugin's ``pytest_pycollect_makeitem`` for the class of an :class:`MlguardSuite`.
    """

    def istestfunction(self, obj: object, name: str) -> bool:
        return callable(obj) and not name.startswith("_") and name != "pytest_generate_tests"

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        """Every check of the suite, noted as planned: a run that keeps fewer of them (``-k``, ``-m``,
        ``--deselect``, node ids) is a partial run, and its report says so."""
        collected = list(super().collect())
        session_of(self.config).record.planned_items.update(node.nodeid for node in collected if isinstance(node, pytest.Item))
        return collected
