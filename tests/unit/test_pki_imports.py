"""Function-level imports in :mod:`jukicard.pki` say why they are there (issue 8).

Before issue 8, ``certs.load_crl``/``load_crls`` imported ``crl`` inside the functions to
hide a ``certs`` ↔ ``crl`` cycle.  The cycle and dynamic-import checks for the whole package
are in ``test_layering.py``; here a deferred import in pki must carry a comment saying it is
there for start-up speed.
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
