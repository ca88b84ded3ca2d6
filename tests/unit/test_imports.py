"""The package's import graph, read from the source: no module imports, however late, one that imports it back.

Every ``import`` statement counts: at module level, inside a function (a lazy import) and under
``if TYPE_CHECKING:``. A cycle closed by a lazy import works only as long as nobody moves that import;
one closed by a type-only import still ties the two modules together for a reader and for mypy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytest_mlguard

PACKAGE = Path(pytest_mlguard.__file__).parent


def module_files(root: Path) -> dict[str, Path]:
    """Module name -> file, for every module of the package at ``root``."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: set[str]) -> dict[str, int]:
    """The package's modules that ``name`` (the module in ``path``) imports -> the first line doing so.

    ``from X import y`` imports ``X.y`` where that is a module, else ``X`` (whose ``__init__`` defines
    ``y``); relative imports are resolved from the module's package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names]
        for target in targets:
            if target in modules and target != name:
                found[target] = min(found.get(target, node.lineno), node.lineno)
    return found


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {imported module: line} over the package at ``root``."""
    files = module_files(root)
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The groups of two or more modules that all reach each other (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules, the shortest through its first module."""
    return [_shortest_cycle(graph, group) for group in strongly_connected(graph)]


def _shortest_cycle(graph: dict[str, dict[str, int]], group: list[str]) -> list[str]:
    """The shortest cycle through the group's first module, by breadth-first search inside the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt == start:
                    return [*paths[node], start]
                if nxt in members and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    raise AssertionError(f"no cycle through {start} in {group}")  # a strongly connected group always has one


def describe(group: list[str], graph: dict[str, dict[str, int]], files: dict[str, Path]) -> str:
    """The group's modules, and each import between two of them (module -> module it imports, at file:line)."""
    steps = [f"{a} -> {b} ({files[a].relative_to(PACKAGE.parent)}:{graph[a][b]})" for a in group for b in sorted(graph[a]) if b in group]
    cycle = " -> ".join(_shortest_cycle(graph, group))
    return f"{len(group)} modules, for example {cycle}; their imports of each other:\n    " + "\n    ".join(steps)


def test_the_package_has_no_import_cycle_lazy_and_type_only_imports_included():
    graph, files = import_graph(PACKAGE), module_files(PACKAGE)
    groups = strongly_connected(graph)
    assert not groups, f"{len(groups)} import cycle(s) in pytest_mlguard:\n  " + "\n  ".join(describe(group, graph, files) for group in groups)


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        # a lazy (function-level) import closes the cycle
        ({"a.py": "from . import b\n", "b.py": "def f():\n    from .a import x\n"}, [["pkg.a", "pkg.b", "pkg.a"]]),
        # a type-only import closes it, through a package's __init__
        (
            {
                "sub/__init__.py": "from .c import C\n",
                "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import A\n",
                "a.py": "import pkg.sub\n",
            },
            [["pkg.a", "pkg.sub", "pkg.sub.c", "pkg.a"]],
        ),
        # `from package import module` is an edge to the module, not to the package's __init__
        ({"__init__.py": "from . import a\n", "a.py": "from . import b\n", "b.py": "x = 1\n"}, []),
        ({"a.py": "import os\nfrom .b import y\n", "b.py": "import json\ny = 1\n"}, []),
    ],
)
def test_the_graph_sees_lazy_type_only_and_relative_imports(tmp_path, sources, expected):
    root = tmp_path / "pkg"
    for relative, text in {"__init__.py": "", **sources}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    assert cycles(import_graph(root)) == expected
