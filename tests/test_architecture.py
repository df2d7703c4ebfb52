"""The package's import graph: no cycles, and every layer imports only the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "graphpool"

# bottom to top; a module may import its own layer and the layers before it
LAYERS = [
    ["ops"],
    ["readout"],
    ["cluster"],
    ["models"],
    ["explain"],
    ["grid", "data"],
    ["experiment"],
    ["cells"],
    ["cli", "testing", "__main__"],
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def import_graph() -> dict[str, set[str]]:
    """Module -> the graphpool modules it imports anywhere in its file (function bodies included).

    ``from graphpool.a import b`` counts as importing ``graphpool.a.b`` when that is a module,
    else ``graphpool.a``.
    """
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    base = ".".join(
                        package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                    )
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first = last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def _layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else ""
    for level, names in enumerate(LAYERS):
        if part in names:
            return level
    return len(LAYERS)  # graphpool/__init__.py: the top


def test_the_package_has_no_import_cycle() -> None:
    assert _cycle(import_graph()) is None, " -> ".join(_cycle(import_graph()) or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", sorted(_modules()))
def test_no_module_imports_a_layer_above_its_own(module: str) -> None:
    above = sorted(t for t in import_graph()[module] if _layer(t) > _layer(module))
    assert not above, f"{module} (layer {_layer(module)}) imports {above} from above"


def test_every_subpackage_has_a_layer() -> None:
    tops = {_module_name(p).split(".")[1] for p in PACKAGE.rglob("*.py") if _module_name(p) != "graphpool"}
    assert tops <= {name for names in LAYERS for name in names}, tops
