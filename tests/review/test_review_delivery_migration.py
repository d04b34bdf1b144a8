"""Migration 0017: ``incident_deliveries`` gains ``review_event_id`` (and a nullable
``incident_id``) exactly as schema.py has them, keeping its rows; downgrading drops
the review rows with the column."""

from __future__ import annotations

import sqlalchemy as sa

from lablink.settings import Settings
from lablink.store import open_store
from lablink.store import schema as t
from lablink.store.migrate import HEAD, current_revision, upgrade
from migration_steps import add_a_delivery, database_at, downgrade, schema_drift


def test_a_0014_database_upgrades_and_keeps_its_deliveries(settings: Settings) -> None:
    database_at(settings.db, "0014", add_a_delivery)
    store = open_store(settings.db)
    try:
        assert schema_drift(store.engine, ["incident_deliveries"]) == []  # type: ignore[attr-defined]
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            [row] = conn.execute(sa.select(t.incident_deliveries)).all()
        assert row.state == "sent" and row.incident_id is not None
        assert row.review_event_id is None
    finally:
        store.close()


def test_downgrading_0017_drops_the_review_column(settings: Settings) -> None:
    open_store(settings.db).close()
    engine = sa.create_engine(settings.db)
    try:
        with engine.begin() as conn:
            add_a_delivery(conn)
        downgrade(engine, "0014")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("incident_deliveries")}
        assert "review_event_id" not in columns and "incident_id" in columns
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM incident_deliveries")).scalar() == 1
        upgrade(engine)
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()
