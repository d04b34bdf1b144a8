"""Migration 0012: a database at 0009 gains the registry and dataset-alias tables exactly
as schema.py has them, and loses them again on downgrade."""

from __future__ import annotations

import sqlalchemy as sa

from lablink.settings import Settings
from lablink.store import open_store
from lablink.store.migrate import upgrade
from migration_steps import database_at, downgrade, schema_drift

OURS = {
    "mlflow_logged_models",
    "registered_models",
    "model_versions",
    "model_aliases",
    "dataset_aliases",
    "dataset_alias_moves",
}
BEFORE = "0009"  # the revision the registry migration follows


def test_a_0009_database_upgrades_to_the_registry_tables(settings: Settings) -> None:
    assert not database_at(settings.db, BEFORE) & OURS
    store = open_store(settings.db)
    try:
        assert schema_drift(store.engine, OURS) == []  # type: ignore[attr-defined]
    finally:
        store.close()


def test_downgrading_removes_the_registry_tables(settings: Settings) -> None:
    open_store(settings.db).close()
    engine = sa.create_engine(settings.db)
    try:
        downgrade(engine, BEFORE)
        tables = set(sa.inspect(engine).get_table_names())
        assert not tables & OURS and "mlflow_experiments" in tables
        upgrade(engine)
        assert set(sa.inspect(engine).get_table_names()) >= OURS
    finally:
        engine.dispose()
