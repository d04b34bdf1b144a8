"""The migration head constant matches Alembic's history (layers: ``test_import_graph.py``)."""

from __future__ import annotations

from lablink.store.migrate import HEAD, MIGRATIONS


def test_head_constant_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]
