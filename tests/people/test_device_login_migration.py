"""Migration 0014: a 0013 database gains the device_logins table exactly as schema.py has it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lablink.core.device_login import DeviceLogins
from lablink.core.people import People
from lablink.settings import Settings
from lablink.store import open_store
from lablink.store import schema as t
from lablink.store.migrate import HEAD, current_revision, upgrade


def test_a_0013_database_upgrades_to_device_logins(settings: Settings) -> None:
    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine, "0013")
        assert not sa.inspect(engine).has_table("device_logins")
    finally:
        engine.dispose()
    store = open_store(settings.db)
    try:
        assert current_revision(store.engine) == HEAD  # type: ignore[attr-defined]
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)
        assert [d for d in diffs if "device_logins" in repr(d)] == []
        people = People(store)
        people.add_user("root", "kenji", "kenji@lab.org")
        logins = DeviceLogins(people)
        started = logins.start("laptop", "127.0.0.1")
        assert logins.pending(started.user_code).label == "laptop"
    finally:
        store.close()
