"""The import graph of :mod:`jukicard.pki`: no cycles, no dynamic imports (issue 8).

Every ``import`` statement is read with :mod:`ast`, at module level *and* inside functions
(a function-level import only hides a cycle until the function runs).  Both tests fail on
the code before issue 8: ``certs.load_crl``/``load_crls`` imported ``crl`` inside the
functions while ``crl`` imported ``certs`` (a cycle), and ``validate._jpki_problems`` loaded
``jukicard.pki.jpki`` with ``importlib.import_module``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "jukicard.pki"


def _module_files(package: str) -> dict[str, Path]:
    base = ROOT.joinpath(*package.split("."))
    out = {}
    for py in sorted(base.rglob("*.py")):
        parts = py.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = py
    return out


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool
              ) -> list[str]:
    """Fully qualified names an import statement may load (module or module.attribute)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolve against this module's package
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def import_graph(package: str) -> dict[str, set[str]]:
    """module → the modules of ``package`` it imports (anywhere in its source)."""
    files = _module_files(package)
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _imported(node, name, path.name == "__init__.py"):
                if target in files and target != name:
                    graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_graph_reader_sees_function_level_imports_and_cycles() -> None:
    """The checker itself: a function-level import is an edge, and a two-module cycle and a
    self-contained chain are told apart."""
    tree = ast.parse("def f():\n    from jukicard.pki.crl import Crl\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert "jukicard.pki.crl" in _imported(node, "jukicard.pki.certs", False)
    rel = ast.parse("from .names import x").body[0]
    assert isinstance(rel, ast.ImportFrom)
    assert "jukicard.pki.names" in _imported(rel, "jukicard.pki.certs", False)
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_pki_graph_is_complete() -> None:
    graph = import_graph(PACKAGE)
    assert {"jukicard.pki", "jukicard.pki.certs", "jukicard.pki.crl",
            "jukicard.pki.validate", "jukicard.pki.pathstate"} <= set(graph)
    assert "jukicard.pki.crl" in graph["jukicard.pki.store"]


def test_pki_import_graph_has_no_cycles() -> None:
    """Fails on the old code: certs → crl (inside load_crl) → certs."""
    assert find_cycles(import_graph(PACKAGE)) == []


@pytest.mark.parametrize("name", sorted(_module_files(PACKAGE)))
def test_no_dynamic_imports(name: str) -> None:
    """No importlib, ``__import__`` or ``import_module`` (fails on the old validate.py)."""
    tree = ast.parse(_module_files(PACKAGE)[name].read_text(encoding="utf-8"))
    offenders = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            offenders += [m for m in mods if m.split(".")[0] == "importlib"]
        elif isinstance(node, ast.Name) and node.id == "__import__":
            offenders.append("__import__")
        elif isinstance(node, ast.Attribute) and node.attr in ("import_module", "__import__"):
            offenders.append(node.attr)
    assert offenders == []


@pytest.mark.parametrize("name", sorted(_module_files(PACKAGE)))
def test_function_level_imports_say_why(name: str) -> None:
    """A function-level import in pki is allowed only for start-up speed, outside any
    cycle, with a comment on its line saying so (there are none today)."""
    path = _module_files(PACKAGE)[name]
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    unexplained = []
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and \
                    "start-up" not in lines[node.lineno - 1]:
                unexplained.append(f"{path.name}:{node.lineno}")
    assert unexplained == []
