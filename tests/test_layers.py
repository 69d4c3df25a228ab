"""The layout holds: imports only point down the table in DESIGN.md, never in a circle, and no
module imports another module's private names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What each top-level part may import besides itself (DESIGN.md, "Layout").
ALLOWED: dict[str, frozenset[str]] = {
    "main": frozenset({"bot", "services", "db"}),
    "bot": frozenset(
        {"handlers", "web", "keyboards", "services", "db", "nodes", "payments", "locales"}
    ),
    "handlers": frozenset({"services", "keyboards", "locales", "db.models"}),
    "web": frozenset({"services", "locales", "db.models"}),
    "keyboards": frozenset({"locales"}),
    "services": frozenset({"nodes", "payments", "db"}),
    "db": frozenset(),
    "nodes": frozenset(),
    "payments": frozenset(),
    "locales": frozenset(),
}
PARTS = frozenset(ALLOWED)
CHECKED_TOO = ("tests", "bench")  # held to the private-name rule only


def modules(*tops: str) -> Iterator[tuple[str, Path]]:
    for top in tops:
        path = ROOT / f"{top}.py"
        if path.is_file():
            yield top, path
            continue
        for file in sorted((ROOT / top).rglob("*.py")):
            parts = file.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, file


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under `if TYPE_CHECKING:` (they never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imports(path: Path) -> Iterator[tuple[str, str | None, int]]:
    """(module, imported name or None, line) for every absolute import that runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if getattr(node, "lineno", 0) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.module, alias.name, node.lineno


def ours(module: str) -> bool:
    return module.split(".")[0] in PARTS


def test_imports_only_point_down_the_layout() -> None:
    known = dict(modules(*PARTS))
    upward = []
    for name, path in known.items():
        part = name.split(".")[0]
        for module, imported, line in imports(path):
            if not ours(module) or module.split(".")[0] == part:
                continue
            target = f"{module}.{imported}" if f"{module}.{imported}" in known else module
            if not any(target == a or target.startswith(f"{a}.") for a in ALLOWED[part]):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert upward == []


def test_no_module_imports_a_private_name_of_another() -> None:
    private = []
    for name, path in modules(*PARTS, *CHECKED_TOO):
        for module, imported, line in imports(path):
            if imported and imported.startswith("_") and ours(module) and module != name:
                private.append(f"{path.relative_to(ROOT)}:{line} imports {module}.{imported}")
    assert private == []


def test_no_import_circle() -> None:
    known = dict(modules(*PARTS))
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for module, imported, _ in imports(path):
            target = f"{module}.{imported}" if f"{module}.{imported}" in known else module
            if target in known and target != name:
                graph[name].add(target)
    # a package's __init__ re-exporting its modules is not a circle with them
    for name in known:
        if (ROOT / name.replace(".", "/") / "__init__.py").is_file():
            graph[name] = {m for m in graph[name] if not m.startswith(f"{name}.")}
    circles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert circles == []
