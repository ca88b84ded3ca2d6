"""What a check is: its spec (planned from settings), its measurement, its JSON-safe result, and the
family that declares it; the names of :mod:`.spec`, :mod:`.result` and :mod:`.family`, in one place.

A *family* (accuracy, corruption, attack, calibration, inputs, ...) lives in its own folder and
declares a :class:`Family`: its settings keys, a cheap ``plan`` from settings to
:class:`CheckSpec` s (run at collection, imports nothing heavy) and the dotted path of its ``run``
function (imported only when a check runs). ``run(spec, evaluation)`` returns a
:class:`Measurement`; the runner turns it into a :class:`CheckResult` with the verdict.

Example:
    >>> from pytest_mlguard.config.parse import Threshold
    >>> CheckSpec("corruption", "gaussian_noise-3", "accuracy", Threshold(0.7)).id
    'corruption[gaussian_noise-3]'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# a private module: no __all__; ``X as X`` marks a name re-exported (docs/extending.md, "Public and private modules")
from ._family import Family as Family, Plot as Plot, RunFunction as RunFunction, register_families as register_families, registered_families as registered_families, registered_family as registered_family
from ._result import CheckResult as CheckResult, VerdictRules as VerdictRules
from ._spec import CheckSpec as CheckSpec, Measurement as Measurement, ThresholdKind as ThresholdKind

if TYPE_CHECKING:
    from .._verdicts.sequential import EarlyStop


def early_stop_measurement(stop: EarlyStop, details: dict[str, Any], message: str, *, per_sample: int = 1) -> Measurement:
    """The :class:`Measurement` of a proportion check after the looks of ``stop``: the value and interval
    of :meth:`~pytest_mlguard._verdicts.sequential.EarlyStop.value_and_interval`, the stop in
    ``details["early_stop"]`` and in the message, and the model evaluations used and saved
    (``per_sample`` a sample). Here rather than on ``EarlyStop``: ``verdicts/`` imports nothing above it."""
    details = {**details, "early_stop": stop.details(per_sample * stop.n)}
    if stop.stopped:
        message += f"\nstopped early after {stop.n} of {stop.total} samples: the verdict was decided ({stop.mode})"
    value, interval, method = stop.value_and_interval()
    return Measurement(
        value=float(value),
        n=stop.n,
        details=details,
        message=message,
        successes=None if stop.stopped and stop.mode == "exact" else stop.successes,
        interval=interval,
        interval_method=method,
        evaluations=per_sample * stop.n,
        evaluations_saved=per_sample * (stop.total - stop.n),
    )
