"""Migration 0012: a 0009 database gains the blob-holder indexes exactly as schema.py has
them, and loses them again on downgrade."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lablink.settings import Settings
from lablink.store import open_store
from lablink.store import schema as t
from lablink.store.migrate import HEAD, MIGRATIONS, current_revision, upgrade

OURS = {"ix_artifacts_digest", "ix_runs_git_diff_digest"}


def indexes(engine: sa.Engine) -> set[str]:
    inspector = sa.inspect(engine)
    return {str(i["name"]) for table in ("artifacts", "runs") for i in inspector.get_indexes(table)}


def test_a_0009_database_gains_the_indexes_and_a_downgrade_drops_them(settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config

    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine, "0009")
        assert not indexes(engine) & OURS
        store = open_store(settings.db)
        try:
            assert current_revision(store.engine) == HEAD  # type: ignore[attr-defined]
            with store.engine.connect() as conn:  # type: ignore[attr-defined]
                diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)
            assert [d for d in diffs if any(name in repr(d) for name in OURS)] == []
        finally:
            store.close()
        assert indexes(engine) >= OURS
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, "0009")
        assert not indexes(engine) & OURS
    finally:
        engine.dispose()
