"""Migration 0006: a 0005 database gains the people tables exactly as schema.py has them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lablink.core.people import People
from lablink.settings import Settings
from lablink.store import open_store
from lablink.store import schema as t
from lablink.store.migrate import HEAD, current_revision, upgrade

OURS = {"users", "tokens", "project_grants", "audit_log"}


def test_a_0005_database_upgrades_keeping_its_rows(settings: Settings) -> None:
    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine, "0005")
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO projects (name, created_at) VALUES ('old', 1.0)"))
        assert not sa.inspect(engine).has_table("users")
    finally:
        engine.dispose()
    store = open_store(settings.db)
    try:
        assert current_revision(store.engine) == HEAD  # type: ignore[attr-defined]
        assert [p.name for p in store.list_projects()] == ["old"]
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)
        assert [d for d in diffs if any(name in repr(d) for name in OURS)] == []
        people = People(store)
        people.add_user("root", "kenji", "kenji@lab.org")
        assert people.grant("root", "old", "kenji", "viewer").project == "old"
    finally:
        store.close()


def test_downgrading_0006_removes_the_people_tables(settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config

    from lablink.store.migrate import MIGRATIONS

    store = open_store(settings.db)
    store.close()
    engine = sa.create_engine(settings.db)
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, "0005")
        tables = set(sa.inspect(engine).get_table_names())
        assert not tables & OURS and "projects" in tables
        upgrade(engine)  # and back up again: the trigger function was dropped with them
        assert set(sa.inspect(engine).get_table_names()) >= OURS
    finally:
        engine.dispose()
