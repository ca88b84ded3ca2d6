"""Windows of a timestamped production log: ``ProductionLog(inputs, timestamps)``, ``shift.window``
and ``shift.reference``; bad timestamps and empty windows are contract errors naming the fixture."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from pytest_mlguard import ProductionLog
from pytest_mlguard.checks.api import check_model
from pytest_mlguard.contract import CallableModel, EvalData
from pytest_mlguard.errors import ConfigError, ContractError
from pytest_mlguard.production._shift import parse_window
from pytest_mlguard.production._shift.window import select_window

DAY = 86400.0
END = dt.datetime(2026, 12, 3, 4, 0, tzinfo=dt.timezone.utc).timestamp()


def _bright_model():
    def predict(x):
        p = np.clip(x.reshape(len(x), -1).mean(axis=1), 0.05, 0.95)
        return np.stack([1 - p, p], axis=1)

    return CallableModel(predict, input_shape=(1, 2, 2), n_classes=2, name="bright")


def _log(days: int = 3, per_day: int = 200, last_shift: float = 0.25, seed: int = 1):
    """``days`` of logged inputs, ``per_day`` each, evenly in time; the last day brighter by ``last_shift``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(days * per_day, 1, 2, 2))
    x[-per_day:] = np.clip(x[-per_day:] + last_shift, 0, 1)
    seconds = END - DAY * days + (np.arange(days * per_day) + 1) * DAY / per_day
    return x, seconds


@pytest.mark.parametrize(("value", "seconds"), [("1d", DAY), ("12h", 43200.0), ("1w", 7 * DAY), ("1d12h", 1.5 * DAY), (" 90m ", 5400.0), (30, 30.0)])
def test_window_lengths(value, seconds):
    assert parse_window(value, "shift.window", "pyproject.toml") == seconds


@pytest.mark.parametrize("value", ["1 day", "d", "", "-1d", 0, True, "1y"])
def test_a_bad_window_is_a_config_error_naming_the_key(value):
    with pytest.raises(ConfigError, match=r"for 'shift.window' in pyproject.toml: expected a duration such as '1d'"):
        parse_window(value, "shift.window", "pyproject.toml")


def test_every_form_of_timestamp_selects_the_same_window():
    x, seconds = _log(days=2, per_day=20)
    forms = [
        seconds,
        seconds.tolist(),
        [dt.datetime.fromtimestamp(s, dt.timezone.utc) for s in seconds],
        [dt.datetime.fromtimestamp(s, dt.timezone.utc).replace(tzinfo=None) for s in seconds],  # naive: UTC
        [dt.datetime.fromtimestamp(s, dt.timezone.utc).isoformat() for s in seconds],
        (seconds * 1e6).astype("datetime64[us]"),
    ]
    for form in forms:
        window = select_window(ProductionLog(x, form), DAY, "previous-window")
        assert window.current.tolist() == x[20:].tolist() and window.previous.tolist() == x[:20].tolist(), type(form[0])
        assert window.details() == {
            "window": "1d", "start": "2026-12-02T04:00:00Z", "end": "2026-12-03T04:00:00Z", "n": 20, "logged": 40,
            "reference": {"start": "2026-12-01T04:00:00Z", "end": "2026-12-02T04:00:00Z", "n": 20},
        }


def test_tables_and_files_are_windowed_in_their_own_form():
    seconds = np.arange(30) * 3600.0
    table = select_window(ProductionLog({"a": np.arange(30), "b": np.ones(30)}, seconds), 12 * 3600, "evaluation")
    assert table.current["a"].tolist() == list(range(18, 30)) and table.previous is None
    files = select_window(ProductionLog([f"{i}.png" for i in range(30)], seconds), 12 * 3600, "evaluation")
    assert files.current == [f"{i}.png" for i in range(18, 30)]


@pytest.mark.parametrize(
    ("timestamps", "message"),
    [
        (np.arange(19.0), r"Expected one timestamp per input, 20, but got 19 timestamps"),
        ("2026-12-01", r"Expected a sequence of 20 timestamps, one per input, but got str '2026-12-01'"),
        ([*np.arange(19.0), "yesterday"], r"timestamp 19 is 'yesterday': Invalid isoformat string"),
        ([*np.arange(19.0), float("nan")], r"timestamp 19 is nan"),
        ([*np.arange(19).astype("datetime64[s]"), np.datetime64("NaT")], r"timestamp 19 is .*NaT"),
        ([*np.arange(19.0), None], r"timestamp 19 is None"),
    ],
)
def test_bad_timestamps_are_contract_errors(timestamps, message):
    with pytest.raises(ContractError, match=message) as raised:
        select_window(ProductionLog(np.zeros((20, 2)), timestamps), DAY, "evaluation")
    assert str(raised.value).startswith("mlguard_production: Expected")


