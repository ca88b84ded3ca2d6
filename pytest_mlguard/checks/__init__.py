"""Check plumbing shared by every family: specs, measurements, results (``base``) and evaluations
(``evaluation``, which imports numpy and is therefore not imported here)."""

from ._base import CheckResult, CheckSpec, Family, Measurement, Plot

__all__ = ["CheckResult", "CheckSpec", "Family", "Measurement", "Plot"]
