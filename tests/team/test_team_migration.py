"""Migration 0010: a 0009 database gains the team tables and the routing columns of
``incident_deliveries`` exactly as schema.py has them, keeping its deliveries."""

from __future__ import annotations

import sqlalchemy as sa

from lablink.settings import Settings
from lablink.store import open_store
from lablink.store import schema as t
from lablink.store.migrate import upgrade
from migration_steps import add_a_delivery, database_at, downgrade, schema_drift

OURS = {"team_members", "rotations", "oncall_overrides", "incident_deliveries"}


def test_a_0009_database_upgrades_and_keeps_its_deliveries(settings: Settings) -> None:
    assert "rotations" not in database_at(settings.db, "0009", add_a_delivery)
    store = open_store(settings.db)
    try:
        assert schema_drift(store.engine, OURS) == []  # type: ignore[attr-defined]
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            [row] = conn.execute(sa.select(t.incident_deliveries)).all()
        assert row.state == "sent" and row.recipient is None and row.step is None
    finally:
        store.close()


def test_downgrading_0010_removes_the_team_tables(settings: Settings) -> None:
    open_store(settings.db).close()
    engine = sa.create_engine(settings.db)
    try:
        downgrade(engine, "0009")
        inspector = sa.inspect(engine)
        assert not set(inspector.get_table_names()) & {"team_members", "rotations"}
        columns = {c["name"] for c in inspector.get_columns("incident_deliveries")}
        assert "recipient" not in columns and "channel" in columns
        upgrade(engine)
        assert sa.inspect(engine).has_table("oncall_overrides")
    finally:
        engine.dispose()
