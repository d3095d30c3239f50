"""The structure ARCHITECTURE.md promises, checked on the source: no import cycle, small modules,
Locust's internals touched only by the seam (loadkit/_locust/), a run context that imports nothing.

Every ``import`` statement counts, wherever it stands: at module level, inside a function, or
under ``if TYPE_CHECKING:`` — a cycle hidden by a function-level import is still a cycle.
``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
The implicit import of a parent package (Python runs ``loadkit/__init__.py`` before any
``loadkit.x``) is not an edge: it is not a statement of the importing module.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from tests.support import ROOT

PACKAGE = ROOT / "loadkit"
SKIP = ("gen", "targets")  # generated code; the bundled servers (a symlink to ../targets, checked there)
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("").parts
        if any(part in SKIP for part in rel[1:]):
            continue
        found[".".join(rel[:-1] if rel[-1] == "__init__" else rel)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The loadkit modules ``name`` imports, by every import statement in it."""
    edges: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            edges |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                edges.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {edge for edge in edges if edge in MODULES and edge != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

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
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_loadkit() -> None:
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert _cycles(graph) == [], "import cycles (every import statement counts, see this module's docstring)"


def test_nothing_inside_loadkit_imports_the_root_package() -> None:
    """``from loadkit import __version__`` from below loaded the whole public API: use loadkit._version."""
    offenders = [
        name
        for name, path in MODULES.items()
        if name != "loadkit" and not name.startswith("loadkit.cli") and "loadkit" in _imports(name, path)
    ]  # the CLI sits on top: its demo's users are written against the public API, as a user's are
    assert offenders == []


def test_the_run_context_imports_nothing_of_loadkit() -> None:
    assert _imports("loadkit.run.context", MODULES["loadkit.run.context"]) == set()


def test_no_module_over_400_lines() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these modules (one concept each, at most {MAX_LINES} lines)"


def _locust_private_names() -> set[str]:
    """Private attributes and methods Locust's own code defines (``self._x``, ``def _x``)."""
    spec = importlib.util.find_spec("locust")
    assert spec is not None and spec.origin is not None
    names: set[str] = set()
    for path in Path(spec.origin).parent.rglob("*.py"):
        if "test" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
                names.add(node.attr)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _internals_touched(path: Path, locust_private: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    from_locust = {  # local names bound to something imported from Locust
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "locust"
        for alias in node.names
    } | {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.split(".")[0] == "locust"
    }
    in_locust_subclass = {  # nodes inside a class that extends a Locust class: its self._x may be Locust's
        id(inner)
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef) and any(ast.unparse(base).split(".")[0] in from_locust for base in cls.bases)
        for inner in ast.walk(cls)
    }
    found = []
    for node in ast.walk(tree):
        where = f"{shown}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "locust":
            found += [f"{where} imports {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if not own or (id(node) in in_locust_subclass and node.attr in locust_private):
                found.append(f"{where} reads {ast.unparse(node)}")
        elif isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [
                f"{where} patches {ast.unparse(target)}"
                for target in targets
                if isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id in from_locust
            ]
    return found


def test_locust_internals_are_touched_only_under_the_seam() -> None:
    """Outside loadkit/_locust/: no private name of Locust's is read or imported, nothing of Locust's is patched."""
    private = _locust_private_names()
    found = [
        line
        for name, path in MODULES.items()
        if not name.startswith("loadkit._locust")
        for line in _internals_touched(path, private)
    ]
    assert found == [], "move these to loadkit/_locust/ (one module per area, a contract test each)"


def test_the_internals_check_sees_a_private_read_and_a_patch(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from locust import User\n"
        "from locust.runners import MasterRunner\n"
        "def f(runner):\n"
        "    MasterRunner.handle_message = None\n"
        "    return runner._users_dispatcher\n"
        "class Mine(User):\n"
        "    def g(self):\n"
        "        return self._state, self._own\n"
        "class Plain:\n"
        "    def h(self):\n"
        "        return self._state\n"
    )
    found = _internals_touched(bad, {"_users_dispatcher", "_state"})
    assert [line.split(" ", 1)[1] for line in found] == [
        "patches MasterRunner.handle_message",
        "reads runner._users_dispatcher",
        "reads self._state",
    ], found
