"""Device logins persistence: one row per ``lablink login`` waiting for a browser.

State changes are conditional updates (``WHERE state = ...``), so when several server
processes poll or approve the same login, exactly one of them wins each change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from lablink.store import schema as t
from lablink.store.people_sql import _user_row
from lablink.store.sql import SqlStore


@dataclasses.dataclass(frozen=True)
class DeviceRow:
    """A stored device login (its device code is not kept, only its hash)."""

    id: int
    user_code: str
    label: str
    state: str
    created_at: float
    expires_at: float
    polled_at: float | None
    user: str | None
    token_id: int | None
    ip: str | None


class DeviceSql:
    """Queries for the ``device_logins`` table over one SQL store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def add(self, values: Mapping[str, Any], now: float) -> DeviceRow:
        """Insert a pending login; logins past their end are deleted on the way."""
        d = t.device_logins
        with self.store.write() as conn:
            conn.execute(d.delete().where(d.c.expires_at < now - 86400.0))
            new_id = conn.execute(d.insert().values(**values).returning(d.c.id)).scalar_one()
            return self._rows(conn, d.c.id == new_id)[0]

    def by_hash(self, device_hash: str) -> DeviceRow | None:
        """The login whose device code hashes to ``device_hash``; None if unknown."""
        with self.store.engine.connect() as conn:
            found = self._rows(conn, t.device_logins.c.device_hash == device_hash)
            return found[0] if found else None

    def pending_by_code(self, user_code: str, now: float) -> DeviceRow | None:
        """The pending, unexpired login showing ``user_code``; None if there is none."""
        d = t.device_logins
        with self.store.engine.connect() as conn:
            found = self._rows(
                conn, d.c.user_code == user_code, d.c.state == "pending", d.c.expires_at > now
            )
            return found[0] if found else None

    def decide(self, row_id: int, user: str, state: str, now: float) -> bool:
        """Approve or deny a pending login as ``user``; False when it was no longer pending."""
        d = t.device_logins
        with self.store.write() as conn:
            user_id = _user_row(conn, user).id
            done = conn.execute(
                d.update()
                .where(d.c.id == row_id, d.c.state == "pending", d.c.expires_at > now)
                .values(state=state, user_id=user_id)
            )
            return bool(done.rowcount == 1)

    def polled(self, row_id: int, now: float) -> None:
        """Record a poll at ``now``."""
        d = t.device_logins
        with self.store.write() as conn:
            conn.execute(d.update().where(d.c.id == row_id).values(polled_at=now))

    def take(self, row_id: int, now: float) -> bool:
        """Mark an approved login used; False when another poll took it first."""
        d = t.device_logins
        with self.store.write() as conn:
            done = conn.execute(
                d.update()
                .where(d.c.id == row_id, d.c.state == "approved")
                .values(state="used", polled_at=now)
            )
            return bool(done.rowcount == 1)

    def set_token(self, row_id: int, token_id: int) -> None:
        """Note which token a used login became."""
        d = t.device_logins
        with self.store.write() as conn:
            conn.execute(d.update().where(d.c.id == row_id).values(token_id=token_id))

    def _rows(self, conn: sa.Connection, *where: Any) -> list[DeviceRow]:
        d, u = t.device_logins, t.users
        query = (
            sa.select(d, u.c.name.label("user_name"))
            .outerjoin(u, u.c.id == d.c.user_id)
            .where(*where)
            .order_by(d.c.id.desc())
        )
        return [
            DeviceRow(
                int(r.id),
                r.user_code,
                r.label,
                r.state,
                r.created_at,
                r.expires_at,
                r.polled_at,
                r.user_name,
                None if r.token_id is None else int(r.token_id),
                r.ip,
            )
            for r in conn.execute(query)
        ]
