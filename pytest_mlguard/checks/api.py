"""Checks without pytest, in the manner of scikit-learn's ``check_estimator``.

:func:`check_model` runs checks on a model declared with the public adapters and returns the same
:class:`~pytest_mlguard.checks._base.CheckResult` s, with verdicts, that the suite records. The
``mlguard`` fixture measures its checks through :func:`run_checks` and :func:`check_spec`.

Example:
    >>> import numpy as np
    >>> from pytest_mlguard import CallableModel, EvalData, check_model
    >>> model = CallableModel(lambda x: np.eye(2)[(x[:, 0] > 0.5).astype(int)], input_shape=(1,), n_classes=2)
    >>> data = EvalData(np.linspace(0, 1, 40).reshape(-1, 1), (np.linspace(0, 1, 40) > 0.5).astype(int))
    >>> [(r.id, r.passed) for r in check_model(model, data, "accuracy", settings={"accuracy.floor": 0.9})]
    [('accuracy', True)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..config._settings import Settings, Source, resolve
from ..errors import InvalidArgument, NotApplicable
from ._base import CheckResult, CheckSpec, Family

if TYPE_CHECKING:
    from ._evaluation import Evaluation

__all__ = ["check_model", "check_spec", "parse_check_id", "resolve_settings", "run_checks"]

#: how :func:`check_model` names its settings in errors
_SETTINGS_WHERE = "check_model(settings=...)"
_CHECK_ID = re.compile(r"(?P<family>[a-z_]+)(?:\[(?P<name>.+)\])?")


def parse_check_id(check_id: str) -> tuple[str, str | None]:
    """``"corruption[gaussian_noise-3]"`` -> ``("corruption", "gaussian_noise-3")``."""
    match = _CHECK_ID.fullmatch(check_id.strip()) if isinstance(check_id, str) else None
    if not match:
        raise InvalidArgument.expected("a check id such as 'accuracy' or 'corruption[gaussian_noise-3]'", "check_id", check_id)
    return match.group("family"), match.group("name")


def resolve_settings(settings: Mapping[str, Any] | Settings | None) -> Settings:
    """Settings from a mapping of setting names to values (the names of pyproject.toml and
    ``--mlguard-set``, such as ``{"accuracy.floor": 0.9, "corruption.severities": "1,3"}``), validated
    with the plugin's errors; the process environment is not read. A :class:`Settings` is returned as is."""
    from ..config._profiles import BUILTIN_PROFILES
    from ._registry import all_keys

    if isinstance(settings, Settings):
        return settings
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise InvalidArgument.expected("a mapping of setting names to values, such as {'accuracy.floor': 0.9}", "settings", settings)
    values = dict(settings)
    for name in values:
        if not isinstance(name, str):
            raise InvalidArgument.expected("setting names (str), such as 'accuracy.floor'", "a settings key", name, where=_SETTINGS_WHERE)
    source = Source(values, _SETTINGS_WHERE, {name: f"check_model(settings={{{name!r}: ...}})" for name in values})
    return resolve(files=[source], environ={}, keys=all_keys(), profiles=BUILTIN_PROFILES)


def check_spec(check_id: str, settings: Settings) -> tuple[Family, CheckSpec]:
    """The family and the spec of ``check_id`` (``"accuracy"``, ``"attack[pgd-linf-0.1]"``) under ``settings``.

    Raises:
        InvalidArgument: not a check id, an unknown family, or a check its family cannot make;
            the message names what was given and what is expected.
    """
    from ._registry import families

    family_name, name = parse_check_id(check_id)
    family = next((f for f in families() if f.name == family_name), None)
    if family is None:
        known = ", ".join(f.name for f in families())
        raise InvalidArgument.expected(f"a check id whose family is one of {known}", "check_id", check_id)
    try:
        return family, family.spec(name, settings)
    except KeyError as exc:
        raise InvalidArgument(f"{exc.args[0]} (check_id={check_id!r})") from None


