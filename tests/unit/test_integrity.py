"""Run integrity, the functional core: strict JSON, file modes, the output directory replaced as a
whole, wall-clock limits, and what a report says about checks that did not run."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from pytest_mlguard._deadline import Deadline, can_limit, limit
from pytest_mlguard.reporting import build_report, write_outputs
from pytest_mlguard.reporting._atomic import (
    file_mode,
    probe_directory,
    replace_directory,
    write_files,
)
from pytest_mlguard.reporting._badge import badge_files
from pytest_mlguard.reporting._examples import artifact_dir_name
from pytest_mlguard.reporting._score import check_goodness
from pytest_mlguard.reporting._strict_json import dumps, finite_copy

needs_alarm = pytest.mark.skipif(not can_limit(), reason="SIGALRM in the main thread is needed")


def strict_loads(text):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def check(check_id="accuracy", value=0.9, *, model="digits", details=None, passed=True):
    return {
        "id": check_id, "model": model, "family": check_id.partition("[")[0], "metric": "accuracy", "value": value,
        "floor": 0.5, "threshold": "0.5", "n": 100, "passed": passed, "seed": 0, "duration_s": 0.1, "details": details or {},
    }


def report_of(checks, **kwargs):
    return build_report(checks, seed=0, samples=None, models={"digits": {"name": "digits"}}, **kwargs)


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


# -- strict JSON ----------------------------------------------------------------------------------
def test_non_finite_numbers_become_null_and_their_places_are_listed():
    value = {"a": float("nan"), "b": [1.0, float("inf"), {"c": np.float32("-inf")}], "d": np.float64(0.5), "e": (2, "x", None, True)}
    copy, found = finite_copy(value)
    assert copy == {"a": None, "b": [1.0, None, {"c": None}], "d": 0.5, "e": [2, "x", None, True]}
    assert found == {"a": "nan", "b[1]": "inf", "b[2].c": "-inf"}
    assert strict_loads(dumps(value)) == copy
    assert value["a"] != value["a"]  # the original is left alone


def test_a_report_of_a_model_that_returns_nan_is_written_as_strict_json_with_the_nulls_flagged(tmp_path):
    nan = float("nan")
    checks = [check("accuracy", nan, passed=False, details={"per_class": {"0": nan}}), check("calibration[ece]", 0.1, details={"nll": float("inf"), "clean_accuracy": nan})]
    paths = write_outputs(report_of(checks), tmp_path / "out")
    report = strict_loads(paths["report"].read_text())
    assert report["checks"][0]["value"] is None and report["checks"][0]["details"]["per_class"]["0"] is None
    assert report["non_finite"] == {
        "checks[0].value": "nan",
        "checks[0].details.per_class.0": "nan",
        "checks[1].details.nll": "inf",
        "checks[1].details.clean_accuracy": "nan",
    }
    assert math.isfinite(report["score"]) and strict_loads(paths["endpoint"].read_text())["message"] == f"{report['score']:.1f}"


def test_a_nan_clean_accuracy_scores_nothing_rather_than_everything():
    corruption = check("corruption[gaussian_noise-3]", 0.5, details={"clean_accuracy": float("nan")})
    assert check_goodness(corruption) == 0.0
    assert check_goodness(check("accuracy", float("inf"))) == 0.0


def test_baselines_and_cache_entries_are_strict_json(tmp_path):
    from pytest_mlguard._baseline.store import save_baseline
    from pytest_mlguard._cache import ResultCache

    path = save_baseline(report_of([check("accuracy", float("nan"), passed=False)]), "main", tmp_path)
    assert strict_loads(path.read_text())["checks"][0]["value"] is None
    cache = ResultCache(tmp_path / "cache", secret=None)
    evaluation, spec = SimpleNamespace(model_id="m"), SimpleNamespace(id="accuracy")
    cache.put("k", {"measurement": {"value": float("nan"), "details": {"curve": [float("inf")]}}}, evaluation, spec)
    stored = strict_loads(cache._entry("k").read_text())
    assert stored["measurement"] == {"value": None, "details": {"curve": [None]}}


# -- file modes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_reports_badges_and_cache_files_get_the_mode_the_umask_gives(tmp_path, umask, mask):
    umask(mask)
    assert file_mode() == 0o666 & ~mask and os.umask(mask) == mask  # reading it put it back
    write_files({tmp_path / "cache" / "entry.json": b"{}"})
    paths = write_outputs(report_of([check()]), tmp_path / "report")
    for path in [tmp_path / "cache" / "entry.json", *paths.values()]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path
    assert (tmp_path / "report").stat().st_mode & 0o777 == 0o777 & ~mask


# -- the output directory, replaced as a whole ------------------------------------------------------
def test_a_new_report_replaces_the_old_directory_whole_keeping_what_mlguard_did_not_write(tmp_path):
    output = tmp_path / "mlguard-report"
    old = report_of([check(), check("calibration[ece]", 0.02), check("attack[pgd-linf-0.1]", 0.5)])
    write_outputs(old, output)
    for name in ("attack[pgd-linf-0.1]", "accuracy"):  # artefacts of the old run
        folder = output / "artifacts" / artifact_dir_name("digits", name)
        folder.mkdir(parents=True)
        (folder / "old.npy").write_bytes(b"old")
    (output / "junit.xml").write_text("<testsuites/>")  # written by pytest's --junitxml, not by mlguard
    (output / "hypothesis").mkdir()
    (output / "hypothesis" / "example").write_text("kept")
    started = time.time() + 5.0  # the new run starts: files older than this are old
    fresh = output / "artifacts" / artifact_dir_name("digits", "accuracy")
    (fresh / "new.npy").write_bytes(b"new")
    os.utime(fresh / "new.npy", (started + 1, started + 1))

    write_outputs(report_of([check()]), output, since=started)
    names = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}
    assert "badge-calibration.svg" not in names and "badge-attack.json" not in names  # no stale badge beside the new report
    assert names >= {"report.json", "report.html", "badge.svg", "badge-accuracy.svg", "junit.xml", "hypothesis/example"}
    assert f"artifacts/{artifact_dir_name('digits', 'accuracy')}/new.npy" in names
    assert not any(name.endswith("old.npy") for name in names)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_a_failed_write_leaves_the_old_directory_as_it_was(tmp_path, monkeypatch):
    output = tmp_path / "out"
    replace_directory(output, {"report.json": b"old", "badge-calibration.svg": b"old"})
    (output / "junit.xml").write_text("x")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError, match="No space"):
        replace_directory(output, {"report.json": b"new"}, carry=["junit.xml"])
    assert {p.name: p.read_bytes() for p in output.iterdir()} == {"report.json": b"old", "badge-calibration.svg": b"old", "junit.xml": b"x"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_output_path_that_cannot_be_written_is_found_before_the_run(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        probe_directory(tmp_path / "file")
    with pytest.raises(OSError):
        probe_directory(tmp_path / "file" / "report")
    probe_directory(tmp_path / "new" / "report")  # missing folders are fine: they are created
    assert (tmp_path / "new").is_dir() and not (tmp_path / "new" / "report").exists()


# -- what a report says about a run -----------------------------------------------------------------
def test_a_report_says_what_did_not_run_and_whether_the_run_was_whole():
    skipped = [{"id": "attack[pgd-linf-0.1]", "model": "digits", "nodeid": "c.py::mlguard::attack[pgd-linf-0.1]", "kind": "cut", "reason": "budget"}]
    errors = [{"id": "corruption[fog-1]", "model": "digits", "nodeid": "c.py::mlguard::corruption[fog-1]", "kind": "timeout", "reason": "no answer"}]
    selection = {"selected": 1, "planned": 3, "keyword": "accuracy", "markexpr": None, "deselect": [], "node_ids": []}
    report = report_of([check()], skipped=skipped, errors=errors, interrupted="SIGTERM", selection=selection)
    assert list(report)[:6] == ["schema", "version", "interrupted", "interrupted_by", "partial", "selection"]
    assert report["interrupted"] is True and report["interrupted_by"] == "SIGTERM" and report["partial"] is True
    assert report["skipped"] == skipped and report["errors"] == errors
    assert report["summary"] == {"total": 1, "passed": 1, "failed": 0, "inconclusive": 0, "errors": 1, "skipped": 0, "cut": 1}
    whole = report_of([])
    assert whole["interrupted"] is False and whole["partial"] is False and "selection" not in whole and whole["skipped"] == []


def test_the_badges_of_a_partial_run_say_so():
    selection = {"selected": 1, "planned": 3, "keyword": "accuracy", "markexpr": None, "deselect": [], "node_ids": []}
    files = badge_files(report_of([check()], selection=selection))
    assert json.loads(files["badge.json"])["label"] == "robustness (partial)"
    assert json.loads(files["badge-accuracy.json"])["label"] == "robustness (partial): accuracy"
    assert ">robustness (partial)<" in files["badge.svg"]
    assert json.loads(badge_files(report_of([check()]))["badge.json"])["label"] == "robustness"


# -- wall-clock limits --------------------------------------------------------------------------------
@needs_alarm
def test_a_limit_stops_a_sleep_and_a_lock_wait_in_the_main_thread():
    for hang in (lambda: time.sleep(60), lambda: threading.Event().wait()):
        with pytest.raises(Deadline) as stopped, limit(0.2, "budget"):
            hang()
        assert stopped.value.reason == "budget" and stopped.value.seconds == 0.2 and str(stopped.value) == "no answer within 0.2 s"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)


@needs_alarm
def test_a_swallowed_deadline_is_raised_again_until_the_block_ends():
    swallowed = []
    with pytest.raises(Deadline), limit(0.1):
        try:  # a model that catches everything and goes on waiting
            time.sleep(60)
        except BaseException as exc:  # noqa: BLE001
            swallowed.append(exc)
        time.sleep(60)
    assert len(swallowed) == 1 and isinstance(swallowed[0], Deadline)


@needs_alarm
def test_a_limit_respects_another_alarm_timer_and_puts_it_back():
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)  # pytest-timeout's, say: due later than ours
        with pytest.raises(Deadline), limit(0.1):
            time.sleep(5)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25.0 < left <= 30.0 and not fired
        signal.setitimer(signal.ITIMER_REAL, 0.1)  # due sooner than ours: ours is not armed
        with limit(10.0):
            time.sleep(0.5)
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_no_limit_and_a_block_that_ends_in_time_leave_no_timer():
    with limit(None):
        pass
    with limit(30.0):
        pass
    if can_limit():
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# -- no silent pass -----------------------------------------------------------------------------------
@pytest.mark.parametrize("total, cut, errors, max_cut, passed_tests, fails", [
    (9, 1, 0, 0.0, False, "1 of 10 checks cut by the budget of 60 s, more than budget_max_cut = 0 allows"),
    (9, 1, 0, 0.1, False, None),  # a tenth may be cut
    (8, 2, 0, 0.1, False, "2 of 10 checks cut"),
    (0, 4, 0, 1.0, False, "no check was measured"),  # cuts allowed, but nothing measured
    (0, 0, 3, 0.0, False, "no check was measured"),  # every check errored (failing tests too)
    (0, 0, 0, 0.0, True, None),  # custom tests passed on their own terms
    (5, 0, 0, 0.0, False, None),
])
def test_a_cut_check_counts_as_not_passed_and_a_run_that_measured_nothing_fails(total, cut, errors, max_cut, passed_tests, fails):
    from pytest_mlguard._budget import run_failure

    summary = {"total": total, "passed": total, "failed": 0, "errors": errors, "skipped": 0, "cut": cut}
    message = run_failure(summary, max_cut=max_cut, where="default", budget=60.0, passed_tests=passed_tests)
    assert message == fails if fails is None else fails in message


@needs_alarm
def test_a_limit_that_runs_out_at_once_leaves_no_timer_behind(monkeypatch):
    real = signal.setitimer
    delivered = []

    def delivered_at_once(which, seconds, interval=0.0):  # a loaded machine: the alarm comes before the next line
        previous = real(which, seconds, interval)
        if seconds == 0.001 and not delivered:
            delivered.append(seconds)
            signal.getsignal(signal.SIGALRM)(signal.SIGALRM, None)
        return previous

    monkeypatch.setattr(signal, "setitimer", delivered_at_once)
    try:
        with pytest.raises(Deadline), limit(0.0):
            time.sleep(1)
        assert delivered and real(signal.ITIMER_REAL, 0) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
    finally:
        real(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def test_an_output_directory_that_holds_the_project_is_written_in_place_never_replaced(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.mlguard]\noutput = '.'\n")  # output = "." : the project itself
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text("code")
    write_outputs(report_of([check(), check("calibration[ece]", 0.02)]), tmp_path)
    monkeypatch.chdir(tmp_path / "src")
    write_outputs(report_of([check()]), tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"pyproject.toml", "src", "report.json", "badge.svg", "badge-accuracy.svg"} <= names
    assert "badge-calibration.svg" not in names and (tmp_path / "src" / "model.py").read_text() == "code"
    assert not [p for p in tmp_path.parent.iterdir() if p.name.startswith(f".{tmp_path.name}.")]  # no sibling was made
