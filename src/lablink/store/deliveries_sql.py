"""The notification outbox: one row per (incident event, channel), one per attempt.

A row names an incident, or a review event (the request to each reviewer,
a decision or comment to the author); both go through the same worker and records.

Rows are written in the same store as the incident, so an alert survives a server
restart and any server process can send it. A sender claims a due row with a
compare-and-set on its lease (``UPDATE ... WHERE state = 'pending'``), so two processes
never send the same row, and records every attempt, failed or not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from lablink.store import schema as t
from lablink.store.sql import SqlStore

LEASE_SECONDS = 120.0  # a sender that died mid-send gives its rows back after this


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One notification of one incident event (or review event) to one channel."""

    id: int
    incident_id: int | None
    event: str
    channel: str
    channel_key: str
    state: str
    attempts: int
    next_at: float
    last_error: str | None
    created_at: float
    sent_at: float | None
    recipient: str | None = None  # the person (None: a fixed [notify] channel)
    reason: str | None = None  # why this person
    step: int | None = None  # escalation step: 0 the first page, 1 the next person...
    held_until: float | None = None  # held for the person's working hours until then
    review_event_id: int | None = None  # a review's notification: the event it tells of

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Routed:
    """A delivery to queue for a person: channel, send time and why."""

    channel: str
    channel_key: str
    recipient: str
    reason: str
    step: int
    at: float
    held_until: float | None
    state: str = "pending"  # "failed" for a person with no contact to reach


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One try at sending a delivery."""

    delivery_id: int
    attempt: int
    at: float
    ok: bool
    seconds: float
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


class DeliverySql:
    """Queries for ``incident_deliveries`` and ``delivery_attempts``."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def enqueue(
        self, incident_id: int, event: str, channels: Sequence[tuple[str, str]], now: float
    ) -> None:
        """Queue ``event`` of an incident for each ``(label, key)`` channel."""
        if not channels:
            return
        rows = [
            {
                "incident_id": incident_id,
                "event": event,
                "channel": label,
                "channel_key": key,
                "state": "pending",
                "attempts": 0,
                "next_at": now,
                "created_at": now,
            }
            for label, key in channels
        ]
        with self.store.write() as conn:
            conn.execute(t.incident_deliveries.insert(), rows)

    def enqueue_routed(
        self,
        incident_id: int | None,
        event: str,
        routed: Sequence[Routed],
        now: float,
        review_event_id: int | None = None,
    ) -> None:
        """Queue ``event`` of an incident (or the review event ``review_event_id``) for
        people, each row with who, when and why."""
        rows = [
            {
                "incident_id": incident_id,
                "review_event_id": review_event_id,
                "event": event if r.step == 0 else "escalated",
                "channel": r.channel,
                "channel_key": r.channel_key,
                "state": r.state,
                "attempts": 0,
                "next_at": r.at,
                "created_at": now,
                "recipient": r.recipient,
                "reason": r.reason,
                "step": r.step,
                "held_until": r.held_until,
                "last_error": "no contact: add one with lablink team add --contact"
                if r.state == "failed"
                else None,
            }
            for r in routed
        ]
        if rows:
            with self.store.write() as conn:
                conn.execute(t.incident_deliveries.insert(), rows)

    def cancel_pending(self, incident_id: int, reason: str, escalations_only: bool) -> int:
        """Cancel the incident's rows not yet sent (only escalations, or all); how many."""
        d = t.incident_deliveries
        where = [d.c.incident_id == incident_id, d.c.state == "pending"]
        if escalations_only:
            where.append(d.c.step > 0)
        with self.store.write() as conn:
            done = conn.execute(
                d.update().where(*where).values(state="cancelled", last_error=reason)
            )
            return int(done.rowcount)

    def cancel(self, delivery: Delivery, reason: str) -> None:
        """Drop a claimed row without sending it (its incident no longer needs it)."""
        d = t.incident_deliveries
        with self.store.write() as conn:
            conn.execute(
                d.update()
                .where(d.c.id == delivery.id)
                .values(state="cancelled", lease_until=None, last_error=reason)
            )

    def claim_due(self, now: float, limit: int = 20) -> list[Delivery]:
        """Take up to ``limit`` due rows for this sender (state ``sending``, leased)."""
        d = t.incident_deliveries
        due = sa.or_(
            sa.and_(d.c.state == "pending", d.c.next_at <= now),
            sa.and_(d.c.state == "sending", d.c.lease_until < now),  # its sender died
        )
        with self.store.engine.connect() as conn:
            ids = conn.execute(sa.select(d.c.id).where(due).order_by(d.c.id).limit(limit))
            candidates = [int(x) for x in ids.scalars()]
        claimed: list[Delivery] = []
        for delivery_id in candidates:
            with self.store.write() as conn:
                done = conn.execute(
                    d.update()
                    .where(d.c.id == delivery_id, due)
                    .values(state="sending", lease_until=now + LEASE_SECONDS)
                )
                if done.rowcount == 1:
                    row = conn.execute(sa.select(d).where(d.c.id == delivery_id)).one()
                    claimed.append(_delivery(row))
        return claimed

    def record(
        self,
        delivery: Delivery,
        ok: bool,
        seconds: float,
        error: str | None,
        now: float,
        retry_at: float | None,
    ) -> None:
        """Record one attempt; the row becomes ``sent``, ``pending`` again, or ``failed``."""
        d = t.incident_deliveries
        attempt = delivery.attempts + 1
        if ok:
            values: dict[str, Any] = {"state": "sent", "sent_at": now, "last_error": None}
        elif retry_at is not None:
            values = {"state": "pending", "next_at": retry_at, "last_error": error}
        else:
            values = {"state": "failed", "last_error": error}
        with self.store.write() as conn:
            conn.execute(
                t.delivery_attempts.insert().values(
                    delivery_id=delivery.id,
                    attempt=attempt,
                    at=now,
                    ok=ok,
                    seconds=seconds,
                    error=error,
                )
            )
            conn.execute(
                d.update()
                .where(d.c.id == delivery.id)
                .values(attempts=attempt, lease_until=None, **values)
            )

    def for_incident(self, incident_id: int) -> list[tuple[Delivery, list[Attempt]]]:
        """An incident's deliveries, each with its attempts, oldest first."""
        return self._with_attempts(t.incident_deliveries.c.incident_id == incident_id)

    def for_review(self, review_id: int) -> list[tuple[Delivery, list[Attempt]]]:
        """A review's deliveries (of all its events), each with its attempts, oldest first."""
        d, e = t.incident_deliveries, t.review_events
        events = sa.select(e.c.id).where(e.c.review_id == review_id)
        return self._with_attempts(d.c.review_event_id.in_(events))

    def _with_attempts(self, where: Any) -> list[tuple[Delivery, list[Attempt]]]:
        d, a = t.incident_deliveries, t.delivery_attempts
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(d).where(where).order_by(d.c.id)).all()
            ids = [int(r.id) for r in rows]
            attempts: dict[int, list[Attempt]] = {}
            if ids:
                for r in conn.execute(
                    sa.select(a).where(a.c.delivery_id.in_(ids)).order_by(a.c.id)
                ):
                    attempts.setdefault(int(r.delivery_id), []).append(
                        Attempt(int(r.delivery_id), r.attempt, r.at, bool(r.ok), r.seconds, r.error)
                    )
        return [(_delivery(r), attempts.get(int(r.id), [])) for r in rows]

    def pending_count(self) -> int:
        """Rows not yet sent or given up on."""
        d = t.incident_deliveries
        with self.store.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(d.c.state.in_(("pending", "sending")))
            return int(conn.execute(query).scalar_one())


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=int(row.id),
        incident_id=None if row.incident_id is None else int(row.incident_id),
        event=row.event,
        channel=row.channel,
        channel_key=row.channel_key,
        state=row.state,
        attempts=int(row.attempts),
        next_at=float(row.next_at),
        last_error=row.last_error,
        created_at=float(row.created_at),
        sent_at=row.sent_at,
        recipient=row.recipient,
        reason=row.reason,
        step=row.step,
        held_until=row.held_until,
        review_event_id=None if row.review_event_id is None else int(row.review_event_id),
    )
