"""Review persistence: one review per dataset version and its append-only event log.

``ReviewSql`` wraps a ``SqlStore`` and writes through its one write path. A decision
(approve, reject, revoke) reads the review and its log, lets the caller's rule decide,
then appends the event and sets the state in the same transaction: on SQLite the write
transaction is ``BEGIN IMMEDIATE``, on PostgreSQL the review row is locked ``FOR
UPDATE``, so two reviewers approving at once cannot both see "one approval missing".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from lablink.errors import AlreadyExists, NotFound
from lablink.models import Review, ReviewEvent
from lablink.store import schema as t
from lablink.store.sql import SqlStore

# Given the review as it is inside the transaction, return the state after the event
# (raising a LablinkError refuses it and writes nothing).
Decide = Callable[[Review], str]


class ReviewSql:
    """Queries for the reviews and review_events tables over one SQL store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def create(
        self, version_id: int, values: Mapping[str, Any], actor: str, verified: bool, now: float
    ) -> Review:
        """Insert the review of a version with its ``request`` event.

        Raises:
            AlreadyExists: the version has a review already.
        """
        r = t.reviews
        try:
            with self.store.write() as conn:
                if conn.execute(sa.select(r.c.id).where(r.c.version_id == version_id)).first():
                    raise _exists()
                review_id = conn.execute(
                    r.insert()
                    .values(
                        version_id=version_id,
                        requested_by=actor,
                        requested_at=now,
                        state="pending",
                        updated_at=now,
                        **values,
                    )
                    .returning(r.c.id)
                ).scalar_one()
                self._append(conn, int(review_id), actor, "request", None, verified, now)
                return self._get(conn, r.c.id == review_id)
        except sa.exc.IntegrityError:  # a concurrent request won the race
            raise _exists() from None

    def get(self, dataset: str, version: int) -> Review:
        """The review of ``dataset@v{version}``.

        Raises:
            NotFound: the version has no review.
        """
        with self.store.engine.connect() as conn:
            return self._get(conn, *_version_is(dataset, version))

    def find(
        self, states: tuple[str, ...] | None, involving: str | None, limit: int
    ) -> list[Review]:
        """Reviews newest first, in ``states``; ``involving`` a person (requester,
        reviewer or author: JSON lists are filtered here, not in SQL, for portability)."""
        query = _select().order_by(t.reviews.c.id.desc())
        if states:
            query = query.where(t.reviews.c.state.in_(states))
        with self.store.engine.connect() as conn:
            found = []
            for row in conn.execute(query):
                review = _review(row, ())
                if involving and involving not in (
                    review.requested_by,
                    review.author,
                    *review.reviewers,
                ):
                    continue
                found.append(review)
                if len(found) >= limit:
                    break
            return [self._with_events(conn, r) for r in found]

    def states(self, refs: list[tuple[str, int]]) -> dict[tuple[str, int], Review]:
        """The reviews of several versions (those that have one), without report bodies
        trimmed: for run pages and model cards."""
        out: dict[tuple[str, int], Review] = {}
        with self.store.engine.connect() as conn:
            for dataset, version in refs:
                try:
                    out[(dataset, version)] = self._get(conn, *_version_is(dataset, version))
                except NotFound:
                    continue
        return out

    def by_event(self, event_id: int) -> Review:
        """The review one of whose events is ``event_id``. Raises ``NotFound``."""
        e = t.review_events
        with self.store.engine.connect() as conn:
            query = sa.select(e.c.review_id).where(e.c.id == event_id)
            review_id = conn.execute(query).scalar_one_or_none()
            if review_id is None:
                raise NotFound(f"no review event {event_id}")
            return self._get(conn, t.reviews.c.id == review_id)

    def append(
        self,
        dataset: str,
        version: int,
        actor: str,
        action: str,
        note: str | None,
        verified: bool,
        now: float,
        decide: Decide,
    ) -> Review:
        """Append one event after ``decide`` accepted it, and set the state it returns.

        Raises:
            NotFound: the version has no review.
            LablinkError: whatever ``decide`` raises (nothing is written).
        """
        r = t.reviews
        with self.store.write() as conn:
            current = self._get(conn, *_version_is(dataset, version), lock=True)
            state = decide(current)
            self._append(conn, current.id, actor, action, note, verified, now)
            conn.execute(r.update().where(r.c.id == current.id).values(state=state, updated_at=now))
            return self._get(conn, r.c.id == current.id)

    def _append(
        self,
        conn: sa.Connection,
        review_id: int,
        actor: str,
        action: str,
        note: str | None,
        verified: bool,
        now: float,
    ) -> None:
        conn.execute(
            t.review_events.insert().values(
                review_id=review_id,
                at=now,
                actor=actor,
                action=action,
                note=note,
                verified=verified,
            )
        )

    def _get(self, conn: sa.Connection, *where: Any, lock: bool = False) -> Review:
        query = _select().where(*where)
        if lock:
            query = query.with_for_update(of=t.reviews)
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(
                "this version has no review",
                "request one with `lablink review request NAME@vN`",
            )
        return self._with_events(conn, _review(row, ()))

    def _with_events(self, conn: sa.Connection, review: Review) -> Review:
        e = t.review_events
        rows = conn.execute(sa.select(e).where(e.c.review_id == review.id).order_by(e.c.id))
        events = tuple(
            ReviewEvent(
                id=int(x.id),
                at=float(x.at),
                actor=x.actor,
                action=x.action,
                note=x.note,
                verified=bool(x.verified),
            )
            for x in rows
        )
        return dataclasses.replace(review, events=events)


def _exists() -> AlreadyExists:
    return AlreadyExists(
        "this version already has a review",
        "see it with `lablink review show NAME@vN`; a changed dataset is a new version, "
        "which needs a new review",
    )


def _version_is(dataset: str, version: int) -> tuple[Any, ...]:
    return (t.datasets.c.name == dataset, t.dataset_versions.c.version == version)


def _select() -> sa.Select[Any]:
    r, v, d = t.reviews, t.dataset_versions, t.datasets
    return (
        sa.select(
            r,
            d.c.name.label("dataset_name"),
            v.c.version.label("version_number"),
            v.c.created_by.label("author"),
        )
        .join(v, v.c.id == r.c.version_id)
        .join(d, d.c.id == v.c.dataset_id)
    )


def _review(row: Any, events: tuple[ReviewEvent, ...]) -> Review:
    return Review(
        id=int(row.id),
        dataset=row.dataset_name,
        version=int(row.version_number),
        author=row.author,
        requested_by=row.requested_by,
        requested_at=float(row.requested_at),
        reviewers=tuple(row.reviewers or ()),
        options=dict(row.options or {}),
        report=dict(row.report or {}),
        report_status=row.report_status,
        approvals_needed=int(row.approvals_needed),
        state=row.state,
        updated_at=float(row.updated_at),
        events=events,
    )
