"""Migration 0007: a 0006 database gains the sessions table exactly as schema.py has it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lablink.core.people import People
from lablink.core.sessions import Sessions
from lablink.settings import Settings
from lablink.store import open_store
from lablink.store import schema as t
from lablink.store.migrate import HEAD, current_revision, upgrade


def test_a_0006_database_upgrades_keeping_its_users(settings: Settings) -> None:
    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine, "0006")
        assert not sa.inspect(engine).has_table("sessions")
    finally:
        engine.dispose()
    store = open_store(settings.db)
    try:
        assert current_revision(store.engine) == HEAD  # type: ignore[attr-defined]
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)
        assert [d for d in diffs if "sessions" in repr(d)] == []
        people = People(store)
        people.add_user("root", "kenji", "kenji@lab.org")
        people.set_password("root", "kenji", "a long passphrase")
        secret, session = Sessions(people).sign_in("kenji", "a long passphrase")
        assert Sessions(people).resume(secret).id == session.id
    finally:
        store.close()
