"""Which inputs checks apply to which pipeline, and how the suite knows the pipeline's kind at collection.

A pipeline takes image files (``Pipeline(input="image-bytes")`` or ``"image-path"``) or records
(``input="record"``). The suite plans at collection, before the ``mlguard_pipeline`` fixture runs, so
the kind comes from the setting ``inputs.pipeline`` (``"image"``, ``"record"``) or, under ``"auto"``
(the default), from the fixture's source: the ``input=`` of the :class:`~pytest_mlguard.Pipeline`
it builds (:func:`declared_kind`), a literal or the default ``"image-bytes"``. A check that does not
apply to that kind is not planned (unless ``inputs.checks`` names it); when the source does not tell
(``input=request.param``), every check is planned and those that do not apply skip, saying which
setting removes them. A pipeline of the other kind at run time is a usage error naming both places
(:func:`check_kind`).

Example:
    >>> applies("missing-fields", "image"), applies("missing-fields", "record")
    (False, True)
"""

from __future__ import annotations

import ast
import inspect
import sysconfig
import textwrap
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ContractError, NotApplicable

if TYPE_CHECKING:
    from ..checks._base import CheckSpec
    from ..config._settings import Settings

Kind = Literal["image", "record"]
#: the values of ``inputs.pipeline``
PIPELINE_SETTINGS: tuple[str, ...] = ("auto", "image", "record")
#: the named checks that apply to each kind of pipeline (every corpus check applies to both)
APPLIES: dict[str, tuple[str, ...]] = {
    "image": ("corrupt-files", "odd-modes", "odd-resolutions", "dtypes", "same-content", "compression"),
    "record": ("dtypes", "missing-fields", "same-content"),
}
_TAKES = {"image": "image files", "record": "records"}
#: how deep :func:`declared_kind` follows the functions a fixture calls (a ``make_pipeline()`` helper)
_DEPTH = 2


def kind_of(input_kind: str) -> Kind:
    """``"record"`` for a record pipeline's ``input``, ``"image"`` for ``"image-bytes"`` and ``"image-path"``."""
    return "record" if input_kind == "record" else "image"


def applies(check: str, kind: Kind) -> bool:
    """Whether the inputs check ``check`` (a name of ``inputs.checks``, or ``corpus-<dir>``) applies to a ``kind`` pipeline."""
    return check.startswith("corpus-") or check in APPLIES[kind]


def _other(kind: Kind) -> Kind:
    return "image" if kind == "record" else "record"


def not_applicable(spec: CheckSpec, kind: Kind, settings: Settings) -> NotApplicable:
    """The skip of ``spec`` on a ``kind`` pipeline, with the setting that stops planning it."""
    name = str(spec.name)
    reason = f"{name} applies to {_other(kind)} pipelines; this pipeline takes {_TAKES[kind]}"
    if settings.source("inputs.checks") != "default":
        fix = f"inputs.checks (from {settings.source('inputs.checks')}) asks for it: leave it out there to not plan it"
    elif settings.get("inputs.pipeline") == "auto":
        fix = (
            f"the suite could not tell the pipeline's kind from the mlguard_pipeline fixture's source: set inputs.pipeline = "
            f'"{kind}" in [tool.mlguard.inputs] (or --mlguard-set inputs.pipeline={kind}) to plan only the checks that apply'
        )
    else:  # asked for by its id (a custom test, check_model): the suite does not plan it
        fix = f"the suite does not plan it under inputs.pipeline = {settings.get('inputs.pipeline')!r} (from {settings.source('inputs.pipeline')})"
    return NotApplicable(f"{reason} ({fix})")


