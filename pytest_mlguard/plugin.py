"""The pytest plugin: options, ini keys, markers and fixtures; every hook hands over to the session.

Loading this module imports pytest and the standard library only: torch, ART, albumentations and
matplotlib are imported when a check needs them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._clock import start_run  # imported first: the first run's budget clock starts with the plugin's import
from .errors import ConfigError, ContractError, MlguardError
from ._stash import SESSION_KEY, session_of

if TYPE_CHECKING:
    from .fixture import MlguardFixture


SKIP_REASON = "mlguard tests run only with --mlguard: run `pytest --mlguard` (or add it to a separate CI stage)"
MARKER = (
    "mlguard(*, seed=None, samples=None, device=None, output=None, profile=None, settings=None): a robustness test, run only "
    "with --mlguard; its keyword arguments are settings at the lowest precedence (below CLI, environment and "
    "pyproject), settings={'corruption.floor': 0.8} for dotted keys"
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import _hookspecs as hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The options and ini keys, from the settings' ``Key`` declarations (:mod:`~pytest_mlguard.config._options`)."""
    from .checks._registry import all_keys
    from .config._options import add_options

    start_run()  # the budget's clock (pytest_mlguard._clock)
    add_options(parser, all_keys())


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Check the settings before pytest imports the project's conftest.py files, which import torch
    (seconds, on a busy machine tens of seconds, before a one-line configuration error)."""
    from ._settings import check_merge, check_settings
    from ._shard._tasks import check_task

    options = early_config.known_args_namespace
    if getattr(options, "help", False) or getattr(options, "version", False):
        return
    try:
        settings = check_settings(early_config, options)
        check_merge(early_config, options)
        if settings is not None:  # a detector's or segmenter's shard or merge stops before its conftest.py imports torch
            check_task(settings, getattr(options, "mlguard_merge", None) or [])
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if settings is not None and getattr(options, "mlguard", False):
        from ._gpus import DEVICE_KEY, PINNED_KEY, pin_worker

        early_config.stash[DEVICE_KEY] = settings.device
        early_config.stash[PINNED_KEY] = pin_worker(settings.device)  # before a conftest.py can touch CUDA


def pytest_configure(config: pytest.Config) -> None:
    from ._session import MlguardSession

    config.addinivalue_line("markers", MARKER)
    try:
        config.stash[SESSION_KEY] = session = MlguardSession(config)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    # pytest_runtest_logreport has no config to find the session by: the session takes that hook
    # itself, as pytest-xdist's DSession takes its own
    config.pluginmanager.register(session, "mlguard-session")
    session.catch_signals()
    session.register_family_hooks()
    session.register_pytest_html()


def pytest_unconfigure(config: pytest.Config) -> None:
    if SESSION_KEY in config.stash:
        session_of(config).release_signals()
    from .checks._registry import use_families

    use_families(())  # a conftest's families belong to its run
    isolation = sys.modules.get("pytest_mlguard.inputs.isolation")
    if isolation is not None:  # no isolated worker process outlives its session
        isolation.close_all()


def pytest_report_header(config: pytest.Config) -> str | list[str] | None:
    session = session_of(config)
    if not session.enabled:
        return None
    settings = session.settings
    samples = "all" if settings.samples is None else settings.samples
    from ._gpus import PINNED_KEY

    pinned = config.stash.get(PINNED_KEY, None)
    device = f"{settings.device} ({pinned})" if pinned else settings.device
    shard = settings.get("shard")  # which shard this run is, and for auto the variables it came from
    line = f"mlguard: seed={settings.seed}, samples={samples}, device={device}, {shard.header() + ', ' if shard is not None else ''}output={settings.output}"
    if session.workers_unused is not None:
        return [line, f"mlguard: the merge runs in this process: -n {session.workers_unused} starts no pytest-xdist workers (a merge calls no model)"]
    return line


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """A conftest.py named on the command line that declares ``mlguard_model`` is the suite itself."""
    from ._suite import MlguardSuite, declares_model

    session = session_of(parent.config)
    if session.enabled and not session.merging and declares_model(parent.config, module_path):
        return MlguardSuite.from_parent(parent, path=module_path)
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from ._suite import MlguardSuite, declares_model

    if file_path.name != "conftest.py" or not session_of(parent.config).enabled or session_of(parent.config).merging:
        return None
    if parent.session.isinitpath(file_path):  # collected by pytest_pycollect_makemodule
        return None
    if declares_model(parent.config, file_path):
        return MlguardSuite.from_parent(parent, path=file_path)
    return None


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Any:
    from ._suite import SUITE_CLASS, MlguardClass, MlguardSuite

    if isinstance(collector, MlguardSuite) and name == SUITE_CLASS:
        return MlguardClass.from_parent(collector, name=name, obj=obj)
    return None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    mlguard = session_of(config)
    if mlguard.merging:  # --mlguard-merge: the merged checks, nothing else
        try:
            items[:] = mlguard.merge_items(session)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        return
    for item in items:
        marker = item.get_closest_marker("mlguard")
        if marker is None:
            continue
        if not mlguard.enabled:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
            continue
        try:
            mlguard.settings_for_marker(marker, item.nodeid)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        spec = getattr(item, "callspec", None) and item.callspec.params.get("mlguard_check")  # type: ignore[attr-defined]
        if spec is not None:
            item.extra_keyword_matches.update(spec.keywords)
    if mlguard.enabled:
        mlguard.order_for_budget(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    try:
        session_of(session.config).collected(session.items)
    except ConfigError as exc:  # MLflow's store (report.mlflow), once every conftest.py is imported
        raise pytest.UsageError(str(exc)) from None


def pytest_runtest_setup(item: pytest.Item) -> None:
    session_of(item.config).item_started(item.nodeid)  # progress lines of long checks name the item


def pytest_runtest_teardown(item: pytest.Item) -> None:
    session_of(item.config).item_finished()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
    """A contract error raised in a project's ``mlguard_*`` fixture: one line naming the fixture, no
    traceback, and the run stops (``None`` otherwise: pytest makes the report)."""
    if call.when != "setup" or call.excinfo is None:
        return None
    return session_of(item.config).runner.fixture_error_report(item, call)


def pytest_sessionfinish(session: pytest.Session) -> None:
    mlguard = session_of(session.config)
    mlguard.sessionfinish(session.exitstatus, session.shouldstop)
    reporter = mlguard.reporter
    failed = reporter.regressed or reporter.run_failure or reporter.write_error
    if failed and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # as pytest-benchmark's --benchmark-compare-fail
    if mlguard.record.usage_error is not None:  # a broken model contract is a mistake in the declaration
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: merge a worker's results on the controller."""
    session_of(node.config).testnodedown(node)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """pytest-xdist's ``-n auto`` (before ``pytest_configure``): one worker per visible GPU with
    ``--mlguard-device cuda`` (``None``: xdist's choice)."""
    from ._gpus import DEVICE_KEY, auto_workers

    return auto_workers(config.stash[DEVICE_KEY]) if DEVICE_KEY in config.stash else None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist: the checks that compare with each other go to one worker together (``None``: xdist's own scheduler)."""
    return session_of(config).make_scheduler(log)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    session_of(terminalreporter.config).terminal_summary(terminalreporter)


# -- fixtures -------------------------------------------------------------------------------------
def _missing(request: pytest.FixtureRequest, message: str) -> None:
    """A required fixture the project did not define: reported once, and the run stops (exit code 4)."""
    session_of(request.config).runner.stop_on_contract_error(message, request.session)
    pytest.fail(message, pytrace=False)


@pytest.fixture
def mlguard_model(request: pytest.FixtureRequest) -> Any:
    """The model under test. Projects override this fixture in their conftest.py."""
    _missing(
        request,
        "no mlguard_model fixture: define one in conftest.py that returns a pytest_mlguard.TorchModel, "
        "CallableModel or SklearnModel (see docs/model-contract.md)",
    )


@pytest.fixture
def mlguard_data(request: pytest.FixtureRequest) -> Any:
    """The labelled evaluation data. Projects override this fixture in their conftest.py."""
    _missing(
        request,
        "no mlguard_data fixture: define one in conftest.py that returns a pytest_mlguard.EvalData, "
        "a pair (x, y), a torch Dataset or a DataLoader (see docs/model-contract.md)",
    )


@pytest.fixture
def mlguard_pipeline() -> Any:
    """The production pipeline (optional): ``None`` unless a project's conftest.py overrides it."""
    return None


@pytest.fixture
def mlguard_baseline_model() -> Any:
    """The model now in production, which the gate checks compare ``mlguard_model`` with (optional):
    ``None`` unless a project's conftest.py overrides it (see docs/production.md)."""
    return None


@pytest.fixture
def mlguard(request: pytest.FixtureRequest, mlguard_model: Any, mlguard_data: Any, mlguard_pipeline: Any) -> MlguardFixture:
    """The declared model, data and pipeline with the evaluation helpers, for custom robustness tests."""
    from .fixture import MlguardFixture

    session = session_of(request.config)
    runner = session.runner
    nodeid = request.node.nodeid
    try:
        settings = session.settings_for_marker(request.node.get_closest_marker("mlguard"), nodeid)
    except ConfigError as exc:
        pytest.fail(str(exc), pytrace=False)

    def evaluation() -> Any:
        broken = ""
        try:
            made = runner.evaluation(mlguard_model, mlguard_data, mlguard_pipeline, settings)
            runner.probe(made)
            return made
        except ContractError as exc:
            broken = str(exc)
        except MlguardError as exc:
            pytest.fail(str(exc), pytrace=False)
        runner.stop_on_contract_error(broken, request.session)  # reported once: the run stops
        pytest.fail(broken, pytrace=False)

    return MlguardFixture(
        evaluation,
        record=lambda result: runner.keep(result, request.node),
        describe_failure=lambda result: runner.failure_message(result, nodeid),
        fixture=lambda need: _fixture_value(request, f"mlguard_{need}"),
    )


def _fixture_value(request: pytest.FixtureRequest, name: str) -> Any:
    """The value of fixture ``name`` for the test (``None`` where no fixture of that name is defined)."""
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        return None
