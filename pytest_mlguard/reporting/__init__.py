"""Reports, score and badges: written by the controller only, whole or not at all."""

# a private module: no __all__; ``X as X`` marks a name re-exported (docs/extending.md, "Public and private modules")
from ._progress import PROGRESS_KEYS as PROGRESS_KEYS
from ._report import REPORT_KEYS as REPORT_KEYS, SCHEMA as SCHEMA, build_report as build_report, write_outputs as write_outputs
from ._score import robustness_score as robustness_score, score_keys as score_keys