def run_checks(evaluation: Evaluation, checks: Iterable[tuple[Family, CheckSpec]]) -> list[CheckResult]:
    """Measure each ``(family, spec)`` on ``evaluation`` and return the results with their verdicts."""
    return [evaluation.run(family, spec) for family, spec in checks]


def check_model(
    model: Any,
    data: Any,
    checks: str | Iterable[str] | None = None,
    settings: Mapping[str, Any] | Settings | None = None,
    pipeline: Any = None,
    *,
    extras: Mapping[str, Any] | None = None,
) -> list[CheckResult]:
    """Run checks on ``model`` and ``data`` without pytest, as the suite runs them.

    Args:
        model: a :class:`~pytest_mlguard.TorchModel`, ``CallableModel``, ``SklearnModel`` or what
            ``mlguard_model`` may return (docs/model-contract.md).
        data: an :class:`~pytest_mlguard.EvalData` or what ``mlguard_data`` may return.
        checks: a check id or ids, such as ``"accuracy"`` or ``["attack[pgd-linf-0.1]"]``; ``None``
            runs the default plan (every family's planned checks that the given fixtures allow).
        settings: setting names to values, as in pyproject.toml's ``[tool.mlguard]`` or
            ``--mlguard-set`` (``{"accuracy.floor": 0.9}``); defaults for the others.
        pipeline: the production :class:`~pytest_mlguard.Pipeline`, for the inputs checks.
        extras: the values of further fixtures a family needs, by need (``{"baseline_model": m}``
            for the gate's checks).

    Returns:
        One :class:`~pytest_mlguard.CheckResult` per check, in order; ``result.passed`` and
        ``result.verdict()`` say how it went. Under the default plan, a check that does not apply to
        the model (``NotApplicable``) is left out; an asked-for check raises it.

    Raises:
        InvalidArgument: a bad check id or setting (``ConfigError``), or a declaration that breaks
            the model contract (``ContractError``).

    Example::

        results = check_model(TorchModel(net, input_shape=(1, 28, 28), n_classes=10), EvalData(x, y),
                              ["accuracy", "attack[pgd-linf-0.1]"], settings={"accuracy.floor": 0.9})
        assert all(r.passed for r in results), [r.verdict() for r in results]
    """
    from ..contract._declaration import check_declaration, probe_model
    from ._evaluation import Evaluation

    resolved = resolve_settings(settings)
    extras = dict(extras or {})
    planned = _planned(checks, resolved, given={"model", "data", *(("pipeline",) if pipeline is not None else ()), *extras})
    adapted, eval_data = check_declaration(
        model, data, pipeline, device=resolved.device, device_source=resolved.source("device"), probe=False,
        task=resolved.get("task"), task_source=resolved.source("task"),
    )
    probe_model(adapted, eval_data, resolved.device)
    evaluation = Evaluation(adapted, eval_data, resolved, pipeline=pipeline).with_extras(extras)
    if checks is not None:
        return run_checks(evaluation, planned)
    results = []
    for family, spec in planned:
        try:
            results += run_checks(evaluation, [(family, spec)])
        except NotApplicable:
            continue
    return results


def _planned(checks: str | Iterable[str] | None, settings: Settings, given: set[str]) -> list[tuple[Family, CheckSpec]]:
    """The checks ``checks`` names, or (``None``) every family's planned checks that the ``given``
    fixtures allow."""
    from ._registry import families

    if checks is None:
        return [(f, spec) for f in families() if set(f.needs) <= given for spec in f.planned(settings)]
    ids = [checks] if isinstance(checks, str) else list(checks) if isinstance(checks, Iterable) else None
    if ids is None:
        raise InvalidArgument.expected("a check id or a list of them, such as 'accuracy' or ['attack[pgd-linf-0.1]']", "checks", checks)
    return [check_spec(check_id, settings) for check_id in ids]
