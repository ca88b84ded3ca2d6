"""Verdicts a reviewer can trust: confidence intervals, floor policies and sequential early stopping.

Settings (``[tool.mlguard.verdict]``):

* ``confidence``: the confidence level of every interval (default 0.95);
* ``interval``: the binomial interval of accuracy-like metrics, ``wilson`` or ``clopper-pearson``;
* ``policy``: what an interval that straddles the floor means for the test outcome: ``strict``
  (fail it), ``estimate`` (follow the point estimate, the default) or ``lenient`` (pass it); the
  verdict is reported as ``inconclusive`` with the sample size that would decide it, whatever the policy;
* ``bootstrap``: resamples of the bootstrap intervals of other metrics (ECE, ...); 0 turns them off;
* ``early_stop``: how floor checks that evaluate samples batch by batch (corruptions, fixed-epsilon
  attacks) may stop before the last sample: ``sequential`` (as soon as an anytime-valid confidence
  sequence decides, at ``confidence``; the default), ``exact`` (only once no remaining sample could
  change the verdict of the full run) or ``off``.

Plain functions over counts and arrays below; ``scipy`` is imported when an interval is computed.
"""

from __future__ import annotations

from ..config.parse import parse_choice, parse_int, parse_number
from ..config.settings import Key

__all__ = ["EARLY_STOP_MODES", "VERDICT_KEYS"]

EARLY_STOP_MODES = ("sequential", "exact", "off")

VERDICT_KEYS: tuple[Key, ...] = (
    Key("verdict.confidence", parse_number(0.5, 0.9999), 0.95, "confidence level of the intervals verdicts rest on"),
    Key("verdict.interval", parse_choice("wilson", "clopper-pearson"), "wilson", "binomial interval of accuracy-like metrics"),
    Key(
        "verdict.policy",
        parse_choice("strict", "estimate", "lenient"),
        "estimate",
        "outcome of an inconclusive check: strict fails it, estimate follows the point estimate, lenient passes it",
    ),
    Key("verdict.bootstrap", parse_int(0, 100_000), 1000, "bootstrap resamples of the intervals of ECE and other metrics (0: none)"),
    Key(
        "verdict.early_stop",
        parse_choice(*EARLY_STOP_MODES),
        "sequential",
        "stop a floor check early: sequential (anytime-valid test), exact (verdict of the full run) or off",
    ),
)
