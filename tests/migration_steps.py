"""The steps every migration test takes: build a database at an old revision, open it
(which upgrades it to HEAD), compare it with ``schema.py``, and downgrade it again."""

from __future__ import annotations

from collections.abc import Callable, Collection

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from lablink.store import schema as t
from lablink.store.migrate import HEAD, MIGRATIONS, current_revision, upgrade


def database_at(
    db_url: str, revision: str, seed: Callable[[sa.Connection], None] | None = None
) -> set[str]:
    """Create the database at ``revision``, run ``seed`` in one transaction; its tables."""
    engine = sa.create_engine(db_url)
    try:
        upgrade(engine, revision)
        if seed is not None:
            with engine.begin() as conn:
                seed(conn)
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def add_a_delivery(conn: sa.Connection) -> None:
    """A project, a run, an incident and one sent delivery, as any revision since 0009
    stores them (the rows the delivery migrations must keep)."""
    conn.execute(sa.text("INSERT INTO projects (name, created_at) VALUES ('old', 1.0)"))
    pid = conn.execute(sa.text("SELECT id FROM projects")).scalar_one()
    conn.execute(
        sa.text(
            'INSERT INTO runs (id, project_id, name, "user", status, created_at, '
            "git_dirty, command, packages, gpus, config, summary, updated_at) VALUES "
            "('r1', :p, 'r', 'ana', 'running', 1.0, false, '[]', '{}', '[]', '{}', "
            "'{}', 1.0)"
        ),
        {"p": pid},
    )
    conn.execute(
        sa.text(
            "INSERT INTO incidents (run_id, project_id, kind, rule, severity, state, "
            "title, evidence, action, count, reopened, opened_by, opened_at, "
            "last_seen_at) VALUES ('r1', :p, 'nan', 'loss', 'high', 'open', 't', '{}', "
            "'alert', 1, 0, 'watchdog', 1.0, 1.0)"
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


def schema_drift(engine: sa.Engine, names: Collection[str]) -> list[object]:
    """Differences from ``schema.py`` that mention any of ``names``, at HEAD."""
    assert current_revision(engine) == HEAD
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)
    return [d for d in diffs if any(name in repr(d) for name in names)]


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Run Alembic's downgrade to ``revision`` on ``engine``, in one transaction."""
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
