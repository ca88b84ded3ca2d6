"""The ``skew`` family: ``skew[features]`` and ``skew[predictions]``, training/serving skew between the
offline and online feature paths a project declares in ``mlguard_features`` (docs/tabular-skew.md).

Settings (``[tool.mlguard.skew]``):

* ``checks``: which checks run (default: none; ``["features", "predictions"]`` once ``mlguard_features``
  is declared);
* ``max_examples``: the raw records Hypothesis draws for each check (default 200), besides the examples
  and shrinking;
* ``time_budget``: seconds after which a check's search runs no new record (default 60);
* ``mutations``: malformed raw records to draw too (``missing-field``, ``null``, ...; default none): the
  paths must then agree on them as well, both rejecting a record or both giving the same features.

Importing this module imports neither numpy nor Hypothesis.
"""

from __future__ import annotations

from ..checks._base import CheckSpec, Family
from ..config.parse import Threshold, parse_choice, parse_int, parse_list, parse_number
from ..config._settings import Key, Settings
from ..inputs.records import MUTATIONS

CHECKS = ("features", "predictions")


def _make(name: str | None, settings: Settings) -> CheckSpec:
    if name not in CHECKS:
        raise KeyError(f"no check skew[{name}]; expected one of {[f'skew[{c}]' for c in CHECKS]}")
    params = tuple((key, settings.get(f"skew.{key}")) for key in ("max_examples", "time_budget", "mutations"))
    return CheckSpec("skew", name, "agreement", Threshold(1.0), params=params, keywords=("skew", "tabular"))


def _plan(settings: Settings) -> list[CheckSpec]:
    return [_make(name, settings) for name in settings.get("skew.checks")]


FAMILY = Family(
    name="skew",
    keys=(
        Key("skew.checks", parse_list(parse_choice(*CHECKS)), (), "training/serving skew checks of mlguard_features' two paths: " + ", ".join(CHECKS)),
        Key("skew.max_examples", parse_int(1, 100_000), 200, "raw records Hypothesis draws for each skew check, besides the examples and shrinking"),
        Key("skew.time_budget", parse_number(0.1, 86_400), 60.0, "seconds after which a skew check's search runs no new record"),
        Key(
            "skew.mutations",
            parse_list(parse_choice(*MUTATIONS)),
            (),
            "also draw malformed raw records with these mutations (missing-field, null, nan, ...): the paths must agree on them too",
        ),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.skew._run:run_check",
    needs=("model", "data", "features"),
    rank=5,
    prior_seconds=2.0,
    cacheable=False,  # the cache's key holds no fingerprint of the feature paths' code, which a fix changes
    hooks="pytest_mlguard.skew._hooks",
    doc="training/serving skew: the offline and online feature paths of mlguard_features agree on fuzzed raw records",
)
