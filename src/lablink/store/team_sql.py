"""Team persistence: roster rows on users, rotations, overrides.

A teammate is a ``users`` row plus a ``team_members`` row: one person, one record.
Every change writes its audit entry in the same transaction, as ``people_sql.py`` does.
Rows come back as plain mappings; ``core/team.py`` turns them into parsed weeks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from lablink.errors import NotFound
from lablink.store import schema as t
from lablink.store.sql import SqlStore

# An audit entry before it is stored: at, actor, action, target, detail.
Audit = Mapping[str, Any]


class TeamSql:
    """Queries for ``team_members``, ``rotations`` and ``oncall_overrides``."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    # -- roster ----------------------------------------------------------------------
    def user_id(self, conn: sa.Connection, name: str) -> int | None:
        """The id of user ``name`` (None when there is no such user)."""
        found = conn.execute(sa.select(t.users.c.id).where(t.users.c.name == name)).scalar()
        return None if found is None else int(found)

    def put_member(
        self,
        name: str,
        values: Mapping[str, Any],
        audit: Audit,
        new_user: Mapping[str, Any] | None = None,
    ) -> None:
        """Insert or replace ``name``'s team row, creating the user from ``new_user`` first.

        Raises:
            NotFound: no such user and no ``new_user``.
        """
        m = t.team_members
        with self.store.write() as conn:
            user_id = self.user_id(conn, name)
            if user_id is None:
                if new_user is None:
                    raise NotFound(
                        f"no user {name!r}",
                        f"pass --email to create {name}, or add them with `lablink users add`",
                    )
                user_id = int(
                    conn.execute(
                        t.users.insert().values(**new_user).returning(t.users.c.id)
                    ).scalar_one()
                )
            conn.execute(m.delete().where(m.c.user_id == user_id))
            conn.execute(m.insert().values(user_id=user_id, **values))
            _audit(conn, audit)

    def delete_member(self, name: str, audit: Audit) -> None:
        """Take ``name`` off the roster (the user stays). Raises ``NotFound``."""
        m = t.team_members
        with self.store.write() as conn:
            user_id = self.user_id(conn, name)
            done = conn.execute(m.delete().where(m.c.user_id == (user_id or -1)))
            if done.rowcount != 1:
                raise NotFound(f"{name!r} is not on the team", "`lablink team ls` lists it")
            _audit(conn, audit)

    def members(self) -> list[dict[str, Any]]:
        """Every teammate's row with their user name, e-mail and display name, by name."""
        m, u = t.team_members, t.users
        query = (
            sa.select(m, u.c.name, u.c.email, u.c.display_name, u.c.disabled)
            .join(u, u.c.id == m.c.user_id)
            .order_by(u.c.name)
        )
        with self.store.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def stamp(self) -> tuple[Any, ...]:
        """A cheap fingerprint of the roster: it changes whenever a row is added, changed
        or removed (counts, newest update times and ids), so a cache can trust it."""
        m, r, o, u = t.team_members, t.rotations, t.oncall_overrides, t.users
        query = sa.select(
            sa.select(sa.func.count()).select_from(m).scalar_subquery(),
            sa.select(sa.func.max(m.c.updated_at)).scalar_subquery(),
            sa.select(sa.func.count()).select_from(r).scalar_subquery(),
            sa.select(sa.func.max(r.c.updated_at)).scalar_subquery(),
            sa.select(sa.func.count()).select_from(o).scalar_subquery(),
            sa.select(sa.func.max(o.c.id)).scalar_subquery(),
            sa.select(sa.func.count()).select_from(u).scalar_subquery(),
            sa.select(sa.func.max(u.c.id)).scalar_subquery(),
        )
        with self.store.engine.connect() as conn:
            return tuple(conn.execute(query).one())

    def run_owner(self, run_id: str) -> str | None:
        """Who started run ``run_id`` (a user name or e-mail), None if no such run."""
        with self.store.engine.connect() as conn:
            found = conn.execute(sa.select(t.runs.c.user).where(t.runs.c.id == run_id)).scalar()
            return None if found is None else str(found)

    # -- rotations -------------------------------------------------------------------
    def put_rotation(self, values: Mapping[str, Any], audit: Audit) -> None:
        """Insert or update the rotation named ``values['name']`` (its overrides stay)."""
        r = t.rotations
        with self.store.write() as conn:
            found = conn.execute(sa.select(r.c.id).where(r.c.name == values["name"])).scalar()
            if found is None:
                conn.execute(r.insert().values(**values))
            else:
                conn.execute(r.update().where(r.c.id == found).values(**values))
            _audit(conn, audit)

    def delete_rotation(self, name: str, audit: Audit) -> None:
        """Remove a rotation and its overrides. Raises ``NotFound``."""
        r, o = t.rotations, t.oncall_overrides
        with self.store.write() as conn:
            found = conn.execute(sa.select(r.c.id).where(r.c.name == name)).scalar()
            if found is None:
                raise NotFound(f"no rotation {name!r}", "`lablink oncall now` lists them")
            conn.execute(o.delete().where(o.c.rotation_id == found))
            conn.execute(r.delete().where(r.c.id == found))
            _audit(conn, audit)

    def rotations(self) -> list[dict[str, Any]]:
        """Every rotation's row, by name."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(t.rotations).order_by(t.rotations.c.name))
            return [dict(r._mapping) for r in rows]

    # -- overrides -------------------------------------------------------------------
    def add_override(self, rotation: str, values: Mapping[str, Any], audit: Audit) -> int:
        """Record an override in ``rotation``; returns its id. Raises ``NotFound``."""
        r, o = t.rotations, t.oncall_overrides
        with self.store.write() as conn:
            found = conn.execute(sa.select(r.c.id).where(r.c.name == rotation)).scalar()
            if found is None:
                raise NotFound(f"no rotation {rotation!r}", "`lablink oncall now` lists them")
            new_id = conn.execute(
                o.insert().values(rotation_id=found, **values).returning(o.c.id)
            ).scalar_one()
            _audit(conn, audit)
            return int(new_id)

    def overrides(self, ending_after: float) -> list[dict[str, Any]]:
        """Overrides that end after ``ending_after``, with their rotation's name."""
        r, o = t.rotations, t.oncall_overrides
        query = (
            sa.select(o, r.c.name.label("rotation"))
            .join(r, r.c.id == o.c.rotation_id)
            .where(o.c.end_at > ending_after)
            .order_by(o.c.start_at)
        )
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def replace_all(
        self,
        members: Sequence[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]],
        rotations: Sequence[Mapping[str, Any]],
        audit: Audit,
    ) -> None:
        """Make the ``toml``-sourced roster and rotations exactly these, in one transaction.

        Rows added by hand (``source`` ``cli``) for other people or rotations stay.

        Raises:
            NotFound: a member who is no user, with no ``new_user`` to create them.
        """
        m, r, o = t.team_members, t.rotations, t.oncall_overrides
        with self.store.write() as conn:
            keep: set[int] = set()
            for name, values, new_user in members:
                user_id = self.user_id(conn, name)
                if user_id is None:
                    if new_user is None:
                        raise NotFound(
                            f"team.{name}: no user {name!r}",
                            f"give {name} an email in lablink.toml, or `lablink users add {name}`",
                        )
                    user_id = int(
                        conn.execute(
                            t.users.insert().values(**new_user).returning(t.users.c.id)
                        ).scalar_one()
                    )
                keep.add(user_id)
                conn.execute(m.delete().where(m.c.user_id == user_id))
                conn.execute(m.insert().values(user_id=user_id, **values))
            conn.execute(m.delete().where(m.c.source == "toml", m.c.user_id.not_in(keep or {-1})))
            names = [v["name"] for v in rotations]
            for values in rotations:
                found = conn.execute(sa.select(r.c.id).where(r.c.name == values["name"])).scalar()
                if found is None:
                    conn.execute(r.insert().values(**values))
                else:
                    conn.execute(r.update().where(r.c.id == found).values(**values))
            gone = sa.select(r.c.id).where(r.c.source == "toml", r.c.name.not_in(names or [""]))
            conn.execute(o.delete().where(o.c.rotation_id.in_(gone)))
            conn.execute(r.delete().where(r.c.source == "toml", r.c.name.not_in(names or [""])))
            _audit(conn, audit)


def _audit(conn: sa.Connection, audit: Audit) -> None:
    entry = {"target": None, "ip": None, "detail": {}, **audit}
    conn.execute(t.audit_log.insert().values(**entry))
