"""Migration 0017: ``incident_deliveries`` gains ``review_event_id`` (and a nullable
``incident_id``) exactly as schema.py has them, keeping its rows; downgrading drops
the review rows with the column."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from lablink.settings import Settings
from lablink.store import open_store
from lablink.store import schema as t
from lablink.store.migrate import HEAD, MIGRATIONS, current_revision, upgrade


def _old_delivery(conn: sa.Connection) -> None:
    conn.execute(sa.text("INSERT INTO projects (name, created_at) VALUES ('old', 1.0)"))
    pid = conn.execute(sa.text("SELECT id FROM projects")).scalar_one()
    conn.execute(
        sa.text(
            'INSERT INTO runs (id, project_id, name, "user", status, created_at, '
            "git_dirty, command, packages, gpus, config, summary, updated_at) VALUES "
            "('r1', :p, 'r', 'ana', 'running', 1.0, false, '[]', '{}', '[]', '{}', '{}', 1.0)"
        ),
        {"p": pid},
    )
    conn.execute(
        sa.text(
            "INSERT INTO incidents (run_id, project_id, kind, rule, severity, state, title, "
            "evidence, action, count, reopened, opened_by, opened_at, last_seen_at) VALUES "
            "('r1', :p, 'nan', 'loss', 'high', 'open', 't', '{}', 'alert', 1, 0, 'w', 1.0, 1.0)"
        ),
        {"p": pid},
    )
    iid = conn.execute(sa.text("SELECT id FROM incidents")).scalar_one()
    conn.execute(
        sa.text(
            "INSERT INTO incident_deliveries (incident_id, event, channel, channel_key, "
            "state, attempts, next_at, created_at) VALUES "
            "(:i, 'opened', 'json://x/…', 'k', 'sent', 1, 1.0, 1.0)"
        ),
        {"i": iid},
    )


def test_a_0014_database_upgrades_and_keeps_its_deliveries(settings: Settings) -> None:
    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine, "0014")
        with engine.begin() as conn:
            _old_delivery(conn)
    finally:
        engine.dispose()
    store = open_store(settings.db)
    try:
        assert current_revision(store.engine) == HEAD  # type: ignore[attr-defined]
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)
            [row] = conn.execute(sa.select(t.incident_deliveries)).all()
        assert [d for d in diffs if "incident_deliveries" in repr(d)] == []
        assert row.state == "sent" and row.incident_id is not None
        assert row.review_event_id is None
    finally:
        store.close()


def test_downgrading_0017_drops_the_review_column(settings: Settings) -> None:
    open_store(settings.db).close()
    engine = sa.create_engine(settings.db)
    try:
        with engine.begin() as conn:
            _old_delivery(conn)
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, "0014")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("incident_deliveries")}
        assert "review_event_id" not in columns and "incident_id" in columns
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM incident_deliveries")).scalar() == 1
        upgrade(engine)
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()
