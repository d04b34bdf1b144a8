"""SqlBase: the engine, the one write path and the dialect hooks every SQL module shares.

Repositories (``datasets_sql.py``, ``incidents_sql.py``, ...) take a ``SqlStore`` and
use only the public names here: ``engine``, ``write()``, ``insert()``, ``require_run()``
and ``add_event()`` (from ``events_sql.py``), so their SQL joins the store's
transactions on both dialects.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from lablink.errors import NotFound
from lablink.store import schema as t
from lablink.store.hot_sql import HotSql

RUN_PROJECT_CACHE = 100_000
# Up to this many values ``among`` binds each as a parameter of a plain ``IN``.
FEW_VALUES = 32
# Built once: the ingest path runs it on every batch.
RUN_STATE = sa.select(t.runs.c.project_id, t.runs.c.status).where(
    t.runs.c.id == sa.bindparam("run_id")
)


class SqlBase:
    """An engine plus the hooks that ``SqliteStore`` and ``PostgresStore`` override."""

    engine: sa.Engine

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.hot = HotSql(engine)  # the ingest path's statements, on the driver's cursor
        # run id -> project id. Safe to keep: a run never changes project and is never
        # deleted, so a hit saves the hot ingest path a query.
        self._run_projects: dict[str, int] = {}

    def write(self) -> Any:
        """A connection context for one short write transaction."""
        return self.engine.begin()

    def one_sync(self) -> contextlib.AbstractContextManager[None]:
        """Writes made inside (by this thread) are acknowledged together: where writes
        wait to be durable (SQLite's ``durability=commit``), they wait once, on leaving,
        rather than each on its own. Nothing is durable before it ends."""
        return contextlib.nullcontext()

    def rewrite(self) -> Any:
        """A write transaction that stores nothing new, only rewrites what is stored
        (folding a metric tail): losing it loses nothing, so it need not wait to be
        durable. Stores that make writes durable separately (SQLite) skip that here."""
        return self.write()

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT construct, which supports ON CONFLICT."""
        raise NotImplementedError  # pragma: no cover - every dialect overrides it

    def among(self, column: sa.ColumnElement[Any], values: Sequence[str]) -> Any:
        """``column IN values`` for a list of text values (a page of run ids).

        ``IN`` binds one parameter per value, which SQLAlchemy renders anew for every
        list: right for a few values; a long list goes to the dialect, which binds it
        as one parameter.
        """
        if len(values) <= FEW_VALUES:
            return column.in_(list(values))
        return self.among_many(column, values)

    def among_many(self, column: sa.ColumnElement[Any], values: Sequence[str]) -> Any:
        """``among`` for a long list; the dialects bind the list as one parameter."""
        return column.in_(list(values))

    def run_project(self, conn: sa.Connection, run_id: str) -> int:
        """The project id of a run (cached after the first look-up).

        Raises:
            NotFound: no run has exactly that id.
        """
        found = self._run_projects.get(run_id)
        if found is None:
            found = int(self.require_run(conn, run_id).project_id)
            if len(self._run_projects) >= RUN_PROJECT_CACHE:
                self._run_projects.clear()  # crude but bounded; refills on use
            self._run_projects[run_id] = found
        return found

    def _notify(self, conn: sa.Connection, event_id: int) -> None:
        """Wake watchers in other processes (PostgreSQL NOTIFY); SQLite polls instead."""

    def checkpoint(self) -> None:
        """Make every committed write durable in the main database file (SQLite's WAL).

        PostgreSQL needs nothing: its own checkpoints and shutdown take care of it.
        """

    def close(self) -> None:
        self.engine.dispose()

    def require_run(self, conn: sa.Connection, run_id: str) -> Any:
        """The run's ``project_id`` and ``status`` row.

        Raises:
            NotFound: no run has exactly that id.
        """
        row = conn.execute(RUN_STATE, {"run_id": run_id}).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
        return row
