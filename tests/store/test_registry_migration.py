"""Migration 0012: a database at 0009 gains the registry and dataset-alias tables exactly
as schema.py has them, and loses them again on downgrade."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lablink.settings import Settings
from lablink.store import open_store
from lablink.store import schema as t
from lablink.store.migrate import HEAD, MIGRATIONS, current_revision, upgrade

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
    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine, BEFORE)
        assert not set(sa.inspect(engine).get_table_names()) & OURS
    finally:
        engine.dispose()
    store = open_store(settings.db)
    try:
        assert current_revision(store.engine) == HEAD  # type: ignore[attr-defined]
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)
        assert [d for d in diffs if any(name in repr(d) for name in OURS)] == []
    finally:
        store.close()


def test_downgrading_removes_the_registry_tables(settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config

    open_store(settings.db).close()
    engine = sa.create_engine(settings.db)
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, BEFORE)
        tables = set(sa.inspect(engine).get_table_names())
        assert not tables & OURS and "mlflow_experiments" in tables
        upgrade(engine)
        assert set(sa.inspect(engine).get_table_names()) >= OURS
    finally:
        engine.dispose()
