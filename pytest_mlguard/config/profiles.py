"""Built-in settings profiles, in the manner of Hypothesis' settings profiles.

Select one with ``--mlguard-profile NAME`` (or ``profile = "ci"`` in ``[tool.mlguard]``, or
``MLGUARD_PROFILE``). A profile supplies values below every explicit setting; projects define their
own, or extend these, in ``[tool.mlguard.profiles.<name>]`` tables.

* ``smoke``: seconds, for every push: a small sample, one severity, one cheap attack;
* ``ci``: minutes: a moderate sample, three severities, the configured attacks;
* ``nightly``: everything: all samples, every severity, stronger iterative attacks.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BUILTIN_PROFILES"]

BUILTIN_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "samples": 100,
        "corruption.severities": [3],
        "attack.checks": ["fgsm-linf-8/255"],
        "attack.steps": 5,
    },
    "ci": {
        "samples": 500,
        "corruption.severities": [1, 3, 5],
        "attack.steps": 10,
    },
    "nightly": {
        "samples": "none",
        "corruption.severities": [1, 2, 3, 4, 5],
        "attack.steps": 50,
    },
}
