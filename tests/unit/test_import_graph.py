"""hostprep's modules import each other one way: no cycle, not even through an import inside a function.

The graph is read from the source (ast), so it covers every module, imported by a test or not.
Imports under `if TYPE_CHECKING:` are only for type hints and are left out; an import inside a
function counts like any other (putting an import in a function to dodge a cycle hides the cycle,
it does not remove it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "hostprep"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                out.append(child)
            visit(child)

    visit(tree)
    return out


def imported_by(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The hostprep modules `name` imports (a `from package import module` names the module itself)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        out.update(t for t in targets if t in modules and t != name)
    return out


def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imported_by(name, path, modules) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def strongconnect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            strongconnect(node)
    return found


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_chain() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_graph_sees_imports_inside_functions_but_not_type_checking_ones(tmp_path: Path) -> None:
    edges = graph()
    # executor/play.py imports the strategies at the top; the CLI imports the executor inside a function
    assert "hostprep.executor.linear" in edges["hostprep.executor.play"]
    assert "hostprep.executor.play" in edges["hostprep.cli.apply"]


def test_no_import_cycle_in_hostprep() -> None:
    found = cycles(graph())
    assert not found, "import cycles (each line: modules that import each other):\n" + \
        "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("layer,below", [
    ("hostprep.executor.variables", ("prepare", "taskrun", "strategy", "linear", "free", "play", "lookahead")),
    ("hostprep.executor.prepare", ("taskrun", "strategy", "linear", "free", "play", "lookahead")),
    ("hostprep.executor.taskrun", ("strategy", "linear", "free", "play")),
])
def test_executor_imports_go_one_way(layer: str, below: tuple[str, ...]) -> None:
    """strategy -> task execution -> preparation -> variables: a lower layer never imports a higher one."""
    assert not _reach(graph(), layer) & {f"hostprep.executor.{m}" for m in below}


def _reach(edges: dict[str, set[str]], start: str) -> set[str]:
    reached: set[str] = set()
    todo = [start]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    return reached


def test_value_helpers_are_a_leaf_and_transport_and_templating_do_not_need_the_modules() -> None:
    edges = graph()
    assert _reach(edges, "hostprep.values") <= {"hostprep.errors", "hostprep"}
    for package in ("hostprep.transport", "hostprep.templating"):
        for name in (m for m in edges if m == package or m.startswith(package + ".")):
            needs = {m for m in _reach(edges, name) if m.startswith("hostprep.modules")}
            assert not needs, f"{name} depends on {sorted(needs)}"
