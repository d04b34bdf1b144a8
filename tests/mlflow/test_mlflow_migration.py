"""Migration 0009: a 0006 database gains the MLflow tables exactly as schema.py has them."""

from __future__ import annotations

import sqlalchemy as sa

from lablink.core.lab import Lab
from lablink.settings import Settings
from lablink.store import open_store
from lablink.store.migrate import upgrade
from migration_steps import database_at, downgrade, schema_drift

OURS = {"mlflow_experiments", "mlflow_runs", "mlflow_params", "mlflow_tags"}


def add_old_project(conn: sa.Connection) -> None:
    conn.execute(sa.text("INSERT INTO projects (name, created_at) VALUES ('old', 1.0)"))


def test_a_0006_database_upgrades_and_its_projects_become_experiments(settings: Settings) -> None:
    assert not database_at(settings.db, "0006", add_old_project) & OURS
    store = open_store(settings.db)
    try:
        assert schema_drift(store.engine, OURS) == []  # type: ignore[attr-defined]
    finally:
        store.close()
    with Lab(settings) as lab:
        names = {e.name: e.experiment_id for e in lab.mlflow.experiments()}
        assert names["Default"] == 0 and names["old"] >= 1
        again = {e.name: e.experiment_id for e in lab.mlflow.experiments()}
        assert again == names  # ids are stable


def test_downgrading_0009_removes_the_mlflow_tables(settings: Settings) -> None:
    open_store(settings.db).close()
    engine = sa.create_engine(settings.db)
    try:
        downgrade(engine, "0006")
        tables = set(sa.inspect(engine).get_table_names())
        assert not tables & OURS and "projects" in tables
        upgrade(engine)
        assert set(sa.inspect(engine).get_table_names()) >= OURS
    finally:
        engine.dispose()
