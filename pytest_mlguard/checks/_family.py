"""What a family declares (:class:`Family`, its report figures :class:`Plot`) and the run's families,
registered here for the modules below the registry (the budget, report.html) that read them."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config.parse import parse_bool
from ..config._settings import Key, Settings
from ._spec import CheckSpec, Measurement

RunFunction = Callable[[CheckSpec, Any], Measurement]  # (spec, checks.evaluation.Evaluation): that module imports this one
#: ``(model, checks) -> [{"png", "alt", "caption"}]``: figures of report.html from one model's checks (``png``: base64)
PlotFunction = Callable[[str, list[Mapping[str, Any]]], list[dict[str, str]]]


@dataclass(frozen=True)
class Plot:
    """A figure of report.html that a family declares in ``Family.plots`` (a bare function or its
    ``"module:function"`` stands for ``Plot(function)``).

    Attributes:
        draw: :data:`PlotFunction`, or its ``"module:function"`` (imported when the page is drawn): the
            figures of one model from its checks of ``families``; an empty list where there is nothing to draw.
        kind: the figures' name on the page (``data-plot``); by default the family's name.
        families: the families whose checks it is given (in this order); by default the declaring one.
        absent: the line the page shows where it draws nothing.
        order: where its figures go on the page, lower first, in the registry's order among equals (the
            built-in families' figures: 0 to 3).

    Example:
        >>> Plot("pytest_mlguard.corruptions._figures:curves", families=("corruption",)).order
        10
    """

    draw: str | PlotFunction
    kind: str | None = None
    families: tuple[str, ...] = ()
    absent: str = ""
    order: int = 10

    def drawer(self) -> PlotFunction:
        """The :attr:`draw` function, imported if named."""
        if callable(self.draw):
            return self.draw
        module, _, function = self.draw.partition(":")
        return getattr(importlib.import_module(module), function)


@dataclass(frozen=True)
class Family:
    """A family of checks, declared in the family's folder without importing anything heavy.

    Attributes:
        name: the family's name, the first part of its node ids (``corruption``).
        keys: its settings keys (``<name>.enabled`` is added for every family).
        plan: settings -> the checks to run; cheap, called at collection.
        run: ``"module:function"`` of the measurement, imported when a check runs.
        needs: what the checks need from the project: ``model``, ``data``, ``pipeline``.
        doc: one line for ``--help`` and the docs.
        make: ``(name, settings) -> CheckSpec`` for a check that is not in the plan (custom tests
            ask for any corruption or attack); ``None``: only planned checks can be made.
        cacheable: whether ``--mlguard-cache`` may reuse a result measured earlier on the same
            weights, data and settings.
        machine: whether results depend on the machine (latency, thread counts, CPU arithmetic):
            the cache key then holds the machine's identity and torch's thread count.

    What budgets, reports and the plugin read from it (defaults suit a small, cheap family; docs/extending.md):

    Attributes:
        rank: where its checks run under ``--mlguard-budget`` (lower first); ``rank_of(spec)``: a check's own.
        sampled: whether a budget may run its checks on fewer samples (``evaluation.sample_limit``).
        prior_forwards: a check's cost per sample in forward passes until one is timed (``None``: ``prior_seconds``).
        work: forward passes per sample where they differ by check (attacks); ``samples``: ``(spec, n) -> samples``.
        prior_seconds: seconds of a check until one is timed, without ``prior_forwards``.
        timed_as: a check -> the kind its seconds are learned under, where kinds of check differ in cost
            (``None``: the family's; inputs' corpus and compression checks each have their own).
        searches: a check -> whether it searches for as long as it is given (``Limits.seconds``): a
            budget gives the searches what the other checks leave, and learns nothing from their time.
        search_seconds: settings -> how long a search runs without a budget (the cap of its share).
        applies: ``(check, pipeline input kind)`` -> whether the check applies to such a pipeline; one
            that does not takes no time.
        shared: whether its checks share one measurement (the first pays for all).
        rerun: whether a check that compares models (``reruns``) may rerun its checks on both.
        together: whether its checks compare with each other (a black-box attack with a gradient one at the
            same epsilon): under pytest-xdist one worker runs all of them, in their order (:mod:`pytest_mlguard._scheduling`).
        reruns: a check -> the families or check ids it reruns on both the models it compares (``()``:
            every planned check of a ``rerun`` family; ``None``: none), which a budget adds to its cost, on
            every sample of both (a rerun neither stops early nor draws more samples).
        hooks: dotted name of a module of pytest hooks (report and terminal sections), registered with it.
        plots: report.html's figures of its checks of one model: :class:`Plot` s, or one
            ``(model, checks) -> [{"png", "alt", "caption"}]`` (or its ``"module:function"``), drawn after
            the built-in families' figures.
        sections: report.html's sections of its own, ``"module:function"`` of ``(report) -> [section]``,
            each ``{"id", "title", "intro", "tables": [{"kind", "model", "caption", "columns", "rows":
            [{"cells", "bad"}], "numeric": column indices}]}`` (text, escaped by the page), shown after the checks' table.

    What the robustness score reads from it (:mod:`pytest_mlguard.reporting._score`):

    Attributes:
        scored: whether its checks count in the score where ``score.weights`` does not name it (the
            contract's checks are preconditions, not measures of robustness: ``False``).
        clean_reference: whether its checks measure the clean accuracy that other checks' ``clean_accuracy``
            detail repeats (accuracy's): they are scored as they are, where another family's check with a
            ``clean_accuracy`` is scored relative to it.

    What the suite plans it for:

    Attributes:
        tasks: the tasks (the ``task`` setting: classification, segmentation, detection) its checks
            apply to; under another task it plans nothing, and asking for one of its checks raises
            ``NotApplicable`` (a family that assumes one class vector per input: classification only).
        uses: what the checks read from the project where it declares it, and run without: ``pipeline``
            (the ``shift`` checks read image files through a declared pipeline's ``decode``).

    What ``--mlguard-shard`` reads from it (:mod:`pytest_mlguard._shard`):

    Attributes:
        shard: a check -> how a merge recomputes it from the shards' samples: ``"clean"`` (a function of
            the clean predictions, replayed on the merged ones), ``"outcomes"`` (a proportion of per-sample
            outcomes), or ``None`` (the default: the check runs whole on one shard).
        merge: ``"module:function"`` of ``(spec, evaluation, shards, entries, results) -> Measurement``, the
            measurement of an ``"outcomes"`` check from the shards' statistics (:mod:`pytest_mlguard._shard.recompute`).
    """

    name: str
    keys: tuple[Key, ...]
    plan: Callable[[Settings], list[CheckSpec]]
    run: str | RunFunction
    needs: tuple[str, ...] = ("model", "data")
    doc: str = ""
    make: Callable[[str | None, Settings], CheckSpec] | None = None
    cacheable: bool = True
    machine: bool = False
    rank: int = 6
    rank_of: Callable[[CheckSpec], int | None] | None = None
    sampled: bool = False
    prior_forwards: float | None = None
    work: Callable[[CheckSpec], float] | None = None
    samples: Callable[[CheckSpec, int], int] | None = None
    prior_seconds: float = 1.0
    timed_as: Callable[[CheckSpec], str | None] | None = None
    searches: Callable[[CheckSpec], bool] | None = None
    search_seconds: Callable[[Settings], float] | None = None
    applies: Callable[[CheckSpec, str], bool] | None = None
    shared: bool = False
    rerun: bool = False
    together: bool = False
    reruns: Callable[[CheckSpec], tuple[str, ...] | None] | None = None
    hooks: str | None = None
    plots: str | PlotFunction | Plot | tuple[Plot, ...] | None = None
    sections: str | None = None
    scored: bool = True
    clean_reference: bool = False
    tasks: tuple[str, ...] = ("classification",)
    uses: tuple[str, ...] = ()
    shard: Callable[[CheckSpec], str | None] | None = None
    merge: str | None = None

    @property
    def all_keys(self) -> tuple[Key, ...]:
        enabled = Key(f"{self.name}.enabled", parse_bool, True, f"run the {self.name} checks")
        return (enabled, *self.keys)

    def planned(self, settings: Settings) -> list[CheckSpec]:
        return self.plan(settings) if settings.get(f"{self.name}.enabled") and task_of(settings) in self.tasks else []

    def spec(self, name: str | None, settings: Settings) -> CheckSpec:
        """The check ``name`` of this family under ``settings`` (``KeyError`` if there is none;
        ``NotApplicable`` if the family does not apply to the task of ``settings``)."""
        task = task_of(settings)
        if task not in self.tasks:
            from ..errors import NotApplicable

            check = f"{self.name}[{name}]" if name else self.name
            raise NotApplicable(
                f"{check} is not applicable to task {task!r} (task, from {settings.source('task')}): the {self.name} "
                f"checks apply to {' and '.join(self.tasks)} models"
            )
        if self.make is not None:
            return self.make(name, settings)
        for spec in self.plan(settings):
            if spec.name == name:
                return spec
        known = [spec.id for spec in self.plan(settings)]
        raise KeyError(f"no check {self.name}[{name}]; expected one of {known}")

    def runner(self) -> RunFunction:
        if callable(self.run):
            return self.run
        module, _, function = self.run.partition(":")
        return getattr(importlib.import_module(module), function)

    def figures(self) -> tuple[Plot, ...]:
        """The family's :attr:`plots`, each a :class:`Plot`."""
        if self.plots is None:
            return ()
        if isinstance(self.plots, Plot):
            return (self.plots,)
        if isinstance(self.plots, tuple):
            return self.plots
        return (Plot(self.plots),)

    def check_rank(self, spec: CheckSpec) -> int:
        """Where ``spec`` runs under a budget: lower first."""
        own = self.rank_of(spec) if self.rank_of is not None else None
        return self.rank if own is None else own


def task_of(settings: Settings) -> str:
    """The task the checks are planned for (the ``task`` setting; classification where settings lack it)."""
    try:
        return str(settings.get("task"))
    except KeyError:
        return "classification"


def run_for_task(spec: CheckSpec, evaluation: Any, runs: Mapping[str, str | RunFunction]) -> Measurement:
    """Measure ``spec`` with the run of the task of the evaluation's model (a ``"module:function"`` is
    imported then): a family whose checks measure each task its own way dispatches through it."""
    task = getattr(evaluation.model, "task", "classification")
    run = runs.get(task)
    if run is None:
        from ..errors import NotApplicable

        raise NotApplicable(f"{spec.id} does not apply to model {evaluation.model.name!r}, a {task} model")
    if isinstance(run, str):
        module, _, function = run.partition(":")
        run = getattr(importlib.import_module(module), function)
    return run(spec, evaluation)


#: the run's families by name, in the registry's order: :func:`~pytest_mlguard.checks._registry.families`
#: keeps it, for the modules below the registry (the budget, report.html) that read what a family declares
_registered: dict[str, Family] = {}


def register_families(found: Iterable[Family]) -> None:
    """Make ``found`` the run's families (the registry's to call)."""
    _registered.clear()
    _registered.update((family.name, family) for family in found)


def registered_families() -> tuple[Family, ...]:
    """The run's families, in the registry's order."""
    return tuple(_registered.values())


def registered_family(name: str) -> Family:
    """The run's family ``name``; for a name not registered, a :class:`Family` with the defaults."""
    found = _registered.get(name)
    return found if found is not None else Family(name, (), lambda settings: [], "")
