"""PostgreSQL specifics: upserts and LISTEN/NOTIFY so every server process sees every write."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from lablink.store.jsoncol import json_dumps, json_loads
from lablink.store.sql import SqlStore

CHANNEL = "lablink_events"


def make_postgres_engine(url: str) -> sa.Engine:
    """A pooled engine; JSON keeps NaN/inf as markers (PostgreSQL rejects the tokens)."""
    return sa.create_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=json_loads,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
    )


class PostgresStore(SqlStore):
    """Team store: several server processes can share one database."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(engine)
        self._listener: threading.Thread | None = None
        self._wakeup = threading.Condition()
        self._generation = 0
        self._closed = False

    def insert(self, table: sa.Table) -> Any:
        return pg_insert(table)

    def among_many(self, column: sa.ColumnElement[Any], values: Sequence[str]) -> Any:
        # the list as one text[] parameter: column = ANY(%(param)s)
        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(sa.Text)))

    def _notify(self, conn: sa.Connection, event_id: int) -> None:
        # Delivered at commit, to every connection listening on the channel in any process.
        conn.execute(sa.select(sa.func.pg_notify(CHANNEL, str(event_id))))

    def close(self) -> None:
        self._closed = True
        super().close()

    def wait_for_events(self, cursor: int, timeout: float) -> None:
        self._ensure_listener()
        with self._wakeup:
            generation = self._generation
            if self.last_event_id() > cursor:
                return
            self._wakeup.wait_for(lambda: self._generation != generation, timeout)

    def _ensure_listener(self) -> None:
        if self._listener is None or not self._listener.is_alive():
            self._listener = threading.Thread(
                target=self._listen, name="lablink-pg-listen", daemon=True
            )
            self._listener.start()

    def _listen(self) -> None:
        import psycopg

        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._closed:
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._closed:
                        received = sum(1 for _ in conn.notifies(timeout=1.0, stop_after=1))
                        if not received:
                            continue
                        with self._wakeup:
                            self._generation += 1
                            self._wakeup.notify_all()
            except psycopg.Error:
                time.sleep(1.0)  # database restarting: retry, watchers fall back to timeouts
