"""Migration 0009: a 0006 database gains the MLflow tables exactly as schema.py has them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lablink.core.lab import Lab
from lablink.settings import Settings
from lablink.store import open_store
from lablink.store import schema as t
from lablink.store.migrate import HEAD, current_revision, upgrade

OURS = {"mlflow_experiments", "mlflow_runs", "mlflow_params", "mlflow_tags"}


def test_a_0006_database_upgrades_and_its_projects_become_experiments(settings: Settings) -> None:
    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine, "0006")
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO projects (name, created_at) VALUES ('old', 1.0)"))
        assert not sa.inspect(engine).has_table("mlflow_runs")
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
    with Lab(settings) as lab:
        names = {e.name: e.experiment_id for e in lab.mlflow.experiments()}
        assert names["Default"] == 0 and names["old"] >= 1
        again = {e.name: e.experiment_id for e in lab.mlflow.experiments()}
        assert again == names  # ids are stable


def test_downgrading_0009_removes_the_mlflow_tables(settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config

    from lablink.store.migrate import MIGRATIONS

    open_store(settings.db).close()
    engine = sa.create_engine(settings.db)
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, "0006")
        tables = set(sa.inspect(engine).get_table_names())
        assert not tables & OURS and "projects" in tables
        upgrade(engine)
        assert set(sa.inspect(engine).get_table_names()) >= OURS
    finally:
        engine.dispose()
