"""The import graph of ``src/lablink``: no import circles, and layers point one way.

Every ``import`` counts, wherever it stands: at module level, inside a function (a
deferred import is still a dependency) and under ``TYPE_CHECKING`` (a circle of types
is still one idea cut in the wrong place). The graph is read with ``ast``, so nothing
is imported to build it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lablink.errors

SRC = Path(lablink.errors.__file__).parent

# The layers, lowest first. A module may import its own layer and those below it.
LAYERS = {
    # the vocabulary every layer shares
    "errors": 0,
    "models": 0,
    "settings": 0,
    "homedir": 0,
    "identity": 0,  # who is calling, roles, token format: no I/O
    "deprecation": 0,  # warning aliases for renamed public names: imports no lablink
    "gcpause": 0,  # the cycle collector held off while many records are built: no I/O
    "run_columns": 0,  # runs as columns (the compact search answer) and back: no I/O
    # pure checks and statistics: no I/O
    "checks": 1,
    "store": 2,
    "core": 3,
    # renders and writes the repository's lab docs from plain facts; beside core
    "docs": 3,
    "team": 3,  # the bus factor from git history; people and rotations
    "sdk": 4,
    "server": 4,
    # ``import lablink`` (the package itself) and the public gate API sit beside the SDK
    "__init__": 4,
    "gate": 4,
    "launch": 5,  # ``lablink launch``: runs jobs through the SDK's transports
    "importers": 5,  # ``lablink import``: core in-process, or the SDK's HTTP transport
    "cli": 5,
    "ui": 5,
    "demo": 5,  # a training script run by ``lablink demo``: it imports ``lablink``
}

# Upward imports that are allowed, each with its reason. Keep this list short.
EXCEPTIONS = {
    ("lablink.server.app", "lablink.ui"): (
        "create_app(ui=True) mounts the web UI on the API's app, one process serving both"
    ),
}


def module_files() -> dict[str, Path]:
    """Dotted module name → file, for every module under ``src/lablink``."""
    found = {}
    for path in SRC.rglob("*.py"):
        parts = ["lablink", *path.relative_to(SRC).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def dependencies(name: str, path: Path, modules: set[str]) -> set[str]:
    """The lablink modules ``name`` (read from ``path``) imports.

    ``from pkg import mod`` depends on ``pkg.mod`` when that is a module, else on ``pkg``
    (a name its ``__init__`` defines). A package a module merely sits in is not counted:
    Python runs its ``__init__`` first, but that is where the module lives, not an idea
    it borrows.
    """
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            for alias in node.names:
                child = f"{module}.{alias.name}"
                found.add(child if child in modules else module)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    """Module → the lablink modules it imports."""
    files = module_files()
    return {name: dependencies(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> str:
    """The top-level part of ``lablink`` a module belongs to (``__init__``: the package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_the_graph_sees_imports_everywhere() -> None:
    graph = import_graph()
    assert "lablink.sdk.gpu" in graph["lablink.sdk.system"]  # module level
    assert "lablink.sdk.gpu" in graph["lablink.sdk.capture"]  # inside a function
    assert "lablink.core.lab" in graph["lablink.sdk.direct"]  # inside a method
    assert "lablink.core.gate.results" in graph["lablink.core.gate.report"]  # TYPE_CHECKING
    assert "lablink.sdk.hooks" in graph["lablink.sdk.run"]  # from lablink.sdk import hooks
    assert "lablink.store" in graph["lablink.core.lab"]  # a name from a package's __init__


def test_cycles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_circles() -> None:
    graph = import_graph()
    found = [
        " <-> ".join(c)
        + "\n    "
        + "\n    ".join(f"{m} imports {', '.join(sorted(graph[m] & set(c)))}" for m in c)
        for c in cycles(graph)
    ]
    assert found == [], "import circles (move the shared idea into a module of its own):\n" + (
        "\n".join(found)
    )


def test_every_part_has_a_layer() -> None:
    unplaced = sorted({layer(m) for m in import_graph()} - set(LAYERS))
    assert unplaced == [], f"put these in LAYERS: {unplaced}"


def test_layers_point_one_way() -> None:
    graph = import_graph()
    upward = sorted(
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if LAYERS[layer(target)] > LAYERS[layer(module)]
    )
    unexplained = [pair for pair in upward if pair not in EXCEPTIONS]
    assert unexplained == [], "\n".join(f"{a} imports {b} (a higher layer)" for a, b in unexplained)
    stale = sorted(set(EXCEPTIONS) - set(upward))
    assert stale == [], f"no longer needed, remove from EXCEPTIONS: {stale}"
