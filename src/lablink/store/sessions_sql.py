"""Browser sessions persistence: one row per sign-in, found by the hash of its secret.

Kept apart from ``people_sql.py``: sessions are read on every page a signed-in browser
loads, and their rows change (last seen, revoked) without an audit entry of their own;
the sign-in and sign-out that start and end them are audited by ``core/sessions.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from lablink.identity import User
from lablink.store import schema as t
from lablink.store.people_sql import _user, _user_row
from lablink.store.sql import SqlStore


@dataclasses.dataclass(frozen=True)
class SessionRow:
    """A stored session (its secret is not kept, only its hash)."""

    id: int
    user: str
    created_at: float
    last_seen_at: float
    expires_at: float
    revoked_at: float | None
    ip: str | None
    user_agent: str | None


class SessionsSql:
    """Queries for the ``sessions`` table over one SQL store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def add(self, user: str, values: Mapping[str, Any]) -> SessionRow:
        """Insert a session of ``user`` (``values``: the other ``sessions`` columns).

        Raises:
            NotFound: no such user.
        """
        s = t.sessions
        with self.store.write() as conn:
            user_id = _user_row(conn, user).id
            new_id = conn.execute(
                s.insert().values(**values, user_id=user_id).returning(s.c.id)
            ).scalar_one()
            return self._rows(conn, s.c.id == new_id)[0]

    def by_hash(self, secret_hash: str) -> tuple[SessionRow, User] | None:
        """The session whose secret hashes to ``secret_hash``, with its user; None if unknown."""
        return self._one(t.sessions.c.secret_hash == secret_hash)

    def by_id(self, session_id: int) -> tuple[SessionRow, User] | None:
        """The session ``session_id``, with its user; None if unknown."""
        return self._one(t.sessions.c.id == session_id)

    def _one(self, where: Any) -> tuple[SessionRow, User] | None:
        u = t.users
        with self.store.engine.connect() as conn:
            found = self._rows(conn, where)
            if not found:
                return None
            user = _user(conn.execute(sa.select(u).where(u.c.name == found[0].user)).one())
            return found[0], user

    def touch(self, session_id: int, now: float) -> None:
        """Record that the session was used at ``now``."""
        s = t.sessions
        with self.store.write() as conn:
            conn.execute(s.update().where(s.c.id == session_id).values(last_seen_at=now))

    def revoke(self, session_id: int, now: float) -> bool:
        """End a session; False when it had already ended."""
        s = t.sessions
        with self.store.write() as conn:
            done = conn.execute(
                s.update()
                .where(s.c.id == session_id, s.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return bool(done.rowcount == 1)

    def of_user(self, user: str) -> list[SessionRow]:
        """A user's sessions, newest first."""
        u = t.users
        with self.store.engine.connect() as conn:
            return self._rows(conn, u.c.name == user)

    def _rows(self, conn: sa.Connection, *where: Any) -> list[SessionRow]:
        s, u = t.sessions, t.users
        query = (
            sa.select(s, u.c.name.label("user_name"))
            .join(u, u.c.id == s.c.user_id)
            .where(*where)
            .order_by(s.c.id.desc())
        )
        return [
            SessionRow(
                int(r.id),
                r.user_name,
                r.created_at,
                r.last_seen_at,
                r.expires_at,
                r.revoked_at,
                r.ip,
                r.user_agent,
            )
            for r in conn.execute(query)
        ]
