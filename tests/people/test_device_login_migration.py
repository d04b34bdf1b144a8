"""Migration 0014: a 0013 database gains the device_logins table exactly as schema.py has it."""

from __future__ import annotations

from lablink.core.device_login import DeviceLogins
from lablink.core.people import People
from lablink.settings import Settings
from lablink.store import open_store
from migration_steps import database_at, schema_drift


def test_a_0013_database_upgrades_to_device_logins(settings: Settings) -> None:
    assert "device_logins" not in database_at(settings.db, "0013")
    store = open_store(settings.db)
    try:
        assert schema_drift(store.engine, ["device_logins"]) == []  # type: ignore[attr-defined]
        people = People(store)
        people.add_user("root", "kenji", "kenji@lab.org")
        logins = DeviceLogins(people)
        started = logins.start("laptop", "127.0.0.1")
        assert logins.pending(started.user_code).label == "laptop"
    finally:
        store.close()
