"""Size limits of the package's code (issue 16): no module over 450 lines, no function over 60, so that
a module holds one idea and a function fits a screen."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest_mlguard

PACKAGE = Path(pytest_mlguard.__file__).parent
MODULE_LINES = 450
FUNCTION_LINES = 60


def test_no_module_is_longer_than_450_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := p.read_text().count("\n")) > MODULE_LINES}
    assert not long, f"modules over {MODULE_LINES} lines: {long}"


def test_no_function_is_longer_than_60_lines():
    long = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (n := node.end_lineno - node.lineno + 1) > FUNCTION_LINES:  # type: ignore[operator]
                long[f"{path.relative_to(PACKAGE)}:{node.name}"] = n
    assert not long, f"functions over {FUNCTION_LINES} lines: {long}"
