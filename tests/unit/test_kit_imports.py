"""The kit's modules stand on their own: no import cycles, nothing domain-specific, and each
imports alone in a fresh interpreter (issue 14).

The graph is read from the source (``ast``), counting imports inside functions too — a "lazy"
import that closes a cycle is a cycle all the same — but not those under ``TYPE_CHECKING``,
which never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "kit": ROOT / "services" / "kit" / "kit",
    "language": ROOT / "services" / "language" / "language",
}
#: what the kit must never import: the platform's published language and the services
NOT_FOR_THE_KIT = ("language", "registry", "projects", "funding", "volunteers", "gateway")


def modules(package: str) -> dict[str, Path]:
    found = {}
    base = PACKAGES[package]
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(base.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(path: Path) -> set[str]:
    """Every module named by an import statement of ``path`` (absolute imports; ``from a
    import b`` counts ``a.b`` too, in case ``b`` is a module), outside ``TYPE_CHECKING``."""
    names: set[str] = set()

    class Imports(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if "TYPE_CHECKING" in ast.unparse(node.test):
                for statement in node.orelse:
                    self.visit(statement)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            names.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level == 0 and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)

    Imports().visit(ast.parse(path.read_text()))
    return names


def graph() -> dict[str, set[str]]:
    everything = {name: path for package in PACKAGES for name, path in modules(package).items()}
    edges = {
        name: {other for other in imported(path) if other in everything and other != name}
        for name, path in everything.items()
    }
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_kit_and_the_language_have_no_import_cycle():
    assert cycles(graph()) == []


def test_the_cycle_check_sees_a_cycle_through_a_lazy_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(modules("kit")))
def test_the_kit_imports_nothing_domain_specific(name):
    wrong = {
        other for other in imported(modules("kit")[name]) if other.split(".")[0] in NOT_FOR_THE_KIT
    }
    assert wrong == set(), f"{name} imports {sorted(wrong)}"


def test_each_module_imports_alone_in_a_fresh_interpreter():
    names = sorted(name for package in PACKAGES for name in modules(package))
    # one interpreter, the kit and the language (and the metrics they registered) forgotten
    # before each import: a module that only imports because another one was imported first
    # fails here
    script = (
        "import importlib, sys\n"
        "from prometheus_client import REGISTRY\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] in ('kit', 'language')]:\n"
        "        del sys.modules[loaded]\n"
        "    for collector in list(REGISTRY._collector_to_names):\n"
        "        REGISTRY.unregister(collector)\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        print(f'{name}: {type(exc).__name__}: {exc}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
