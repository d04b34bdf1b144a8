"""Migration 0007: a 0006 database gains the sessions table exactly as schema.py has it."""

from __future__ import annotations

from lablink.core.people import People
from lablink.core.sessions import Sessions
from lablink.settings import Settings
from lablink.store import open_store
from migration_steps import database_at, schema_drift


def test_a_0006_database_upgrades_keeping_its_users(settings: Settings) -> None:
    assert "sessions" not in database_at(settings.db, "0006")
    store = open_store(settings.db)
    try:
        assert schema_drift(store.engine, ["sessions"]) == []  # type: ignore[attr-defined]
        people = People(store)
        people.add_user("root", "kenji", "kenji@lab.org")
        people.set_password("root", "kenji", "a long passphrase")
        secret, session = Sessions(people).sign_in("kenji", "a long passphrase")
        assert Sessions(people).resume(secret).id == session.id
    finally:
        store.close()