def check_kind(spec: CheckSpec, input_kind: str, settings: Settings) -> None:
    """Stop with a usage error if the suite planned ``spec`` for a pipeline of another kind than the
    fixture returned (``input_kind``, its ``Pipeline(input=...)``).

    The plan's kind is ``inputs.pipeline`` where set, else the one :func:`declared_kind` read from the
    fixture's source (the spec's ``pipeline`` and ``pipeline_from`` parameters).

    Raises:
        ContractError: the kinds differ; the message names the setting (or the source it was read
            from) and the fixture.
    """
    declared = settings.get("inputs.pipeline")
    if declared != "auto":
        planned, where = declared, f"inputs.pipeline = {declared!r} (from {settings.source('inputs.pipeline')})"
        fix = f'set inputs.pipeline = "{kind_of(input_kind)}" (or "auto"), or return {_article(declared)} pipeline'
    elif spec.param("pipeline") is not None:
        planned = spec.param("pipeline")
        where = f"the Pipeline(...) that {spec.param('pipeline_from')} builds, read at collection"
        fix = f'declare the kind: inputs.pipeline = "{kind_of(input_kind)}" in [tool.mlguard.inputs]'
    else:
        return
    if kind_of(input_kind) == planned:
        return
    raise ContractError(
        f"returned {_article(kind_of(input_kind))} pipeline (Pipeline(..., input={input_kind!r})) but the suite planned the inputs "
        f"checks of {_article(planned)} pipeline from {where}: {fix}",
        fixture="mlguard_pipeline",
    )


def _article(kind: str) -> str:
    return f"an {kind}" if kind == "image" else f"a {kind}"


def declared_kind(function: Callable[..., Any]) -> Kind | None:
    """The kind of pipeline ``function`` (a fixture's function) returns, read from its source: the
    ``input=`` of every :class:`~pytest_mlguard.Pipeline` it builds, or that a function it calls
    builds (two calls deep). ``None`` where the source does not tell: no ``Pipeline(...)`` found, an
    ``input=`` that is not a literal (``input=request.param``), ``**kwargs``, or pipelines of both kinds.

    Example:
        >>> from pytest_mlguard import Pipeline
        >>> def mlguard_pipeline():
        ...     return Pipeline(print, input="record", examples=[{}])
        >>> declared_kind(mlguard_pipeline)  # doctest: +SKIP
        'record'
    """
    from ..contract._pipeline import Pipeline

    kinds = _kinds(function, Pipeline, _DEPTH, set())
    if kinds is None or len(kinds) != 1:
        return None
    return next(iter(kinds))


def _kinds(function: Any, pipeline: type, depth: int, seen: set[int]) -> set[Kind] | None:
    """The kinds of the pipelines ``function`` builds (empty: none found), or ``None`` where one is unknown."""
    function = inspect.unwrap(function)
    if not isinstance(function, types.FunctionType) or id(function) in seen or _installed(function):
        return set()
    seen.add(id(function))
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):  # no source (a REPL, a zip without it)
        return set()
    found: set[Kind] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = _resolve(node.func, function.__globals__)
        if callee is pipeline:
            kind = _literal_kind(node)
            if kind is None:
                return None
            found.add(kind)
        elif depth > 0 and isinstance(callee, types.FunctionType):
            inner = _kinds(callee, pipeline, depth - 1, seen)
            if inner is None:
                return None
            found |= inner
    return found


def _installed(function: types.FunctionType) -> bool:
    """Whether ``function`` comes from the standard library or an installed package (not followed)."""
    paths = sysconfig.get_paths()
    return function.__code__.co_filename.startswith(tuple(paths[name] for name in ("stdlib", "purelib", "platlib")))


def _resolve(node: ast.expr, names: dict[str, Any]) -> Any:
    """The object a callee expression names through the function's globals (``Pipeline``,
    ``mlguard.Pipeline``, ``zoo.good_pipeline``), or ``None``."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, names)
        return getattr(owner, node.attr, None) if isinstance(owner, types.ModuleType) else None
    return None


def _literal_kind(call: ast.Call) -> Kind | None:
    """The kind of ``Pipeline(...)`` from its ``input=`` literal (none: the default ``"image-bytes"``)."""
    from ..contract._pipeline import INPUT_KINDS

    for keyword in call.keywords:
        if keyword.arg is None:  # **kwargs
            return None
        if keyword.arg == "input":
            value = keyword.value
            if isinstance(value, ast.Constant) and value.value in INPUT_KINDS:
                return kind_of(value.value)
            return None
    return "image"
