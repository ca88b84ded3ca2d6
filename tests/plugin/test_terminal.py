"""The terminal a user sees during and after a run: progress of long checks that leaves pytest's dot
line whole (rewritten in place on a terminal, sparse lines in a log), the test that made each custom
result, and the slowest checks at the end."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap

import pytest

SLOW_MODEL = """
import time
_model = zoo.black_box_model()
_predict = _model.fn

def _slow(batch):
    time.sleep(0.3)  # a model behind a slow service
    return _predict(batch)

_model.fn = _slow
"""


def slow_project(project):
    """The zoo's black-box digits model, 0.3 s per call: every check runs long enough to show progress."""
    project.write(model="black_box_model", pipeline=None)
    conftest = project.pytester.path / "conftest.py"
    source = conftest.read_text().replace("return zoo.black_box_model()", "return _model")
    conftest.write_text(source + textwrap.dedent(SLOW_MODEL))
    return project


def screen(output: str) -> list[str]:
    """What a terminal shows after ``output``: carriage returns and backspaces applied, colours dropped."""
    lines: list[list[str]] = [[]]
    column = 0
    for char in re.sub(r"\x1b\[[0-9;]*m", "", output):
        if char == "\n":
            lines.append([])
            column = 0
        elif char == "\r":
            column = 0
        elif char == "\b":
            column = max(0, column - 1)
        else:
            line = lines[-1]
            line.extend(" " * (column - len(line) + 1) if column >= len(line) else "")
            line[column] = char
            column += 1
    return ["".join(line).rstrip() for line in lines]


def run_in_terminal(pytester, *args: str, columns: int = 100) -> str:
    """pytest run as a user runs it in a terminal (a pseudo-terminal of ``columns`` columns)."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PY_COLORS", "NO_COLOR", "FORCE_COLOR")}
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args], cwd=pytester.path, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 600)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end closed: pytest is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait()
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def dot_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("conftest.py")]


def test_progress_on_a_terminal_is_rewritten_in_place_after_the_dots(project):
    slow_project(project)
    output = run_in_terminal(project.pytester, "--mlguard", "-p", "no:randomly", "-k", "accuracy or calibration", "--mlguard-set", "progress.after=0")
    shown = screen(output)
    assert re.search(r"mlguard \[1/2\] accuracy on black-box: \d+/120 samples, \d+ s|mlguard \[1/2\] accuracy on black-box: \d+ s", output), output
    assert [re.sub(" +", " ", line) for line in dot_lines(shown)] == ["conftest.py .. [100%]"], shown
    assert not any("mlguard [" in line for line in shown), "the progress line is erased when its check is done"


def test_progress_in_a_log_leaves_the_dot_line_whole(project):
    slow_project(project)
    result = project.run("--mlguard", "-p", "no:randomly", "-k", "accuracy or calibration", "--mlguard-set", "progress.after=0")
    result.assert_outcomes(passed=2)
    lines = result.stdout.lines
    assert [re.sub(" +", " ", line) for line in dot_lines(lines)] == ["conftest.py .. [100%]"], lines
    assert not any(line.startswith("mlguard [") for line in lines), "checks shorter than progress.every print no line in a log"


def test_custom_results_name_the_test_that_made_them(project):
    project.write()
    project.pytester.makepyfile(
        test_robust="""
        import pytest

        @pytest.mark.mlguard
        def test_accuracy_on_the_subset(mlguard):
            mlguard.check("accuracy", floor=0.5)
        """
    )
    result = project.run("--mlguard", "-p", "no:randomly", "-k", "accuracy and not gate")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines_random(
        [
            "digits::accuracy *accuracy 0.9* >= floor 0.8500 * PASSED",
            "digits::accuracy *accuracy 0.9* >= floor 0.5000 * PASSED  (test_robust.py::test_accuracy_on_the_subset)",
        ]
    )
    checks = project.report()["checks"]
    assert sorted(c["nodeid"] for c in checks) == ["conftest.py::mlguard::accuracy", "test_robust.py::test_accuracy_on_the_subset"]
    page = (project.pytester.path / "mlguard-report" / "report.html").read_text()
    assert page.count("<code>test_robust.py::test_accuracy_on_the_subset</code>") == 1  # once in the table (its row's id holds it too)


def test_the_slowest_checks_are_listed_at_the_end(project):
    project.write()
    args = ("--mlguard", "-p", "no:randomly", "-k", "accuracy or ece or fgsm")
    result = project.run(*args)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "slowest 3 checks (--mlguard-durations N to list more or fewer):",
            "* s  *  digits::*",
            "* s  *  digits::*",
            "* s  *  digits::*",
            "robustness score of digits: *",
        ]
    )
    shown = [line for line in result.stdout.lines if re.match(r"\s+\d+\.\d+ s  ", line)]
    seconds = [float(line.split()[0]) for line in shown]
    assert seconds == sorted(seconds, reverse=True)
    attack = next(line for line in shown if "attack[fgsm-linf-0.1]" in line)
    assert re.search(r"\d+ evaluations", attack)  # what the check cost, to scale to another model
    one = project.run(*args, "--mlguard-durations", "1")
    one.stdout.fnmatch_lines(["slowest check (--mlguard-durations N to list more or fewer):"])
    none = project.run(*args, "--mlguard-set", "report.durations=0")
    assert "--mlguard-durations N" not in none.stdout.str()


def test_durations_option_rejects_what_is_not_a_count(project):
    result = project.write().run("--mlguard", "--mlguard-durations", "many")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: invalid value 'many' (type=str) for 'report.durations' in command line (--mlguard-durations): expected an integer in [[]0, *"])
