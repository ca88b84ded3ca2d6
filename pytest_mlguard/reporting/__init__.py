"""Reports, score and badges: written by the controller only, whole or not at all."""

from .progress import PROGRESS_KEYS
from .report import REPORT_KEYS, SCHEMA, build_report, write_outputs
from .score import SCORE_KEYS, robustness_score

__all__ = ["PROGRESS_KEYS", "REPORT_KEYS", "SCHEMA", "SCORE_KEYS", "build_report", "robustness_score", "write_outputs"]
