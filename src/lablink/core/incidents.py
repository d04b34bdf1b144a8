"""Incident use cases: raise a finding, list, acknowledge, resolve.

An incident is one rule firing on one run. Its lifecycle is open → acknowledged →
resolved, each step stamped with who and when. A finding that repeats while its
incident is unresolved is folded into it (``count`` and ``last_seen_at`` grow, the
evidence is the latest); one that comes back after the incident was resolved reopens
it (``repeat = "reopen"``, the default) or opens a new one (``repeat = "new"``). Opening
and reopening queue a notification on every configured channel (``core/notify.py``).
"""

from __future__ import annotations

import time
from typing import Any

from lablink.checks.watch_rules import Finding
from lablink.core.notify import Notifier
from lablink.errors import Conflict, InvalidInput
from lablink.models import Incident
from lablink.store.deliveries_sql import DeliverySql
from lablink.store.incidents_sql import IncidentSql, Raised
from lablink.store.sql import SqlStore

MAX_LIST = 1000
MAX_NOTE = 10_000
WATCHDOG = "watchdog"


class Incidents:
    """Incidents over one store, with the notifier that alerts people."""

    def __init__(self, store: SqlStore, notifier: Notifier) -> None:
        self.store = store
        self.sql = IncidentSql(store)
        self.deliveries = DeliverySql(store)
        self.notifier = notifier

    def raise_finding(
        self, run_id: str, finding: Finding, actor: str = WATCHDOG, now: float | None = None
    ) -> Raised:
        """Open, reopen or fold ``finding`` into an incident; alert when one (re)opens."""
        now = time.time() if now is None else now
        reopen = finding.repeat == "reopen"
        raised = self.sql.raise_(run_id, _values(finding), reopen, actor, now)
        self.announce(raised, now)
        return raised

    def raise_in(self, conn: Any, run_id: str, finding: Finding, now: float) -> Raised:
        """``raise_finding`` inside the caller's write transaction; ``announce`` after."""
        reopen = finding.repeat == "reopen"
        return self.sql.raise_in(conn, run_id, _values(finding), reopen, WATCHDOG, now)

    def announce(self, raised: Raised, now: float) -> None:
        """Alert the channels when an incident opened or reopened (not on repeats)."""
        if raised.outcome != "repeat":
            self.notifier.enqueue(raised.incident, raised.outcome, now)

    def list(
        self,
        open_only: bool = False,
        run: str | None = None,
        project: str | None = None,
        limit: int = 100,
    ) -> list[Incident]:
        """Incidents newest first; ``open_only`` keeps the open and acknowledged ones.

        Raises:
            InvalidInput: a limit outside 1..1000.
            NotFound: ``run`` matches no run.
        """
        if not 1 <= limit <= MAX_LIST:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIST}, not {limit}")
        run_id = self.store.resolve_run_id(run) if run else None
        return self.sql.find(open_only, run_id, project, limit)

    def get(self, incident_id: int) -> Incident:
        """One incident. Raises ``NotFound``."""
        return self.sql.get(_check_id(incident_id))

    def detail(self, incident_id: int) -> dict[str, Any]:
        """An incident with its deliveries, each with the ``history`` of its attempts."""
        incident = self.get(incident_id)
        deliveries = [
            {**d.to_dict(), "history": [a.to_dict() for a in attempts]}
            for d, attempts in self.deliveries.for_incident(incident.id)
        ]
        return {**incident.to_dict(), "deliveries": deliveries}

    def acknowledge(self, actor: str, incident_id: int) -> Incident:
        """Someone is on it: escalations not yet sent are cancelled. Raises ``NotFound``,
        or ``Conflict`` once resolved."""
        incident = self.sql.transition(_check_id(incident_id), "acknowledged", actor, time.time())
        self.deliveries.cancel_pending(
            incident.id, f"acknowledged by {actor}", escalations_only=True
        )
        return incident

    def resolve(self, actor: str, incident_id: int, note: str | None = None) -> Incident:
        """Close an incident with a note on what was done.

        Raises:
            InvalidInput: a note over 10,000 characters.
            NotFound: no such incident.
            Conflict: it is already resolved.
        """
        if note is not None and len(note) > MAX_NOTE:
            raise InvalidInput(f"the note is {len(note)} characters; keep it under {MAX_NOTE}")
        note = note.strip() or None if note is not None else None
        incident = self.sql.transition(_check_id(incident_id), "resolved", actor, time.time(), note)
        self.deliveries.cancel_pending(incident.id, f"resolved by {actor}", escalations_only=False)
        return incident

    def resolve_kind(self, run_id: str, kind: str, note: str) -> None:
        """Resolve the run's unresolved incidents of one kind as the watchdog."""
        for incident in self.sql.unresolved_for(run_id, kind):
            try:
                self.sql.transition(incident.id, "resolved", WATCHDOG, time.time(), note)
            except Conflict:  # someone resolved it meanwhile
                continue


def _values(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind,
        "rule": finding.rule,
        "severity": finding.severity,
        "title": finding.message,
        "evidence": finding.evidence,
        "action": finding.action,
    }


def _check_id(incident_id: Any) -> int:
    if isinstance(incident_id, bool) or not isinstance(incident_id, int) or incident_id < 1:
        raise InvalidInput(f"an incident id is a positive integer, not {incident_id!r}")
    return incident_id
