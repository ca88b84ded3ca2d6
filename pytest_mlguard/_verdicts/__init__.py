"""Verdicts a reviewer can trust: confidence intervals, floor policies and sequential early stopping.

Settings (``[tool.mlguard.verdict]``):

* ``confidence``: the confidence level of the run: with ``error_control = "bonferroni"`` (the
  default) every check's interval is drawn at ``1 - (1 - confidence) / m``, m the checks the suite
  plans for a model, so that all of them hold at once with probability ``confidence``; with
  ``"none"`` each interval is drawn at ``confidence``;
* ``interval``: the binomial interval of accuracy-like metrics, ``clopper-pearson`` (exact, the
  default) or ``wilson``;
* ``policy``: what an interval that straddles the floor means for the test outcome: ``strict``
  (fail it), ``estimate`` (follow the point estimate) or ``lenient`` (pass it, the default: only a
  decided failure fails); the verdict is reported as ``inconclusive`` with the sample size that would
  decide it, whatever the policy;
* ``bootstrap``: resamples of the bootstrap intervals of other metrics (ECE, ...); 0 turns them off;
* ``early_stop``: how floor checks that evaluate samples batch by batch (corruptions, fixed-epsilon
  attacks) may stop before the last sample: ``sequential`` (as soon as an anytime-valid confidence
  sequence decides, at ``confidence``; the default), ``exact`` (only once no remaining sample could
  change the verdict of the full run) or ``off``;
* ``more_samples``: what a proportion check does when its interval straddles the threshold and the
  data hold samples that ``samples`` left out: ``sequential`` (draw them look by look until an
  anytime-valid confidence sequence decides, within the budget; the default) or ``off``.

Plain functions over counts and arrays below; ``scipy`` is imported when an interval is computed.
"""

from __future__ import annotations

from ..config.parse import parse_choice, parse_int, parse_number
from ..config._settings import Key


EARLY_STOP_MODES = ("sequential", "exact", "off")
ERROR_CONTROL = ("bonferroni", "none")
MORE_SAMPLES_MODES = ("sequential", "off")

VERDICT_KEYS: tuple[Key, ...] = (
    Key("verdict.confidence", parse_number(0.5, 0.9999), 0.95, "confidence that every verdict of a run is right (each check's with error_control none)"),
    Key(
        "verdict.error_control",
        parse_choice(*ERROR_CONTROL),
        "bonferroni",
        "share the run's error rate among its checks (bonferroni) or give each check all of it (none)",
    ),
    Key("verdict.interval", parse_choice("clopper-pearson", "wilson"), "clopper-pearson", "binomial interval of accuracy-like metrics"),
    Key(
        "verdict.policy",
        parse_choice("strict", "estimate", "lenient"),
        "lenient",
        "outcome of an inconclusive check: strict fails it, estimate follows the point estimate, lenient passes it",
    ),
    Key("verdict.bootstrap", parse_int(0, 100_000), 1000, "bootstrap resamples of the intervals of ECE and other metrics (0: none; the NLL's betting interval draws none)"),
    Key(
        "verdict.early_stop",
        parse_choice(*EARLY_STOP_MODES),
        "sequential",
        "stop a floor check early: sequential (anytime-valid test), exact (verdict of the full run) or off",
    ),
    Key(
        "verdict.more_samples",
        parse_choice(*MORE_SAMPLES_MODES),
        "sequential",
        "an undecided proportion check draws the samples 'samples' left out until an anytime-valid test decides (sequential), or not (off)",
    ),
)
