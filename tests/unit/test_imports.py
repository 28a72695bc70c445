"""The import graph of services/ and shared/: no cycles at module level; shared/ never
imports services/.

Module level is what runs when a module is imported: its top-level statements, including
those inside a top-level `try`, `if` (but not `if TYPE_CHECKING:`), `with` or class body;
imports inside functions run later and are not counted. `import a.b` counts as an import
of `a.b` (not of the package `a` around it), `from a import b` as one of `a.b` when that is
a module, else of `a`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "shared")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(root, path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is imported."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_level(block)
            for handler in node.handlers:
                yield from _module_level(handler.body)
        elif isinstance(node, ast.With | ast.AsyncWith | ast.ClassDef):
            yield from _module_level(node.body)


def _anywhere(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def _targets(name: str, node: ast.Import | ast.ImportFrom, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that this import statement in module `name` imports."""
    if isinstance(node, ast.Import):
        wanted = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            is_package = known[name].name == "__init__.py"
            package = name.split(".")[: len(name.split(".")) - node.level + is_package]
            base = ".".join([*package, *([base] if base else [])])
        wanted = [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
        wanted = [each if each in known else base for each in wanted]
    found = set()
    for each in wanted:
        while each and each not in known:  # `import a.b.c` where a.b.c is a name in a.b
            each = each.rpartition(".")[0]
        if each:
            found.add(each)
    return found


def graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules it imports at module level."""
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges[name] = set()
        for node in _module_level(tree.body):
            edges[name] |= _targets(name, node, known)
        edges[name].discard(name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_one_cycle(edges, component) for component in components]


def _one_cycle(edges: dict[str, set[str]], component: set[str]) -> list[str]:
    """A path from the component's first module back to itself, inside the component."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for other in sorted(edges[node] & component):
            if other == start:
                return [*paths[node], start]
            if other not in paths:
                paths[other] = [*paths[node], other]
                queue.append(other)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def test_no_import_cycles() -> None:
    found = cycles(graph(modules(ROOT)))
    assert not found, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in found)


def test_shared_never_imports_services() -> None:
    known = modules(ROOT)
    offenders = []
    for name, path in known.items():
        if not name.startswith("shared"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in _anywhere(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(each == "services" or each.startswith("services.") for each in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "shared/ imports services/ at " + ", ".join(offenders)


def test_the_walk_counts_module_level_imports_only(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg import a\n")
    (package / "a.py").write_text("try:\n    from . import b\nexcept ImportError:\n    pass\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.c\n"
        "if True:\n    import pkg.c.thing\n"
    )
    (package / "c.py").write_text("def later():\n    import pkg.a\nimport pkg.a as again\n")
    (package / "d.py").write_text("def later():\n    from pkg import a\n")
    edges = graph(modules(tmp_path, ("pkg",)))
    assert edges == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.c"},
        "pkg.c": {"pkg.a"},
        "pkg.d": set(),
    }
    assert cycles(edges) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
