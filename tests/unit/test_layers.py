"""Layers point one way, the store's seam is public, and the migration head matches Alembic."""

from __future__ import annotations

import ast
from pathlib import Path

import lablink.errors
from lablink.store.migrate import HEAD, MIGRATIONS

SRC = Path(lablink.errors.__file__).parent
FORBIDDEN = {
    "store": ("lablink.server", "lablink.ui", "lablink.cli", "lablink.sdk", "lablink.core"),
    "checks": (
        "lablink.store",
        "lablink.server",
        "lablink.ui",
        "lablink.cli",
        "lablink.sdk",
        "lablink.core",
    ),
    "core": ("lablink.server", "lablink.ui", "lablink.cli", "lablink.sdk"),
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_lower_layers_never_import_upper_ones() -> None:
    bad = []
    for layer, forbidden in FORBIDDEN.items():
        for path in (SRC / layer).rglob("*.py"):
            bad += [
                f"{path.relative_to(SRC)} imports {n}"
                for n in imports(path)
                if n.startswith(forbidden)
            ]
    assert bad == []


def _store_object(node: ast.expr) -> bool:
    """``store``, ``self.store``, ``lab.store``, ``self.sql``: a store or a repository."""
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return name.endswith(("store", "sql"))


def test_nothing_reaches_into_a_store_privately() -> None:
    # The SQL store's subject mixins use ``self._x``; everyone else, repositories included,
    # goes through its public plumbing (write, insert, require_run, add_event).
    bad = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and _store_object(node.value)
            ):
                bad.append(f"{path.relative_to(SRC)}:{node.lineno} uses .{node.attr}")
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "isinstance"
                and "SqlStore" in ast.unparse(node)
            ):
                bad.append(f"{path.relative_to(SRC)}:{node.lineno} tests for SqlStore")
    assert bad == []


def test_head_constant_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]
