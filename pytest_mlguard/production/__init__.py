"""Production readiness: the checks of where and how a model will run, rather than of odd inputs.

Four families, each in its own folder, all opt-in (they run where ``pyproject.toml`` describes the
production setting; see docs/production.md):

* ``resources``: latency, throughput and peak memory in a process limited like the production
  server (``[tool.mlguard.server]``), against budgets;
* ``determinism``: repeated calls, concurrent requests and batch composition give the same outputs;
* ``drift``: bfloat16, other thread counts, TorchScript / ``torch.export`` and int8 agree with the
  float32 eager model;
* ``gate``: a candidate model against the baseline in production (``mlguard_baseline_model``).

A fifth, ``shift`` (label-free drift of a sample of logged production inputs, ``mlguard_production``;
docs/drift.md), lives in ``_shift`` and is listed by :mod:`pytest_mlguard.checks._builtin` itself.

Importing this package imports neither numpy nor torch.
"""

from __future__ import annotations

from .determinism import FAMILY as DETERMINISM
from ._drift import FAMILY as DRIFT
from .gate import FAMILY as GATE
from ._resources import FAMILY as RESOURCES

FAMILIES = (RESOURCES, DETERMINISM, DRIFT, GATE)
