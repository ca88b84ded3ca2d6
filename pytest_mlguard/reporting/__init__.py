"""Reports, score and badges: written by the controller only, whole or not at all."""

from .progress import PROGRESS_KEYS
from .report import REPORT_KEYS, SCHEMA, build_report, write_outputs
from .score import robustness_score, score_keys

__all__ = ["PROGRESS_KEYS", "REPORT_KEYS", "SCHEMA", "build_report", "robustness_score", "score_keys", "write_outputs"]
