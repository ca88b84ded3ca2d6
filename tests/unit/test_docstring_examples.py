"""Every example in the package's docstrings runs as written (``>>>`` lines, with the output they show).

pytest's ``--doctest-modules`` would collect them too, but it would also import every module of the
examples for a ``pytest --mlguard examples/...`` run from the root; this test runs only the package's.
Before it, 15 of 180 examples did not run: names imported in a module's first example only, a chain of
``+SKIP`` lines whose later lines still ran, and a decompression bomb whose size Pillow refuses to read.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import pytest_mlguard

MODULES = sorted(info.name for info in pkgutil.walk_packages(pytest_mlguard.__path__, "pytest_mlguard."))


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_run_as_written(name):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(verbose=False)
    failures = []
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        result = runner.run(test, out=failures.append)
        assert result.failed == 0, f"{test.name}: an example does not run as written:\n" + "".join(failures)
