"""Migration 0012: a 0009 database gains the blob-holder indexes exactly as schema.py has
them, and loses them again on downgrade."""

from __future__ import annotations

import sqlalchemy as sa

from lablink.settings import Settings
from lablink.store import open_store
from migration_steps import database_at, downgrade, schema_drift

OURS = {"ix_artifacts_digest", "ix_runs_git_diff_digest"}


def indexes(engine: sa.Engine) -> set[str]:
    inspector = sa.inspect(engine)
    return {str(i["name"]) for table in ("artifacts", "runs") for i in inspector.get_indexes(table)}


def test_a_0009_database_gains_the_indexes_and_a_downgrade_drops_them(settings: Settings) -> None:
    database_at(settings.db, "0009")
    engine = sa.create_engine(settings.db)
    try:
        assert not indexes(engine) & OURS
        store = open_store(settings.db)
        try:
            assert schema_drift(store.engine, OURS) == []  # type: ignore[attr-defined]
        finally:
            store.close()
        assert indexes(engine) >= OURS
        downgrade(engine, "0009")
        assert not indexes(engine) & OURS
    finally:
        engine.dispose()
