"""HotSql runs Core statements on the driver's cursor as ``Connection.execute`` would."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers import make_settings
from lablink.core.lab import Lab
from lablink.store import schema as t
from lablink.store.base_sql import RUN_STATE
from lablink.store.hot_sql import MAX_PARAMS

USER = "tester@example.org"


def test_rows_values_and_errors_match_connection_execute(lab: Lab) -> None:
    store = lab.store
    hot = store.hot
    rid = lab.tracking.create_run(USER, "vision").id
    with store.engine.connect() as conn:
        assert [tuple(r) for r in hot.execute(conn, RUN_STATE, {"run_id": rid})] == [
            tuple(r) for r in conn.execute(RUN_STATE, {"run_id": rid}).all()
        ]
        assert list(hot.execute(conn, RUN_STATE, {"run_id": "nosuchrun"})) == []
    row = {
        "run_id": rid,
        "key": "k",
        "count": 1,
        "last_step": 3,
        "last_value": math.nan,  # kept as NaN: the column type's conversion still applies
        "last_time": 1.0,
        "min_value": None,
        "max_value": None,
    }
    with store.write() as conn:
        columns = {name: [value, value] for name, value in row.items()}
        columns["key"] = ["k", "j"]
        hot.executemany(conn, t.run_metrics.insert(), columns)
    kept = lab.tracking.get_run(rid).metrics["k"].last_value
    assert kept is not None and math.isnan(kept)
    assert lab.tracking.get_run(rid).metrics["j"].count == 1
    # a driver error comes out as SQLAlchemy's, which the server maps to its status
    batch = {"run_id": rid, "seq": 0, "points": 1, "received_at": 1.0}

    def twice() -> None:
        with store.write() as conn:
            hot.execute(conn, t.ingested_batches.insert(), batch)
            hot.execute(conn, t.ingested_batches.insert(), batch)

    with pytest.raises(sa.exc.IntegrityError, match=r"(?i)unique|duplicate"):
        twice()
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(t.ingested_batches))
        assert stored.scalar() == 0  # the failed transaction left nothing


def test_a_one_off_statement_returns_what_connection_execute_returns(lab: Lab) -> None:
    """A statement with its values bound in (an IN list) runs once, uncached."""
    store = lab.store
    rid = lab.tracking.create_run(USER, "vision").id
    lab.tracking.log_batch(
        rid, 0, {k: {"steps": [1], "times": [1.0], "values": [2.0]} for k in ("a", "b", "c")}
    )
    c = t.metric_chunks
    query = sa.select(c.c.key, c.c.steps).where(c.c.run_id == rid, c.c.key.in_(["a", "c"]))
    with store.engine.connect() as conn:
        got = sorted(tuple(r) for r in store.hot.execute_once(conn, query.order_by(c.c.key)))
        assert got == sorted(tuple(r) for r in conn.execute(query).all())
    assert [r[0] for r in got] == ["a", "c"]


def test_a_multirow_upsert_merges_as_row_by_row(lab: Lab) -> None:
    """Rows past one statement's parameters, a key twice in one statement and NaN: the
    multi-row form stores what the row-by-row form stores."""
    store = lab.store
    hot = store.hot
    upsert = store._metric_upsert()
    rid = lab.tracking.create_run(USER, "vision").id
    n = 3 * MAX_PARAMS // len(t.run_metrics.c) + 5
    keys = [f"k{i}" for i in range(n)]
    keys[7] = keys[3]  # one key merged twice, by rows of one statement
    columns: dict[str, list[Any]] = {
        "run_id": [rid] * n,
        "key": keys,
        "count": [1] * n,
        "last_step": list(range(n)),
        "last_value": [math.nan if i % 5 == 0 else i * 0.5 for i in range(n)],
        "last_time": [1.0] * n,
        "min_value": [None if i % 5 == 0 else i * 0.5 for i in range(n)],
        "max_value": [None if i % 5 == 0 else i * 0.5 for i in range(n)],
    }
    for multirow in (True, False):
        with store.write() as conn:
            hot.executemany(conn, upsert, columns, multirow=multirow)
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(t.run_metrics).where(t.run_metrics.c.run_id == rid))
            got = {
                r.key: (r._mapping["count"], r.last_step, repr(r.last_value), r.min_value)
                for r in rows
            }
        with store.write() as conn:
            conn.execute(t.run_metrics.delete().where(t.run_metrics.c.run_id == rid))
        if multirow:
            first = got
    assert first == got
    assert got["k3"] == (2, 7, "3.5", 1.5)  # the later step's value, the lower minimum
    assert got["k10"] == (1, 10, "nan", None)
    assert len(got) == n - 1


def test_a_locked_database_is_sqlalchemys_operational_error(tmp_path: Path) -> None:
    """The write BEGIN runs on the driver; a lock held past busy_timeout still comes out
    as SQLAlchemy's OperationalError, which the server answers 503."""
    with Lab(make_settings(tmp_path)) as lab:
        database = lab.store.engine.url.database
        assert database
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with lab.store.engine.connect() as conn:
                conn.connection.driver_connection.execute("PRAGMA busy_timeout=50")  # type: ignore[union-attr]
                with pytest.raises(sa.exc.OperationalError, match="locked"):
                    conn.execution_options(lablink_write=True).begin()
                conn.connection.driver_connection.execute("PRAGMA busy_timeout=30000")  # type: ignore[union-attr]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        with lab.store.write() as conn:  # and the store writes again once it is free
            conn.execute(sa.text("SELECT 1"))
