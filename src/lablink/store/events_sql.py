"""The event log: append inside a caller's write transaction, read from a cursor."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from lablink.models import Event
from lablink.store import schema as t
from lablink.store.base_sql import SqlBase

# Built once: constructing the statement cost more than running it on the ingest path.
_EVENT_INSERT = t.events.insert().returning(t.events.c.id)


class EventsSql(SqlBase):
    """Events with monotonic ids; live watchers resume from the last id they saw."""

    def add_event(
        self,
        conn: sa.Connection,
        project_id: int,
        run_id: str | None,
        kind: str,
        payload: Mapping[str, Any],
    ) -> int:
        """Append an event in ``conn``'s transaction and wake watchers; returns its id."""
        event_id = self.hot.execute(
            conn,
            _EVENT_INSERT,
            {
                "project_id": project_id,
                "run_id": run_id,
                "kind": kind,
                # a dict as given: a FiniteJson keeps its type, and so its faster writer
                "payload": payload if isinstance(payload, dict) else dict(payload),
                "created_at": time.time(),
            },
        )[0][0]
        self._notify(conn, int(event_id))
        return int(event_id)

    def events_since(
        self, cursor: int, project: str | None, run_id: str | None, limit: int
    ) -> list[Event]:
        e = t.events
        query = (
            sa.select(e, t.projects.c.name.label("project_name"))
            .join(t.projects, t.projects.c.id == e.c.project_id)
            .where(e.c.id > cursor)
            .order_by(e.c.id)
            .limit(limit)
        )
        if run_id is not None:
            query = query.where(e.c.run_id == run_id)
        if project is not None:
            query = query.where(t.projects.c.name == project)
        with self.engine.connect() as conn:
            return [
                Event(row.id, row.project_name, row.run_id, row.kind, row.payload, row.created_at)
                for row in conn.execute(query)
            ]

    def last_event_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(t.events.c.id))).scalar() or 0)
