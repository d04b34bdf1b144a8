"""Migration 0016: a 0014 database gains the search indexes exactly as schema.py has them,
and its runs are found as before."""

from __future__ import annotations

import sqlalchemy as sa

from lablink.core.lab import Lab
from lablink.settings import Settings
from lablink.store import schema as t
from lablink.store.migrate import upgrade
from migration_steps import schema_drift

INDEXES = {
    "runs": {
        "ix_runs_project_created": ["project_id", "created_at", "id"],
        "ix_runs_id_project": ["id", "project_id", "created_at"],
    },
    "run_params": {"ix_run_params_key": ["key", "value_num", "run_id"]},
    "run_metrics": {"ix_run_metrics_key": ["key", "run_id", "summary_value", "last_value"]},
}


def indexes(engine: sa.Engine, table: str) -> dict[str, list[str]]:
    return {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes(table)}


def test_a_0014_database_upgrades_to_the_search_indexes(settings: Settings) -> None:
    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine, "0014")
        assert indexes(engine, "run_metrics")["ix_run_metrics_key"] == ["key", "run_id"]
        with engine.begin() as conn:
            conn.execute(t.projects.insert().values(id=1, name="old", created_at=1.0))
            conn.execute(
                t.runs.insert().values(
                    id="r1", project_id=1, name="r", user="u", status="finished",
                    created_at=1.0, command=[], packages={}, gpus=[], config={}, summary={},
                    updated_at=1.0,
                )
            )  # fmt: skip
            conn.execute(
                t.run_metrics.insert().values(run_id="r1", key="acc", count=0, summary_value=0.9)
            )
    finally:
        engine.dispose()
    with Lab(settings) as lab:
        engine = lab.store.engine  # type: ignore[attr-defined]
        assert schema_drift(engine, INDEXES) == []
        for table, expected in INDEXES.items():
            found = indexes(engine, table)
            assert {name: found.get(name) for name in expected} == expected
        runs, total = lab.tracking.search_runs("old", "metrics.acc > 0.5")
        assert total == 1 and [r.id for r in runs] == ["r1"]
