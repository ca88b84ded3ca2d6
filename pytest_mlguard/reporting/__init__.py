"""Reports, score and badges: written by the controller only, whole or not at all."""

from .report import SCHEMA, build_report, write_outputs
from .score import robustness_score

__all__ = ["SCHEMA", "build_report", "robustness_score", "write_outputs"]
