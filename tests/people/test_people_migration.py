"""Migration 0006: a 0005 database gains the people tables exactly as schema.py has them."""

from __future__ import annotations

import sqlalchemy as sa

from lablink.core.people import People
from lablink.settings import Settings
from lablink.store import open_store
from lablink.store.migrate import upgrade
from migration_steps import database_at, downgrade, schema_drift

OURS = {"users", "tokens", "project_grants", "audit_log"}


def add_old_project(conn: sa.Connection) -> None:
    conn.execute(sa.text("INSERT INTO projects (name, created_at) VALUES ('old', 1.0)"))


def test_a_0005_database_upgrades_keeping_its_rows(settings: Settings) -> None:
    assert "users" not in database_at(settings.db, "0005", add_old_project)
    store = open_store(settings.db)
    try:
        assert schema_drift(store.engine, OURS) == []  # type: ignore[attr-defined]
        assert [p.name for p in store.list_projects()] == ["old"]
        people = People(store)
        people.add_user("root", "kenji", "kenji@lab.org")
        assert people.grant("root", "old", "kenji", "viewer").project == "old"
    finally:
        store.close()


def test_downgrading_0006_removes_the_people_tables(settings: Settings) -> None:
    open_store(settings.db).close()
    engine = sa.create_engine(settings.db)
    try:
        downgrade(engine, "0005")
        tables = set(sa.inspect(engine).get_table_names())
        assert not tables & OURS and "projects" in tables
        upgrade(engine)  # and back up again: the trigger function was dropped with them
        assert set(sa.inspect(engine).get_table_names()) >= OURS
    finally:
        engine.dispose()
