"""Migration 0002 upgrades a database made at 0001 on both dialects, keeping its rows."""

from __future__ import annotations

import sqlalchemy as sa

from lablink.core.schemas import Schemas
from lablink.settings import Settings
from lablink.store import open_store
from lablink.store.migrate import HEAD, current_revision, upgrade


def test_a_0001_database_upgrades_to_head(settings: Settings) -> None:
    db_url = settings.db
    engine = sa.create_engine(db_url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO projects (name, created_at) VALUES ('old', 1.0)"))
        assert current_revision(engine) == "0001"
        assert not sa.inspect(engine).has_table("schema_versions")
    finally:
        engine.dispose()
    store = open_store(db_url)
    try:
        engine = store.engine  # type: ignore[attr-defined]
        assert current_revision(engine) not in (None, "0001") and int(HEAD) >= 2
        assert sa.inspect(engine).has_table("schema_versions")
        assert [p.name for p in store.list_projects()] == ["old"]
        version, created = Schemas(store).register("events", "fields:\n  - {name: a}\n", "ana")
        assert created and version.ref == "events@v1"
    finally:
        store.close()
