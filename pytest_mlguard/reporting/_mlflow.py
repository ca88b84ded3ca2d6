"""MLflow: with ``--mlguard-mlflow`` (``report.mlflow``), the run's checks as metrics and tags of the
active MLflow run (a new one where none is active), and report.json and report.html as its artifacts.
MLflow is an optional extra (``pip install 'pytest-mlguard[mlflow]'``, mlflow-skinny); it is imported
only when the setting is on, and its tracking URI and experiment come from MLflow's own environment
variables (``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``).

Each check ``<model>::<id>`` gives the metric ``mlguard/<model>/<id>`` (its value; brackets read as
dots, ``attack[pgd-linf-0.1]`` as ``attack.pgd-linf-0.1``), ``...low`` and ``...high`` (the interval)
and the tags ``...verdict`` (passed, failed or inconclusive) and ``...threshold``.

Example:
    >>> metric_name("digits", "calibration[ece]")
    'mlguard/digits/calibration.ece'
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError

_INVALID = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_name(model: str, check: str) -> str:
    """The MLflow name of a check: only the characters MLflow allows in names (others become ``_``)."""
    return _INVALID.sub("_", f"mlguard/{model}/{check.replace('[', '.').replace(']', '')}")


def require_mlflow(where: str, *, store: bool = True) -> None:
    """A usage error, before any check runs, where MLflow is asked for (``where``) but not installed, or
    (with ``store``) where no ``MLFLOW_TRACKING_URI`` is set and MLflow's default store (sqlite) needs what
    is not installed (``mlflow.set_tracking_uri`` in a conftest.py sets that variable too)."""
    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError(
            f"logging to MLflow (report.mlflow, from {where}) needs MLflow, which is not installed: "
            "expected pip install 'pytest-mlguard[mlflow]' (mlflow-skinny), or leave report.mlflow off"
        )
    if store and not os.environ.get("MLFLOW_TRACKING_URI") and importlib.util.find_spec("sqlalchemy") is None:
        raise ConfigError(
            f"logging to MLflow (report.mlflow, from {where}) needs a tracking store: MLFLOW_TRACKING_URI is not set, "
            f"so MLflow would use its default sqlite:///{Path.cwd() / 'mlflow.db'}, which needs SQLAlchemy (not in mlflow-skinny): "
            "expected MLFLOW_TRACKING_URI set to a store MLflow can open, e.g. file:///path/to/mlruns with "
            "MLFLOW_ALLOW_FILE_STORE=true, or an http(s):// tracking server"
        )


def run_values(report: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """The metrics and tags of a report: the score and each check's value, interval, verdict and threshold."""
    metrics: dict[str, float] = {"mlguard/score": float(report["score"])}
    summary = report["summary"]
    tags = {"mlguard/passed": str(summary["failed"] == 0 and summary["errors"] == 0).lower(), "mlguard/seed": str(report["seed"])}
    for check in report.get("checks", []):
        name = metric_name(check["model"], check["id"])
        if check.get("value") is not None and math.isfinite(check["value"]):
            metrics[name] = float(check["value"])
        interval = check.get("interval")
        if interval:
            metrics[f"{name}.low"], metrics[f"{name}.high"] = float(interval["low"]), float(interval["high"])
        kind = "floor" if "floor" in check else "ceiling"
        tags[f"{name}.verdict"] = str(check.get("verdict") or ("passed" if check["passed"] else "failed"))
        spec = check.get("threshold")
        tags[f"{name}.threshold"] = f"{kind} {check[kind]:g}" + (f" ({spec})" if spec and spec != f"{check[kind]:g}" else "")
    for entry in report.get("errors", []):
        tags[f"{metric_name(entry.get('model', ''), entry['id'])}.verdict"] = "error"
    return metrics, tags


def log_to_mlflow(report: Mapping[str, Any], written: Mapping[str, Path]) -> str:
    """Log ``report`` to the active MLflow run, or to a new one that is ended here; returns the run's id."""
    import mlflow

    metrics, tags = run_values(report)
    active = mlflow.active_run()
    run = active or mlflow.start_run(run_name="pytest-mlguard")
    try:
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)
        for key in ("report", "html"):
            if key in written and Path(written[key]).is_file():
                mlflow.log_artifact(str(written[key]), artifact_path="mlguard")
    finally:
        if active is None:
            mlflow.end_run()
    return str(run.info.run_id)
