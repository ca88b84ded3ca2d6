"""MLflow logging as a plain function of a report: the active run is used where there is one, names
are made of what MLflow allows, and a run that asks for MLflow without it stops with a usage error."""

from __future__ import annotations

import importlib.util

import pytest

from pytest_mlguard.errors import ConfigError
from pytest_mlguard.reporting import _mlflow
from pytest_mlguard.reporting._mlflow import log_to_mlflow, metric_name, require_mlflow

REPORT = {
    "score": 71.5,
    "seed": 3,
    "summary": {"failed": 0, "errors": 1},
    "checks": [{"id": "slices[colour=red, size>2]", "model": "m", "metric": "accuracy", "value": 0.8, "floor": 0.7, "threshold": "0.9*clean", "n": 50, "passed": True, "verdict": "passed", "interval": None}],
    "errors": [{"id": "attack[pgd-linf-0.1]", "model": "m", "kind": "timeout", "reason": "..."}],
}


def test_names_keep_to_what_mlflow_allows():
    assert metric_name("m", "slices[colour=red, size>2]") == "mlguard/m/slices.colour_red_ size_2"
    assert metric_name("digits", "attack[pgd-linf-0.1]") == "mlguard/digits/attack.pgd-linf-0.1"


def test_logs_into_the_active_run(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri(f"file://{tmp_path / 'mlruns'}")
    try:
        with mlflow.start_run() as active:
            assert log_to_mlflow(REPORT, {}) == active.info.run_id
            assert mlflow.active_run() is not None  # the user's run stays open
        data = mlflow.get_run(active.info.run_id).data
    finally:
        mlflow.set_tracking_uri("")
    assert data.metrics == {"mlguard/score": 71.5, "mlguard/m/slices.colour_red_ size_2": 0.8}
    assert data.tags["mlguard/m/slices.colour_red_ size_2.threshold"] == "floor 0.7 (0.9*clean)"
    assert data.tags["mlguard/m/attack.pgd-linf-0.1.verdict"] == "error" and data.tags["mlguard/passed"] == "false"


def test_missing_mlflow_is_a_usage_error(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(_mlflow.importlib.util, "find_spec", lambda name, *args: None if name == "mlflow" else find_spec(name, *args))
    with pytest.raises(ConfigError, match=r"report.mlflow, from command line \(--mlguard-mlflow\)\) needs MLflow.*pytest-mlguard\[mlflow\]"):
        require_mlflow("command line (--mlguard-mlflow)")


def test_default_store_that_mlflow_skinny_cannot_open_is_a_usage_error(monkeypatch):
    """No MLFLOW_TRACKING_URI: MLflow 3 falls back to sqlite:///mlflow.db, which needs SQLAlchemy
    (not in mlflow-skinny); the run stops at its start instead of logging nothing and passing."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(_mlflow.importlib.util, "find_spec", lambda name, *args: object() if name == "mlflow" else None if name == "sqlalchemy" else find_spec(name, *args))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ConfigError, match=r"MLFLOW_TRACKING_URI is not set.*sqlite.*SQLAlchemy.*file:///.*MLFLOW_ALLOW_FILE_STORE=true.*http"):
        require_mlflow("command line (--mlguard-mlflow)")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    require_mlflow("command line (--mlguard-mlflow)")  # a store of the user's choosing: left to MLflow
