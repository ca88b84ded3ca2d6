"""The built-in families, in the suite's order, for the registry and for the modules below it that
need them before a run registers its own (report.html drawn outside a run).

Example:
    >>> [family.name for family in FAMILIES][:3]
    ['contract', 'accuracy', 'corruption']
"""

from __future__ import annotations

from .._accuracy import FAMILY as ACCURACY
from ..attacks import FAMILY as ATTACK
from ..calibration import FAMILY as CALIBRATION
from ..contract._family import FAMILY as CONTRACT
from ..corruptions import FAMILY as CORRUPTION
from ..inputs import FAMILY as INPUTS
from ..production import FAMILIES as PRODUCTION
from ..production._shift import FAMILY as SHIFT
from ..skew._family import FAMILY as SKEW
from .._slices import FAMILY as SLICES
from ..tabular import FAMILY as TABULAR
from ._family import Family, registered_families

#: the built-in families, in the suite's order
FAMILIES: tuple[Family, ...] = (CONTRACT, ACCURACY, CORRUPTION, ATTACK, CALIBRATION, INPUTS, *PRODUCTION, SHIFT, TABULAR, SKEW, SLICES)


def run_families() -> tuple[Family, ...]:
    """The run's families (:func:`~pytest_mlguard.checks._registry.families` registers them), the
    built-in ones until then."""
    return registered_families() or FAMILIES
