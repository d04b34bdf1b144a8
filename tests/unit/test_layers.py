"""The store's seam is public, and the migration head matches Alembic (layers: test_import_graph)."""

from __future__ import annotations

import ast
from pathlib import Path

import lablink.errors
from lablink.store.migrate import HEAD, MIGRATIONS

SRC = Path(lablink.errors.__file__).parent


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
