"""``ux_incidents_unresolved`` is partial on SQLite and PostgreSQL, built from the metadata
or by the migrations, and importing the schema loads no PostgreSQL dialect (issue 18)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from lablink.store import schema as t
from lablink.store.migrate import upgrade

WHERE = "WHERE state != 'resolved'"


def unresolved_index() -> sa.Index:
    return next(i for i in t.incidents.indexes if i.name == "ux_incidents_unresolved")


@pytest.mark.parametrize(
    "dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"]
)
def test_the_index_ddl_has_its_where_on_each_dialect(dialect: sa.Dialect) -> None:
    ddl = str(sa.schema.CreateIndex(unresolved_index()).compile(dialect=dialect))
    assert (
        ddl
        == f"CREATE UNIQUE INDEX ux_incidents_unresolved ON incidents (run_id, rule, kind) {WHERE}"
    )


def test_its_options_read_as_those_of_a_plain_index_with_both_wheres() -> None:
    index = unresolved_index()
    where = index.dialect_options["postgresql"]["where"]
    other = sa.Table("other", sa.MetaData(), sa.Column("run_id", sa.String))
    plain = sa.Index("x", other.c.run_id, unique=True, postgresql_where=where)
    assert str(where) == "incidents.state != :state_1"
    assert index.dialect_options["sqlite"]["where"] is where
    assert dict(index.dialect_options["postgresql"]) == dict(plain.dialect_options["postgresql"])
    assert index.unique


def test_importing_the_schema_loads_no_postgresql_dialect() -> None:
    code = (
        "import json, sys; import lablink.store.schema; "
        "print(json.dumps(sorted(m for m in sys.modules if 'postgresql' in m or 'asyncpg' in m)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def incident(number: int, state: str) -> dict[str, object]:
    return {
        "id": number, "run_id": "r1", "project_id": 1, "kind": "nan", "rule": "loss",
        "severity": "error", "state": state, "title": "NaN", "evidence": {}, "action": "none",
        "count": 1, "reopened": 0, "opened_by": "watchdog", "opened_at": 1.0,
        "last_seen_at": 1.0,
    }  # fmt: skip


@pytest.mark.parametrize("build", ["metadata", "migrations"])
def test_one_unresolved_incident_per_run_rule_and_kind(db_url: str, build: str) -> None:
    if db_url.startswith("sqlite"):
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(db_url)
    try:
        if build == "metadata":
            t.metadata.create_all(engine)
        else:
            upgrade(engine)
        with engine.begin() as conn:
            conn.execute(t.projects.insert().values(id=1, name="p", created_at=1.0))
            conn.execute(
                t.runs.insert().values(
                    id="r1", project_id=1, name="r", user="u", status="running",
                    created_at=1.0, command=[], packages={}, gpus=[], config={}, summary={},
                    updated_at=1.0,
                )
            )  # fmt: skip
            conn.execute(t.incidents.insert().values(incident(1, "resolved")))
            conn.execute(t.incidents.insert().values(incident(2, "resolved")))
            conn.execute(t.incidents.insert().values(incident(3, "open")))
        unique = r"ux_incidents_unresolved|UNIQUE constraint failed"
        with pytest.raises(sa.exc.IntegrityError, match=unique), engine.begin() as conn:
            conn.execute(t.incidents.insert().values(incident(4, "acknowledged")))
        with engine.connect() as conn:
            states = conn.execute(sa.select(t.incidents.c.state).order_by(t.incidents.c.id))
            assert states.scalars().all() == ["resolved", "resolved", "open"]
    finally:
        engine.dispose()
