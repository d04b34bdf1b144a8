"""SQLite specifics: WAL, busy timeout, BEGIN IMMEDIATE writes, polling for live events."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from lablink.store.jsoncol import json_dumps, json_loads
from lablink.store.sql import SqlStore
from lablink.store.wal_sync import GroupSync

Durability = Literal["commit", "process"]

POLL_INTERVAL = 0.1
logger = logging.getLogger(__name__)


def make_sqlite_engine(url: str) -> sa.Engine:
    """An engine on a WAL database whose write transactions take the lock up front.

    ``synchronous=NORMAL`` in WAL mode: a commit survives the process crashing. The
    store's writes add a shared fsync of the WAL (``GroupSync``) when they must also
    survive a power failure; FULL would fsync every commit on its own instead
    (docs/server.md, "Performance and durability", has the figures).
    """
    engine = sa.create_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=json_loads,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        if ":memory:" not in url:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # A deferred BEGIN that later writes can fail with SQLITE_BUSY without waiting;
        # IMMEDIATE takes the write lock at once and honours busy_timeout.
        write = conn.get_execution_options().get("lablink_write", False)
        sql = "BEGIN IMMEDIATE" if write else "BEGIN"
        # On the driver's connection: ``exec_driver_sql`` costs several times what the
        # BEGIN does, on every write. Its errors (a lock held past busy_timeout) are
        # raised as SQLAlchemy's, as it would raise them.
        error = conn.dialect.loaded_dbapi.Error
        try:
            conn.connection.driver_connection.execute(sql)  # type: ignore[union-attr]
        except error as exc:
            raise sa.exc.DBAPIError.instance(sql, (), exc, error) from exc

    return engine


class SqliteStore(SqlStore):
    """The embedded default store.

    ``durability="commit"`` (the default): a write returns only once it would survive a
    power failure, its WAL frames fsynced together with those of concurrent writes.
    ``"process"``: a write survives the process crashing, not the machine.
    """

    def __init__(self, engine: sa.Engine, durability: Durability = "commit") -> None:
        super().__init__(engine)
        self._writer = engine.execution_options(lablink_write=True)
        database = engine.url.database
        self.group_sync: GroupSync | None = None
        self._deferred = threading.local()  # this thread's ``one_sync``, if any
        if durability == "commit" and database not in (None, "", ":memory:"):
            self.group_sync = GroupSync(Path(f"{database}-wal"))

    def write(self) -> Any:
        if self.group_sync is None:
            return self._writer.begin()
        return self._durable_write(self.group_sync)

    def rewrite(self) -> Any:
        # Committed to the WAL, synced by the next durable write or checkpoint; a power
        # failure before then loses a suffix of the WAL, never a write in its middle.
        return self._writer.begin()

    @contextlib.contextmanager
    def _durable_write(self, group_sync: GroupSync) -> Iterator[sa.Connection]:
        with self._writer.begin() as conn:
            yield conn
        ticket = group_sync.committed()
        if getattr(self._deferred, "on", False):
            self._deferred.ticket = ticket  # synced once, when ``one_sync`` ends
            return
        group_sync.wait(ticket)

    @contextlib.contextmanager
    def one_sync(self) -> Iterator[None]:
        # The WAL is written in order: one sync after the last write makes every
        # earlier one durable too, so several commits of one call wait once.
        deferred = self._deferred
        if self.group_sync is None or getattr(deferred, "on", False):
            yield
            return
        deferred.on, deferred.ticket = True, 0
        try:
            yield
        finally:
            deferred.on = False
            if deferred.ticket:
                self.group_sync.wait(deferred.ticket)

    def insert(self, table: sa.Table) -> Any:
        return sqlite_insert(table)

    def among_many(self, column: sa.ColumnElement[Any], values: Sequence[str]) -> Any:
        # the list as one JSON array, read back by json_each: one bound parameter
        listed = sa.func.json_each(json_dumps(list(values))).table_valued("value")
        return column.in_(sa.select(listed.c.value))

    def checkpoint(self) -> None:
        """Fold the WAL back into the database, truncate it and close idle connections.

        A clean stop thus leaves one self-contained file behind (no ``-wal`` holding
        acknowledged writes). When another process still has the database open, the
        checkpoint does what it can and that process's last close finishes it. The
        store stays usable: connections reopen on demand.
        """
        if self.engine.url.database in (None, "", ":memory:"):
            return
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except sa.exc.OperationalError:  # busy or read-only: closing still works
            logger.warning("WAL checkpoint failed", exc_info=True)
        self.engine.dispose()  # the last connection to close removes the -wal file

    def close(self) -> None:
        self.checkpoint()
        super().close()

    def wait_for_events(self, cursor: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.last_event_id() <= cursor:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL_INTERVAL, left))
