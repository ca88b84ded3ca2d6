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
from .checks.base import CheckSpec, Family
from .errors import CheckError, ContractError, MlguardError, NotApplicable
from .stash import session_of


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
        run_suite_check(request, family, spec, values)

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


def run_suite_check(request: pytest.FixtureRequest, family: Family, spec: CheckSpec, values: dict[str, Any]) -> None:
    """The body of every suite item: measure, record, and fail with the verdict if it fails.

    The check runs under its wall-clock limit (:meth:`MlguardSession.check_limit`): past the
    ``timeout`` it fails with "no answer within N s", past the budget's end it is cut.
    """
    from .deadline import Deadline, limit

    session = session_of(request.config)
    nodeid = request.node.nodeid
    skipped = failed = broken = ""
    kind = "skipped"
    model = str(getattr(values["mlguard_model"], "name", "") or "")
    result = None
    seconds, reason = session.check_limit()
    cut = session.budget_spent(nodeid, spec)  # nothing left for it: cut before it calls the model
    try:
        if cut is None:
            with limit(seconds, reason):
                model, result, cut = _measure(session, nodeid, family, spec, values)
    except Deadline as stopped:
        if stopped.reason == "budget":
            cut = session.budget_stopped(nodeid, spec, stopped)
        else:
            failed, kind = f"{spec.id}: {session.timeout_message(stopped)}", "timeout"
    except ContractError as exc:
        broken = str(exc)
    except NotApplicable as exc:
        skipped, kind = f"{spec.id}: {exc}", "not-applicable"
    except CheckError as exc:
        failed, kind = f"{spec.id} could not run: {exc}", "error"
    except MlguardError as exc:
        failed, kind = f"{spec.id}: {exc}", "error"
    if cut is not None:
        skipped, kind = f"{spec.id}: cut by --mlguard-budget: {cut}", "cut"
    # outside the except blocks, so that pytest shows the message once, not chained to the exception
    if broken:  # the declaration itself: reported once, and the run stops (exit code 4)
        request.node.user_properties += [("mlguard_check", spec.id), ("mlguard_model", model), ("mlguard_error", "contract")]
        session.stop_on_contract_error(broken, request.session)
        pytest.fail(broken, pytrace=False)
    if skipped or failed:  # the report lists the checks that did not run or ended without a measurement
        properties = request.node.user_properties
        properties += [("mlguard_check", spec.id), ("mlguard_model", model), ("mlguard_skipped" if skipped else "mlguard_error", kind)]
    if skipped:
        pytest.skip(skipped)
    if failed:
        pytest.fail(failed, pytrace=False)
    assert result is not None
    session.record(result, request.node)
    if not result.passed:
        pytest.fail(session.failure_message(result, nodeid), pytrace=False)


def _measure(session: Any, nodeid: str, family: Family, spec: CheckSpec, values: dict[str, Any]) -> tuple[str, Any, str | None]:
    """The check's result, from the cache or measured within its share of the budget:
    ``(model name, result or None, the reason it was cut or None)``."""
    from .cache import cached_result, run_cached

    evaluation = session.evaluation(values["mlguard_model"], values["mlguard_data"], values.get("mlguard_pipeline"), session.settings)
    extras = {need: values[f"mlguard_{need}"] for need in family.needs if need not in ("model", "data", "pipeline")}
    evaluation = evaluation.with_extras(extras)
    result = cached_result(session.cache, evaluation, family, spec)
    if result is not None:
        if session.budget is not None:
            session.budget.pending.pop(nodeid, None)  # reused from the cache: nothing to plan
        return evaluation.model_id, result, None
    session.probe(evaluation)  # the model's output, checked once before it is used
    cut = session.budget_limits(nodeid, spec, evaluation)  # under --mlguard-budget: shortens the check, or cuts it
    if cut is not None:
        return evaluation.model_id, None, cut
    try:
        result = run_cached(session.cache, evaluation, family, spec)
    finally:
        session.budget_done(nodeid, spec, evaluation, result)
    return evaluation.model_id, result, None


def _suite_class(session: Any, with_pipeline: bool, path: Path) -> type:
    attributes: dict[str, Any] = {"__doc__": "The built-in mlguard suite."}
    by_family: dict[str, list[CheckSpec]] = {}
    from .checks.registry import families

    for family in families():
        if "pipeline" in family.needs and not with_pipeline:
            continue
        checks = session.plan(family, path=path)
        if not checks:
            continue
        fixtures = tuple(f"mlguard_{need}" for need in family.needs)
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
        session_of(self.config).planned_items.update(node.nodeid for node in collected if isinstance(node, pytest.Item))
        return collected
