"""The layering rule, checked on the source tree with :mod:`ast`.

::

    errors(0) → apdu(1) → transport(2) → card(3) → services(4) → cli(5)

* ``jukicard.deprecations`` counts as layer ``errors`` (so ``pki`` may use it too);
* a layer may import its own layer and the layers before it, never one after it;
* ``pki`` sits beside ``card`` but may import only ``errors``;
* ``operator`` sits beside ``card`` and may import only ``errors`` (for now);
* ``keys`` (the PKCS#11 key store) sits beside ``card`` and may import only ``errors``;
* ``emulator`` may import only ``apdu`` and ``errors``;
* ``testing`` (the vector generators) may import anything;
* ``drivers/*`` may import only ``jukicard.operator``'s public API and ``jukicard.errors``;
* ``smartcard`` (pyscard) may be imported only by ``jukicard/transport/pcsc.py``.

Every import counts: module level, inside functions, under ``if TYPE_CHECKING``, relative
(resolved against the importing module), and ``importlib.import_module("literal")``.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "jukicard"

#: Linear layers: index = rank.
LINEAR = ("errors", "apdu", "transport", "card", "services", "cli")
RANK = {name: i for i, name in enumerate(LINEAR)}

#: Side layers: the jukicard sub-packages each may import (besides itself).
SIDE: dict[str, frozenset[str]] = {
    "pki": frozenset({"errors"}),
    "operator": frozenset({"errors"}),
    "keys": frozenset({"errors"}),
    "emulator": frozenset({"errors", "apdu"}),
}
#: May import anything.
TOP = frozenset({"testing"})
#: Root-package modules: ``jukicard/__init__.py`` is neutral; ``__main__`` runs the CLI;
#: ``deprecations`` (containing cryptography's warnings) sits at the level of ``errors`` so
#: that ``pki`` and ``card`` share it.
ROOT_MODULES = {"__init__": None, "__main__": "cli", "deprecations": "errors"}

KNOWN = set(LINEAR) | set(SIDE) | TOP
PYSCARD = "smartcard"
PYSCARD_ALLOWED = frozenset({"jukicard.transport.pcsc"})
DRIVERS_ALLOWED = frozenset({"operator", "errors"})


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: imports {self.imported}: {self.why}"


# --------------------------------------------------------------------------- import collection
def _collect_imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Return ``(line, absolute dotted target)`` for every import in *tree*.

    ``from X import a`` yields ``X.a`` (``a`` may be a sub-module or an attribute; the
    classifier treats both correctly).
    """
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                keep = len(package_parts) - (node.level - 1)
                if keep <= 0:
                    found.append((node.lineno, "<relative import beyond top level>"))
                    continue
                base = ".".join(package_parts[:keep])
                if node.module:
                    base = f"{base}.{node.module}"
            else:
                base = node.module or ""
            for alias in node.names:
                found.append((node.lineno, base if alias.name == "*" else f"{base}.{alias.name}"))
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id if isinstance(func, ast.Name) else ""
            )
            if (
                name in {"import_module", "__import__"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.append((node.lineno, node.args[0].value))
    return found


def _layer_of(module: str, tree_root: Path | None) -> str | None:
    """The layer of a ``jukicard.*`` module name (``None`` = the neutral root package)."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    sub = parts[1]
    if sub in KNOWN:
        return sub
    if sub in ROOT_MODULES:
        return ROOT_MODULES[sub]
    if sub.startswith("__"):
        return None  # ``from jukicard import __version__``
    if tree_root is not None and not (
        (tree_root / PACKAGE / sub).is_dir() or (tree_root / PACKAGE / f"{sub}.py").is_file()
    ):
        return None  # an attribute of the root package, e.g. ``from jukicard import __version__``
    return f"?{sub}"  # a sub-package nobody put in the layer map


def _allowed(src: str, dst: str | None) -> tuple[bool, str]:
    if dst is None or src == dst:
        return True, ""
    if dst.startswith("?"):
        return False, f"unknown layer {dst[1:]!r}: add it to the map in tests/unit/test_layering.py"
    if src in TOP:
        return True, ""
    if src in SIDE:
        return dst in SIDE[src], f"{src} may import only {sorted(SIDE[src])}"
    if src in RANK:
        if dst in RANK:
            return RANK[dst] <= RANK[src], f"{src} (layer {RANK[src]}) imports upward"
        if dst in SIDE:
            # pki/operator sit at the card level: card and above may use them.
            ok = RANK[src] >= RANK["card"]
            return ok, f"{dst} sits at the card level; {src} is below it"
        return False, f"{src} may not import {dst}"
    return False, f"unknown layer {src!r}"


def check_source(
    module: str, source: str, *, is_package: bool = False, tree_root: Path | None = None
) -> list[Violation]:
    """Check one module's source text against the layering rule.

    :param module: dotted module name (``jukicard.transport.pcsc``, ``drivers.acme``).
    :param source: the module's source text.
    :param is_package: True for an ``__init__.py`` (relative imports resolve against it).
    :param tree_root: repository root used to tell sub-packages from root attributes.
    """
    tree = ast.parse(source, filename=module)
    top = module.split(".")[0]
    violations: list[Violation] = []
    src_layer = _layer_of(module, tree_root) if top == PACKAGE else None
    for line, target in _collect_imports(tree, module, is_package):
        if target.startswith("<"):
            violations.append(Violation(module, line, target, "cannot be resolved"))
            continue
        target_top = target.split(".")[0]
        if target_top == PYSCARD and module not in PYSCARD_ALLOWED:
            violations.append(
                Violation(module, line, target, "pyscard only in jukicard/transport/pcsc.py")
            )
            continue
        if target_top != PACKAGE:
            continue  # stdlib / third party / the drivers' own modules
        dst = _layer_of(target, tree_root)
        if top == "drivers":
            private = any(p.startswith("_") for p in target.split(".")[2:-1])
            if dst is not None and (dst not in DRIVERS_ALLOWED or private):
                violations.append(
                    Violation(
                        module, line, target, "drivers may use only jukicard.operator's public "
                        "API and jukicard.errors"
                    )
                )
            continue
        if src_layer is None:
            continue  # the neutral root package
        ok, why = _allowed(src_layer.lstrip("?"), dst)
        if src_layer.startswith("?"):
            ok, why = False, f"module in unknown layer {src_layer[1:]!r}: add it to the map"
        if not ok:
            violations.append(Violation(module, line, target, why))
    return violations


def iter_modules(root: Path) -> list[tuple[str, Path, bool]]:
    """Every ``.py`` under ``jukicard/`` and ``drivers/`` as ``(module, path, is_package)``."""
    out = []
    for top in (PACKAGE, "drivers"):
        base = root / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            out.append((".".join(parts), path, is_package))
    return out


def check_tree(root: Path) -> tuple[list[Violation], int]:
    violations: list[Violation] = []
    modules = iter_modules(root)
    for module, path, is_package in modules:
        violations += check_source(
            module, path.read_text(encoding="utf-8"), is_package=is_package, tree_root=root
        )
    return violations, len(modules)


# --------------------------------------------------------------------------- the real tree
def test_source_tree_respects_layers() -> None:
    violations, scanned = check_tree(ROOT)
    names = {m for m, _, _ in iter_modules(ROOT)}
    # The walk really saw the package (a test that scans nothing cannot fail).
    assert {"jukicard", "jukicard.errors", "jukicard.apdu.command"} <= names
    assert scanned >= 5
    assert not violations, "layering violations:\n" + "\n".join(map(str, violations))


# --------------------------------------------------------------------------- the checker itself
def _check(module: str, text: str, **kw: object) -> list[str]:
    return [v.imported for v in check_source(module, textwrap.dedent(text), **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # upward absolute import
        ("jukicard.transport.pcsc", "import jukicard.card.jpki\n", ["jukicard.card.jpki"]),
        # `from package import submodule`
        ("jukicard.apdu.command", "from jukicard import transport\n", ["jukicard.transport"]),
        # relative import resolved upward (two levels)
        ("jukicard.transport.pcsc", "from ..card import jpki\n", ["jukicard.card.jpki"]),
        # relative import from a top-level module
        ("jukicard.errors", "from .cli import main\n", ["jukicard.cli.main"]),
        # import hidden inside a function
        (
            "jukicard.card.jpki",
            "def f():\n    from jukicard.services import login\n",
            ["jukicard.services.login"],
        ),
        # pyscard outside pcsc.py
        ("jukicard.transport.loopback", "from smartcard.System import readers\n",
         ["smartcard.System.readers"]),
        ("jukicard.card.jpki", "import smartcard\n", ["smartcard"]),
        # side layers
        ("jukicard.pki.validator", "from jukicard.apdu import CommandApdu\n",
         ["jukicard.apdu.CommandApdu"]),
        ("jukicard.pki.validator", "from jukicard.card import jpki\n", ["jukicard.card.jpki"]),
        ("jukicard.operator.login", "from jukicard.transport import pcsc\n",
         ["jukicard.transport.pcsc"]),
        ("jukicard.keys.token", "from jukicard.card import session\n",
         ["jukicard.card.session"]),
        ("jukicard.emulator.cardos", "from jukicard.transport.loopback import X\n",
         ["jukicard.transport.loopback.X"]),
        ("jukicard.emulator.cardos", "import jukicard.pki\n", ["jukicard.pki"]),
        # below card may not use pki
        ("jukicard.apdu.tlv", "from jukicard.pki import validate\n", ["jukicard.pki.validate"]),
        # drivers
        ("drivers.acme", "from jukicard.card import jpki\n", ["jukicard.card.jpki"]),
        ("drivers.acme", "from jukicard.operator._impl import X\n",
         ["jukicard.operator._impl.X"]),
        # a driver distribution's package, as iter_modules names it
        ("drivers.jukicard-vein-sim.jukicard_vein_sim.device", "from jukicard.card import x\n",
         ["jukicard.card.x"]),
        ("drivers.jukicard-vein-sim.jukicard_vein_sim.device",
         "from jukicard.operator.api import Capture\nimport jukicard.pki\n", ["jukicard.pki"]),
        # dynamic import with a literal
        ("jukicard.apdu.x", "import importlib\nimportlib.import_module('jukicard.cli.main')\n",
         ["jukicard.cli.main"]),
        # TYPE_CHECKING imports count too
        ("jukicard.transport.base",
         "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from jukicard.card import S\n",
         ["jukicard.card.S"]),
    ],
)
def test_checker_reports_violation(module: str, source: str, expected: list[str]) -> None:
    assert _check(module, source) == expected


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("jukicard.apdu.command", "from jukicard.errors import MalformedApduError\n"),
        ("jukicard.apdu.command", "from ..errors import MalformedApduError\n"),
        ("jukicard.apdu.command", "from . import processor\nfrom .processor import P\n"),
        ("jukicard.transport.pcsc", "import smartcard\nfrom smartcard.System import readers\n"),
        ("jukicard.card.jpki",
         "from jukicard.apdu import CommandApdu\nimport jukicard.transport\n"),
        ("jukicard.card.jpki", "from jukicard.pki import x\nfrom jukicard.operator import y\n"),
        ("jukicard.cli.main", "from jukicard import __version__\nimport jukicard.services\n"),
        ("jukicard.services.login", "from jukicard.card import jpki\n"),
        ("jukicard.pki.validator",
         "from jukicard.errors import RevokedError\nimport cryptography\n"),
        ("jukicard.emulator.cardos",
         "from jukicard.apdu import CommandApdu\nfrom ..errors import X\n"),
        ("jukicard.testing.pkigen",
         "from jukicard.emulator import CardOS\nfrom jukicard.cli import main\n"),
        ("drivers.acme",
         "from jukicard.operator import VeinDevice\nfrom jukicard.errors import E\n"),
        ("drivers.acme.dev", "from . import proto\nimport os\n"),
        ("jukicard", "from jukicard.errors import JukiError\n"),
    ],
)
def test_checker_accepts_allowed_imports(module: str, source: str) -> None:
    is_package = module in {"jukicard"}
    assert _check(module, source, is_package=is_package) == []


def test_the_walk_sees_the_driver_distributions() -> None:
    """The layering walk reads the files of drivers/jukicard-vein-sim (a distribution in a
    sub-directory), its tests included: a driver module the walk missed could import
    anything."""
    names = {m for m, _, _ in iter_modules(ROOT)}
    sim = "drivers.jukicard-vein-sim"
    assert {f"{sim}.jukicard_vein_sim.device", f"{sim}.jukicard_vein_sim.render",
            f"{sim}.jukicard_vein_sim", f"{sim}.tests.test_vein_sim_device"} <= names


def test_checker_relative_import_in_package_init() -> None:
    # In jukicard/card/__init__.py, `from ..services import x` goes up from jukicard.card.
    found = check_source("jukicard.card", "from ..services import x\n", is_package=True)
    assert [v.imported for v in found] == ["jukicard.services.x"]
    assert "upward" in found[0].why


def test_checker_flags_unknown_subpackage(tmp_path: Path) -> None:
    (tmp_path / PACKAGE / "mystery").mkdir(parents=True)
    found = check_source(
        "jukicard.apdu.x", "from jukicard.mystery import y\n", tree_root=tmp_path
    )
    assert [v.imported for v in found] == ["jukicard.mystery.y"]
    assert "unknown layer" in found[0].why


def test_check_tree_on_a_synthetic_tree(tmp_path: Path) -> None:
    pkg = tmp_path / PACKAGE
    for sub in ("errors", "apdu", "transport"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "apdu" / "command.py").write_text("def f():\n    from ..transport import pcsc\n")
    (tmp_path / "drivers").mkdir()
    (tmp_path / "drivers" / "acme.py").write_text("import smartcard\n")
    violations, scanned = check_tree(tmp_path)
    assert scanned == 6
    assert sorted(str(v) for v in violations) == [
        "drivers.acme:1: imports smartcard: pyscard only in jukicard/transport/pcsc.py",
        "jukicard.apdu.command:2: imports jukicard.transport.pcsc: apdu (layer 1) imports upward",
    ]


# --------------------------------------------------------------------------- import cycles


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module → the jukicard modules it imports (module level and inside functions).

    ``from package import name`` counts as an import of ``package.name`` when that is a
    module, else of ``package``.  The implicit import of a parent package is not an edge.
    """
    modules = {m for m, _p, _pkg in iter_modules(root) if m.split(".")[0] == PACKAGE}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path, is_package in iter_modules(root):
        if module not in modules:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for _line, target in _collect_imports(tree, module, is_package):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                graph[module].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
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


def test_no_import_cycles_anywhere() -> None:
    """The import graph of the whole package has no cycle.  Fails on the code before
    issue 8: ``transport/events.py`` ↔ ``transport/pcsc.py`` and ``pki/certs.py`` ↔
    ``pki/crl.py`` (the latter hidden in function-level imports, which count here)."""
    graph = import_graph(ROOT)
    assert import_cycles(graph) == []
    assert "jukicard.transport.pcsc" not in graph["jukicard.transport.events"]
    assert "jukicard.pki.crl" in graph["jukicard.pki.store"]  # the graph is really read


#: The ONE exception to "no importlib" (issue 12): the vein plugin registry reads entry
#: points with ``from importlib import metadata`` — plugins are outside the import graph by
#: definition, and are loaded only through the allow-list.  Nothing else of importlib
#: (``import_module``, ``__import__``, ``importlib.util``...) is allowed even there.
DYNAMIC_IMPORT_EXCEPTIONS: dict[str, frozenset[str]] = {
    "jukicard.operator.plugins": frozenset({"importlib.metadata"}),
}


def dynamic_imports(module: str, source: str) -> list[str]:
    """``module:line name`` for every use of importlib / ``__import__`` / ``import_module``
    in ``source`` that :data:`DYNAMIC_IMPORT_EXCEPTIONS` does not allow."""
    allowed = DYNAMIC_IMPORT_EXCEPTIONS.get(module, frozenset())
    offenders = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names = [f"{base}.{alias.name}" if base == "importlib" else base
                     for alias in node.names]
        elif isinstance(node, ast.Name) and node.id == "__import__":
            names = ["__import__"]
        elif isinstance(node, ast.Attribute) and node.attr == "import_module":
            names = ["import_module"]
        else:
            continue
        offenders += [f"{module}:{getattr(node, 'lineno', 0)} {name}" for name in names
                      if name.split(".")[0] in ("importlib", "__import__", "import_module")
                      and name not in allowed]
    return offenders


def test_no_dynamic_imports() -> None:
    """No ``importlib.import_module`` / ``__import__`` anywhere in the package: every import
    is visible to the layering and cycle checks.  Fails on the code before issue 8
    (``cli/main.py``'s ``COMMAND_MODULES`` loop, ``cli/cert.py``, ``pki/validate.py``)."""
    offenders = []
    for module, path, _is_package in iter_modules(ROOT):
        if module.split(".")[0] != PACKAGE:
            continue
        offenders += dynamic_imports(module, path.read_text(encoding="utf-8"))
    assert offenders == []


def test_the_importlib_exception_stays_narrow() -> None:
    """Issue 12: one module, ``importlib.metadata`` only.  Everything else of importlib is
    still refused there, and the same import is refused in any other module."""
    assert DYNAMIC_IMPORT_EXCEPTIONS == {
        "jukicard.operator.plugins": frozenset({"importlib.metadata"})}
    plugins = "jukicard.operator.plugins"
    assert dynamic_imports(plugins, "from importlib import metadata\n") == []
    assert dynamic_imports(plugins, "import importlib.metadata\n") == []
    for source in ("import importlib\n", "from importlib import import_module\n",
                   "import importlib.util\n", "from importlib import metadata, util\n",
                   "__import__('x')\n",
                   # `import importlib.metadata` binds `importlib`: its import_module is seen
                   "import importlib.metadata\nimportlib.import_module('y')\n"):
        assert dynamic_imports(plugins, source), source
    for other in ("jukicard.operator.store", "jukicard.services.vein", "jukicard.cli.operator"):
        assert dynamic_imports(other, "from importlib import metadata\n")
    # the real module uses exactly that, and the exception is really exercised
    text = (ROOT / "jukicard" / "operator" / "plugins.py").read_text(encoding="utf-8")
    assert [o.split()[1] for o in dynamic_imports("jukicard.operator.x", text)] == [
        "importlib.metadata"]
    assert dynamic_imports(plugins, text) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []
