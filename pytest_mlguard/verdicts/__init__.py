"""Verdicts a reviewer can trust: confidence intervals, floor policies and sequential early stopping.

Plain functions over counts and arrays; ``scipy`` is imported when an interval is computed.
"""

from __future__ import annotations

__all__: list[str] = []
