"""Built-in settings profiles, in the manner of Hypothesis' settings profiles.

Select one with ``--mlguard-profile NAME`` (or ``profile = "ci"`` in ``[tool.mlguard]``, or
``MLGUARD_PROFILE``). A profile is chosen for a run: its values override the project's
``[tool.mlguard]`` tables, and the command line and environment override the profile. Projects define
their own, or extend these, in ``[tool.mlguard.profiles.<name>]`` tables.

They change how much each check measures, not which checks run (the project's lists of corruptions
and attacks stay), except ``nightly``, which runs the full ImageNet-C grid:

* ``smoke``: seconds, for every push: 200 samples, 50 of them attacked with 5 steps, corruptions at
  severity 3, a short input search;
* ``ci``: minutes: 500 samples, 200 attacked with 10 steps, severities 1, 3 and 5;
* ``nightly``: everything: all samples and all of them attacked with 50 steps and 5000 queries, every
  corruption at every severity, long input searches, and no early stopping (every value measured on
  every sample, for trend dashboards).

docs/verdicts.md gives the times each takes on the digits example.
"""

from __future__ import annotations

from typing import Any


BUILTIN_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "samples": 200,  # about 20 a class on 10 classes: per-class checks (gate[accuracy]) need them
        "attack.samples": 50,
        "attack.steps": 5,
        "attack.queries": 200,
        "corruption.severities": [3],
        "calibration.garbage_samples": 50,
        "inputs.max_examples": 20,
        "inputs.time_budget": 10,
        "resources.requests": 50,
    },
    "ci": {
        "samples": 500,
        "attack.samples": 200,
        "attack.steps": 10,
        "corruption.severities": [1, 3, 5],
        "inputs.max_examples": 100,
        "inputs.time_budget": 60,
    },
    "nightly": {
        "samples": "none",
        "attack.samples": "none",
        "attack.steps": 50,
        "attack.queries": 5000,
        "corruption.corruptions": "all",
        "corruption.severities": "all",
        "calibration.garbage_samples": 1000,
        "inputs.max_examples": 1000,
        "inputs.time_budget": 600,
        "resources.requests": 1000,
        "verdict.early_stop": "off",
    },
}
