"""The package's floors: every import points down, and nothing imports in a circle.

Read from the source (every ``import`` and ``from ... import``, at module level, inside functions
and under ``TYPE_CHECKING``), so a lazy import counts like any other. The floors are written down
once, here; ``docs/architecture.md`` draws the same picture.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlops_jupyter"

# Top floor first. A module may import a module on a lower floor, or one of its own unit (the
# subpackage it is in, or itself). Two units on one floor never import each other: no face
# reaches into another face, no subsystem into a sibling.
FLOORS: list[list[str]] = [
    ["mlops_jupyter", "__main__"],  # the front door (lazy public API), `python -m`
    ["cli", "ipython", "server"],  # the faces
    ["views"],  # text, tables, graphs, charts: pure, shared by the faces
    ["api", "request"],  # the one core every face calls, and the run request it takes
    # a pipeline for other orchestrators (Airflow, Kubeflow Pipelines, a Dockerfile); a model as
    # a microservice (FastAPI), its traffic recorded and watched
    ["export", "serve"],
    ["schedule"],  # cron schedules and the loop that fires them (through the runner)
    ["runner"],  # the engine
    ["values"],  # what a stage kernel imports: values in and out, fingerprints
    ["compiler", "tracking"],
    ["store"],
    ["session", "home", "status", "plugins"],
    ["errors", "files", "_version"],  # leaves
]
FLOOR = {unit: level for level, units in enumerate(FLOORS) for unit in units}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package's own modules that ``path`` imports."""
    name = module_name(path)
    base = name.split(".") if is_package(path) else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                origin = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            # `from . import objects` imports a module; `from .db import Store` a name in one
            targets = [f"{origin}.{a.name}" for a in node.names if f"{origin}.{a.name}" in known]
            if len(targets) < len(node.names):  # some names are attributes of origin itself
                targets.append(origin)
        for target in targets:
            while target and target not in known:  # `import a.b.c` imports a.b.c's package too
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, known) for p in paths}


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Every import that does not point down a floor (or stay inside its own unit)."""
    wrong = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = unit_of(module), unit_of(target)
            if a == b and module != "mlops_jupyter":
                continue
            if a not in FLOOR or b not in FLOOR:
                wrong.append(f"{module} -> {target}: a unit with no floor (add it to FLOORS)")
            elif FLOOR[b] <= FLOOR[a]:
                wrong.append(
                    f"{module} (floor {FLOOR[a]}) -> {target} (floor {FLOOR[b]}): "
                    + ("a sibling on the same floor" if FLOOR[a] == FLOOR[b] else "upward")
                )
    return wrong


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_every_unit_has_a_floor() -> None:
    units = {unit_of(m) for m in import_graph()}
    assert units <= set(FLOOR), f"give these a floor: {sorted(units - set(FLOOR))}"
    assert len(FLOOR) == sum(len(f) for f in FLOORS), "a unit is on two floors"


def test_imports_point_down_only() -> None:
    assert upward(import_graph()) == []


def test_no_module_imports_itself_in_a_circle() -> None:
    assert cycles(import_graph()) == []


def test_the_front_door_is_imported_by_no_module() -> None:
    # `from .. import __version__` once made the compiler reach the magics through __init__
    graph = import_graph()
    assert [m for m, targets in graph.items() if "mlops_jupyter" in targets] == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("mlops_jupyter.store.db", "mlops_jupyter.views.text"), "upward"),
        (("mlops_jupyter.cli.run", "mlops_jupyter.ipython.magics"), "a sibling on the same floor"),
        (("mlops_jupyter.compiler.build", "mlops_jupyter.tracking.runtime"), "same floor"),
    ],
)
def test_the_checks_catch_a_wrong_import(extra: tuple[str, str], expected: str) -> None:
    graph = import_graph()
    graph[extra[0]] = {*graph[extra[0]], extra[1]}
    assert any(expected in line for line in upward(graph))


def test_the_checks_catch_a_circle() -> None:
    graph = import_graph()
    graph["mlops_jupyter.runner.executor"].add("mlops_jupyter.runner.local")
    assert ["mlops_jupyter.runner.executor", "mlops_jupyter.runner.local"] in [
        sorted(set(c)) for c in cycles(graph)
    ]