def test_an_empty_window_is_a_contract_error_saying_what_the_log_holds():
    x, seconds = _log(days=2, per_day=20)
    seconds[-1] += 3 * DAY  # one late input: the last day holds it alone
    with pytest.raises(ContractError, match=r"mlguard_production: Expected at least 10 inputs in the window shift.window selects, but the last "
                       r"1d of the log, 2026-12-05T04:00:00Z to 2026-12-06T04:00:00Z: 1 of its 40 inputs"):
        select_window(ProductionLog(x, seconds), DAY, "evaluation")
    early = seconds[:20].copy()
    early[:8] -= 5 * DAY  # the half day before the last holds 2 inputs
    with pytest.raises(ContractError, match=r"in the window before the last \(shift.reference = 'previous-window'\), but 2026-12-01T04:00:00Z .* holds 2 of the log's 20 inputs"):
        select_window(ProductionLog(x[:20], early), 0.5 * DAY, "previous-window")


def _run(production, **settings):
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, size=(400, 1, 2, 2))
    y = (rng.uniform(size=400) < x.reshape(400, -1).mean(axis=1)).astype(int)
    checks = ["shift[classes]", "shift[inputs]", "shift[accuracy]"]
    chosen = {"shift.checks": ["classes", "inputs", "accuracy"], "shift.accuracy_floor": 0.6, "verdict.bootstrap": 200, **settings}
    return {result.id: result for result in check_model(_bright_model(), EvalData(x, y), checks, settings=chosen, extras={"production": production})}


def test_the_window_compares_the_last_day_only():
    x, seconds = _log(days=3, per_day=200, last_shift=0.25)
    before = _run(ProductionLog(x[:400], seconds[:400]), **{"shift.window": "1d"})  # the log up to yesterday: in distribution
    assert all(result.passed for result in before.values()), [result.verdict() for result in before.values()]
    today = _run(ProductionLog(x, seconds), **{"shift.window": "1d"})
    inputs = today["shift[inputs]"]
    assert not inputs.passed and inputs.n == 200 and inputs.details["window"]["n"] == 200 and inputs.details["window"]["logged"] == 600
    assert inputs.message.endswith("production: the last 1d of the log, 2026-12-02T04:00:00Z to 2026-12-03T04:00:00Z: 200 of its 600 inputs")
    assert today["shift[accuracy]"].details["window"]["end"] == "2026-12-03T04:00:00Z"
    whole = _run(ProductionLog(x, seconds))  # no window: the whole log, a third of it shifted
    assert whole["shift[inputs]"].n == 600


def test_the_previous_window_is_the_reference_where_asked():
    x, seconds = _log(days=3, per_day=200, last_shift=0.0)
    stable = _run(ProductionLog(x, seconds), **{"shift.window": "1d", "shift.reference": "previous-window"})
    assert stable["shift[inputs]"].passed and stable["shift[inputs]"].details["reference"] == "previous window"
    assert "(production n=200, previous window n=200)" in stable["shift[inputs]"].message
    x, seconds = _log(days=3, per_day=200, last_shift=0.25)
    moved = _run(ProductionLog(x, seconds), **{"shift.window": "1d", "shift.reference": "previous-window"})
    assert not moved["shift[inputs]"].passed and "production drifts from the previous window in" in moved["shift[inputs]"].message
    assert moved["shift[inputs]"].details["window"]["reference"]["n"] == 200


def test_a_window_needs_timestamps_and_the_previous_window_needs_a_window():
    x, seconds = _log(days=2, per_day=20)
    with pytest.raises(ContractError, match=r"mlguard_production: Expected a ProductionLog\(inputs, timestamps\): shift.window '1d' and shift.reference 'evaluation' select inputs by the time they were logged, but got inputs without timestamps \(ndarray\)"):
        _run(x, **{"shift.window": "1d"})
    with pytest.raises(ConfigError, match=r"shift.reference = 'previous-window' compares two windows of the log: set shift.window"):
        _run(ProductionLog(x, seconds), **{"shift.reference": "previous-window"})
