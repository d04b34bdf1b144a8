"""Incident persistence: raise (open, dedupe, reopen), list, acknowledge, resolve.

``IncidentSql`` wraps a ``SqlStore`` and uses its engine, its one write path and its
dialect INSERT, so the same SQL runs on SQLite and PostgreSQL. "At most one unresolved
incident per (run, rule, kind)" is the partial unique index ``ux_incidents_unresolved``:
two server processes that see the same NaN race into one ``INSERT ... ON CONFLICT``,
and exactly one of them opens the incident.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from lablink.errors import Conflict, NotFound
from lablink.models import Incident
from lablink.store import schema as t
from lablink.store.sql import SqlStore


@dataclasses.dataclass(frozen=True)
class Raised:
    """What raising a finding did: ``opened``, ``reopened`` or ``repeat`` (deduplicated)."""

    incident: Incident
    outcome: str


class IncidentSql:
    """Queries for the incidents table over one SQL store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def raise_(
        self, run_id: str, values: Mapping[str, Any], reopen: bool, actor: str, now: float
    ) -> Raised:
        """Record a finding (``values``: kind, rule, severity, title, evidence, action).

        A repeat of an unresolved incident bumps its count and evidence. Otherwise, with
        ``reopen``, the latest resolved incident of the same run, rule and kind opens
        again; else a new incident opens.

        Raises:
            NotFound: no such run.
        """
        with self.store.write() as conn:
            return self.raise_in(conn, run_id, values, reopen, actor, now)

    def raise_in(
        self,
        conn: sa.Connection,
        run_id: str,
        values: Mapping[str, Any],
        reopen: bool,
        actor: str,
        now: float,
    ) -> Raised:
        """``raise_`` inside a write transaction the caller holds (with a status change)."""
        i = t.incidents
        key = (i.c.run_id == run_id, i.c.rule == values["rule"], i.c.kind == values["kind"])
        fresh = {
            "severity": values["severity"],
            "title": values["title"],
            "evidence": dict(values["evidence"]),
            "last_seen_at": now,
        }
        run = self.store.require_run(conn, run_id)
        live = conn.execute(sa.select(i.c.id).where(*key, i.c.state != "resolved")).scalar()
        if live is None and reopen:
            latest = conn.execute(
                sa.select(sa.func.max(i.c.id)).where(*key, i.c.state == "resolved")
            ).scalar()
            if latest is not None:
                done = conn.execute(
                    i.update()
                    .where(i.c.id == latest, i.c.state == "resolved")
                    .values(
                        state="open",
                        count=i.c.count + 1,
                        reopened=i.c.reopened + 1,
                        acknowledged_at=None,
                        acknowledged_by=None,
                        resolved_at=None,
                        resolved_by=None,
                        resolution_note=None,
                        **fresh,
                    )
                )
                if done.rowcount == 1:
                    return self._raised(conn, int(latest), "reopened")
        stmt = self.store.insert(i).values(
            run_id=run_id,
            project_id=run.project_id,
            kind=values["kind"],
            rule=values["rule"],
            state="open",
            action=values["action"],
            count=1,
            reopened=0,
            opened_by=actor,
            opened_at=now,
            **fresh,
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=["run_id", "rule", "kind"],
            index_where=i.c.state != "resolved",
            set_={"count": i.c.count + 1, **fresh},
        ).returning(i.c.id, i.c.count)
        row = conn.execute(upsert).one()
        incident_id, count = row
        return self._raised(conn, int(incident_id), "opened" if count == 1 else "repeat")

    def get(self, incident_id: int) -> Incident:
        """One incident. Raises ``NotFound``."""
        with self.store.engine.connect() as conn:
            return self._get(conn, incident_id)

    def find(
        self, open_only: bool, run_id: str | None, project: str | None, limit: int
    ) -> list[Incident]:
        """Incidents newest first; ``open_only`` keeps open and acknowledged ones."""
        query = self._select().order_by(t.incidents.c.id.desc()).limit(limit)
        if open_only:
            query = query.where(t.incidents.c.state != "resolved")
        if run_id is not None:
            query = query.where(t.incidents.c.run_id == run_id)
        if project is not None:
            query = query.where(t.projects.c.name == project)
        with self.store.engine.connect() as conn:
            return [_incident(row) for row in conn.execute(query)]

    def transition(
        self, incident_id: int, to: str, actor: str, now: float, note: str | None = None
    ) -> Incident:
        """Acknowledge (``to="acknowledged"``) or resolve an incident.

        Acknowledging an acknowledged incident changes nothing.

        Raises:
            NotFound: no such incident.
            Conflict: it is already resolved.
        """
        i = t.incidents
        with self.store.write() as conn:
            current = self._get(conn, incident_id)
            if current.state == "resolved":
                raise Conflict(
                    f"incident {incident_id} is already resolved",
                    "a rule that fires again reopens it or opens a new incident",
                )
            if to == "acknowledged":
                if current.state == "acknowledged":
                    return current
                values: dict[str, Any] = {"acknowledged_at": now, "acknowledged_by": actor}
            else:
                values = {"resolved_at": now, "resolved_by": actor, "resolution_note": note}
            conn.execute(i.update().where(i.c.id == incident_id).values(state=to, **values))
            return self._event(conn, self._get(conn, incident_id), to)

    def unresolved_for(self, run_id: str, kind: str) -> list[Incident]:
        """The run's unresolved incidents of one kind."""
        i = t.incidents
        query = self._select().where(i.c.run_id == run_id, i.c.kind == kind)
        with self.store.engine.connect() as conn:
            return [_incident(r) for r in conn.execute(query.where(i.c.state != "resolved"))]

    def _raised(self, conn: sa.Connection, incident_id: int, outcome: str) -> Raised:
        incident = self._get(conn, incident_id)
        if outcome != "repeat":  # repeats would flood live views on every batch
            self._event(conn, incident, outcome)
        return Raised(incident, outcome)

    def _event(self, conn: sa.Connection, incident: Incident, what: str) -> Incident:
        """Tell live views (the run page) in the same transaction."""
        i = t.incidents
        project_id = conn.execute(
            sa.select(i.c.project_id).where(i.c.id == incident.id)
        ).scalar_one()
        payload = {"id": incident.id, "event": what, "kind": incident.kind, "state": incident.state}
        self.store.add_event(conn, int(project_id), incident.run_id, "incident", payload)
        return incident

    def _select(self) -> sa.Select[Any]:
        i, r, p = t.incidents, t.runs, t.projects
        return (
            sa.select(i, p.c.name.label("project_name"), r.c.name.label("run_name"))
            .join(r, r.c.id == i.c.run_id)
            .join(p, p.c.id == i.c.project_id)
        )

    def _get(self, conn: sa.Connection, incident_id: int) -> Incident:
        row = conn.execute(self._select().where(t.incidents.c.id == incident_id)).first()
        if row is None:
            raise NotFound(
                f"no incident with id {incident_id}", "list incidents with `lablink incidents ls`"
            )
        return _incident(row)


def _incident(row: Any) -> Incident:
    return Incident(
        id=int(row.id),
        run_id=row.run_id,
        project=row.project_name,
        run_name=row.run_name,
        kind=row.kind,
        rule=row.rule,
        severity=row.severity,
        state=row.state,
        title=row.title,
        evidence=dict(row.evidence or {}),
        action=row.action,
        count=int(row._mapping["count"]),
        reopened=int(row.reopened),
        opened_by=row.opened_by,
        opened_at=float(row.opened_at),
        last_seen_at=float(row.last_seen_at),
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution_note=row.resolution_note,
    )
