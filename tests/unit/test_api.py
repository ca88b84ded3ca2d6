"""Public API: __all__ matches what is exported; importing the plugin imports nothing heavy; ART
is imported without side effects."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

PUBLIC_MODULES = [
    "pytest_mlguard",
    "pytest_mlguard.errors",
    "pytest_mlguard.contract",
    "pytest_mlguard.config",
    "pytest_mlguard.checks",
    "pytest_mlguard.checks.api",
    "pytest_mlguard.reporting",
    "pytest_mlguard.fixture",
    "pytest_mlguard.calibration",
    "pytest_mlguard.verdicts",
    "pytest_mlguard.budget",
    "pytest_mlguard.cache",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_matches_exports(name):
    module = importlib.import_module(name)
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.__all__ names {exported!r}, which it does not define"
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not isinstance(value, type(sys))
        and getattr(value, "__module__", name).startswith(name)
        and attr not in {"annotations", "TYPE_CHECKING"}
    }
    assert public <= set(module.__all__) | {"Any", "Literal"}, public - set(module.__all__)


def run_python(code: str, **env: str) -> str:
    import os

    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout


def test_loading_the_plugin_and_its_session_imports_nothing_heavy():
    code = (
        "import sys, json\n"
        "import pytest_mlguard.plugin, pytest_mlguard.session, pytest_mlguard.suite\n"
        "from pytest_mlguard.checks.registry import all_keys; all_keys()\n"
        "print(json.dumps([m for m in ('torch', 'art', 'albumentations', 'matplotlib', 'numpy', 'PIL') if m in sys.modules]))\n"
    )
    assert json.loads(run_python(code)) == []


def test_art_import_has_no_side_effects(tmp_path):
    code = (
        "import logging, json, os\n"
        "root_handlers = list(logging.getLogger().handlers)\n"
        "h = logging.StreamHandler(); logging.getLogger('tests').addHandler(h)\n"
        "from pytest_mlguard.attacks._art import import_art, art_data_dir\n"
        "art = import_art()\n"
        "tests = logging.getLogger('tests')\n"
        "print(json.dumps({'handlers': [type(x).__name__ for x in tests.handlers], 'same': tests.handlers == [h],\n"
        " 'home_art': os.path.exists(os.path.join(os.environ['HOME'], '.art')), 'version': art.__version__,\n"
        " 'data': art.config.ART_DATA_PATH.startswith(art_data_dir()), 'root': logging.getLogger().handlers == root_handlers}))\n"
    )
    out = json.loads(run_python(code, HOME=str(tmp_path)))
    assert out == {"handlers": ["StreamHandler"], "same": True, "home_art": False, "version": out["version"], "data": True, "root": True}
