"""Public API: __all__ matches what is exported; importing the plugin imports nothing heavy; ART
is imported without side effects."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

#: the public modules: those docs/ and the README tell users to import from (or call into); each has an
#: __all__ that matches what it exports. Every other module is private and has none (docs/extending.md).
PUBLIC_MODULES = [
    "pytest_mlguard",
    "pytest_mlguard.errors",
    "pytest_mlguard.contract",
    "pytest_mlguard.config",
    "pytest_mlguard.config.parse",
    "pytest_mlguard.checks",
    "pytest_mlguard.checks.api",
    "pytest_mlguard.fixture",
    "pytest_mlguard.strategies",
    "pytest_mlguard.corruptions",
    "pytest_mlguard.detection",
    "pytest_mlguard.attacks",
    "pytest_mlguard.attacks.run",
    "pytest_mlguard.calibration",
    "pytest_mlguard.calibration.metrics",
    "pytest_mlguard.calibration.inference",
    "pytest_mlguard.calibration.temperature",
    "pytest_mlguard.calibration.shift",
    "pytest_mlguard.reporting.plots",
    "pytest_mlguard.inputs.isolation",
    "pytest_mlguard.inputs.graceful",
    "pytest_mlguard.inputs.files",
    "pytest_mlguard.inputs.structures",
    "pytest_mlguard.inputs.handmade",
    "pytest_mlguard.inputs.encodings",
    "pytest_mlguard.inputs.records",
    "pytest_mlguard.inputs.compression",
    "pytest_mlguard.production.determinism.functional",
    "pytest_mlguard.production.gate.compare",
    "pytest_mlguard.tabular",
    "pytest_mlguard.tabular.perturb",
    "pytest_mlguard.skew",
]
PACKAGE = Path(__file__).parents[2] / "pytest_mlguard"


def assigned_names(module) -> set[str]:
    """The names a module's own source binds at top level (not those it imports)."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_matches_exports(name):
    """Every name in __all__ exists; every public function, class and constant the module defines (or, for
    a package, takes from its own submodules) is in __all__. Constants imported from elsewhere are not its own."""
    module = importlib.import_module(name)
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.__all__ names {exported!r}, which it does not define"
    own = assigned_names(module)
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not isinstance(value, type(sys))
        and (getattr(value, "__module__", None) or (name if attr in own else "")).startswith(name)
        and attr not in {"annotations", "TYPE_CHECKING"}
    }
    assert public <= set(module.__all__) | {"Any", "Literal"}, public - set(module.__all__)


def test_only_public_modules_have_all():
    """A private module has no __all__ (a name it re-exports is imported ``as`` itself); a public one has."""
    carry = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets) for node in tree.body):
            carry.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    assert carry == set(PUBLIC_MODULES), f"private modules with __all__: {sorted(carry - set(PUBLIC_MODULES))}; public ones without: {sorted(set(PUBLIC_MODULES) - carry)}"


def run_python(code: str, **env: str) -> str:
    import os

    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout


def test_loading_the_plugin_and_its_session_imports_nothing_heavy():
    code = (
        "import sys, json\n"
        "import pytest_mlguard.plugin, pytest_mlguard._session, pytest_mlguard._suite\n"
        "from pytest_mlguard.checks._registry import all_keys; all_keys()\n"
        "print(json.dumps([m for m in ('torch', 'art', 'albumentations', 'matplotlib', 'numpy', 'PIL', 'onnxruntime', 'onnx', 'timm', 'transformers') if m in sys.modules]))\n"
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


def entry_point_modules() -> set[str]:
    """The modules pytest loads through the ``pytest11`` entry points of pyproject.toml."""
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {value.split(":")[0] for value in project["entry-points"]["pytest11"].values()}


def test_private_modules_have_a_private_name():
    """A module that is not public (nor the pytest plugin an entry point names) has a ``_`` in its dotted
    path: it is ``_name.py`` or inside a ``_package``. Packages that hold public modules keep their names."""
    public = set(PUBLIC_MODULES) | entry_point_modules()
    namespaces = {name.rsplit(".", depth)[0] for name in public for depth in range(1, name.count(".") + 1)}
    assert "pytest_mlguard.plugin" in public and "pytest_mlguard.reporting" in namespaces
    unmarked = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in public | namespaces and not any(part.startswith("_") and part != "__init__" for part in parts[1:]):
            unmarked.append(name)
    assert not unmarked, f"private modules without a '_' in their path (rename them, or make them public): {unmarked}"
