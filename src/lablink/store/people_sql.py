"""People persistence: users, tokens, project grants and the audit log.

``PeopleSql`` wraps a ``SqlStore`` and uses its engine, its one write path and its
dialect INSERT, so the same SQL runs on SQLite and PostgreSQL. Every change takes an
audit entry and writes it in the same transaction: the log can't miss a change or
record one that rolled back. The audit log is only ever inserted into.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from lablink.errors import AlreadyExists, Conflict, NotFound
from lablink.identity import AuditEntry, Grant, Token, User
from lablink.store import schema as t
from lablink.store.sql import SqlStore

# An audit entry before it is stored: at, actor, action, target, detail, ip.
Audit = Mapping[str, Any]


class PeopleSql:
    """Queries for the people tables over one SQL store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    # -- users ------------------------------------------------------------------------
    def add_user(self, values: Mapping[str, Any], audit: Audit) -> User:
        """Insert a user (``values`` are ``users`` columns).

        Raises:
            AlreadyExists: the name is taken.
        """
        u = t.users
        with self.store.write() as conn:
            inserted = conn.execute(
                self.store.insert(u)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(u.c.id)
            ).first()
            if inserted is None:
                raise AlreadyExists(
                    f"user {values['name']!r} already exists", "`lablink users ls` lists them"
                )
            self._audit(conn, audit)
            return _user(conn.execute(sa.select(u).where(u.c.id == inserted.id)).one())

    def get_user(self, name: str) -> User:
        """One user. Raises ``NotFound``."""
        with self.store.engine.connect() as conn:
            return _user(_user_row(conn, name))

    def credentials(self, name: str) -> tuple[User, str | None] | None:
        """A user with their password hash, for checking a password; None if unknown."""
        u = t.users
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(u).where(u.c.name == name)).first()
        return None if row is None else (_user(row), row.password_hash)

    def list_users(self) -> list[User]:
        """Every user and service account, by name."""
        u = t.users
        with self.store.engine.connect() as conn:
            return [_user(r) for r in conn.execute(sa.select(u).order_by(u.c.name))]

    def update_user(self, name: str, values: Mapping[str, Any], audit: Audit) -> User:
        """Change columns of a user (``disabled``, ``password_hash``, ``is_admin``...).

        Raises:
            NotFound: no such user.
        """
        u = t.users
        with self.store.write() as conn:
            user_id = _user_row(conn, name).id
            conn.execute(u.update().where(u.c.id == user_id).values(**values))
            self._audit(conn, audit)
            return _user(conn.execute(sa.select(u).where(u.c.id == user_id)).one())

    # -- tokens -----------------------------------------------------------------------
    def add_token(
        self, user: str, project: str | None, values: Mapping[str, Any], audit: Audit
    ) -> Token:
        """Insert a token of ``user``, scoped to ``project`` when given.

        ``values`` are ``tokens`` columns (name, prefix, secret_hash, role, created_at,
        expires_at). The audit entry's target becomes ``token:<id>``.

        Raises:
            NotFound: no such user or project.
        """
        k = t.tokens
        with self.store.write() as conn:
            user_id = _user_row(conn, user).id
            project_id = _project_id(conn, project) if project is not None else None
            token_id = conn.execute(
                k.insert()
                .values(**values, user_id=user_id, project_id=project_id)
                .returning(k.c.id)
            ).scalar_one()
            self._audit(conn, {**audit, "target": f"token:{token_id}"})
            return self._tokens(conn, k.c.id == token_id)[0]

    def token_by_prefix(self, prefix: str) -> tuple[Token, str, User] | None:
        """The token with that prefix, its secret hash and its user; None if unknown."""
        k, u = t.tokens, t.users
        with self.store.engine.connect() as conn:
            found = self._tokens(conn, k.c.prefix == prefix)
            if not found:
                return None
            token = found[0]
            secret_hash = conn.execute(
                sa.select(k.c.secret_hash).where(k.c.id == token.id)
            ).scalar_one()
            user = _user(conn.execute(sa.select(u).where(u.c.name == token.user)).one())
            return token, str(secret_hash), user

    def token_by_id(self, token_id: int) -> tuple[Token, User] | None:
        """The token ``token_id`` with its user; None if unknown."""
        k, u = t.tokens, t.users
        with self.store.engine.connect() as conn:
            found = self._tokens(conn, k.c.id == token_id)
            if not found:
                return None
            user = _user(conn.execute(sa.select(u).where(u.c.name == found[0].user)).one())
            return found[0], user

    def touch_token(self, token_id: int, now: float) -> None:
        """Record a use of the token."""
        k = t.tokens
        with self.store.write() as conn:
            conn.execute(k.update().where(k.c.id == token_id).values(last_used_at=now))

    def list_tokens(self, user: str | None = None) -> list[Token]:
        """Tokens, newest first; only ``user``'s when given (NotFound if unknown)."""
        k = t.tokens
        with self.store.engine.connect() as conn:
            if user is None:
                return self._tokens(conn)
            return self._tokens(conn, k.c.user_id == _user_row(conn, user).id)

    def revoke_token(self, token_id: int, now: float, audit: Audit) -> Token:
        """Revoke a token for good.

        Raises:
            NotFound: no such token.
            Conflict: it is already revoked.
        """
        k = t.tokens
        with self.store.write() as conn:
            done = conn.execute(
                k.update()
                .where(k.c.id == token_id, k.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            found = self._tokens(conn, k.c.id == token_id)
            if not found:
                raise NotFound(f"no token {token_id}", "`lablink tokens ls` lists them")
            if done.rowcount != 1:
                raise Conflict(f"token {token_id} is already revoked")
            self._audit(conn, audit)
            return found[0]

    def _tokens(self, conn: sa.Connection, *where: Any) -> list[Token]:
        k, u, p = t.tokens, t.users, t.projects
        query = (
            sa.select(k, u.c.name.label("user_name"), p.c.name.label("project_name"))
            .join(u, u.c.id == k.c.user_id)
            .outerjoin(p, p.c.id == k.c.project_id)
            .where(*where)
            .order_by(k.c.id.desc())
        )
        return [_token(r) for r in conn.execute(query)]

    # -- grants -----------------------------------------------------------------------
    def grant(
        self,
        project: str,
        user: str,
        role: str,
        create: bool,
        values: Mapping[str, Any],
        audit: Audit,
    ) -> Grant:
        """Give ``user`` ``role`` in ``project``, replacing an earlier grant.

        ``values`` holds granted_by and granted_at. With ``create`` a missing project is
        made (as a first run would make it).

        Raises:
            NotFound: no such user, or no such project without ``create``.
        """
        g = t.project_grants
        with self.store.write() as conn:
            user_id = _user_row(conn, user).id
            if create:
                conn.execute(
                    self.store.insert(t.projects)
                    .values(name=project, created_at=values["granted_at"])
                    .on_conflict_do_nothing(index_elements=["name"])
                )
            project_id = _project_id(conn, project)
            row = {"project_id": project_id, "user_id": user_id, "role": role, **values}
            conn.execute(
                self.store.insert(g)
                .values(**row)
                .on_conflict_do_update(
                    index_elements=["project_id", "user_id"],
                    set_={"role": role, **values},
                )
            )
            self._audit(conn, audit)
            return Grant(project, user, role, values["granted_by"], values["granted_at"])

    def revoke_grant(self, project: str, user: str, audit: Audit) -> Grant:
        """Delete ``user``'s grant in ``project``; returns it as it was.

        Raises:
            NotFound: no such user or project, or no grant there.
        """
        g = t.project_grants
        with self.store.write() as conn:
            user_id = _user_row(conn, user).id
            project_id = _project_id(conn, project)
            row = conn.execute(
                sa.select(g).where(g.c.project_id == project_id, g.c.user_id == user_id)
            ).first()
            if row is None:
                raise NotFound(
                    f"{user} has no role in project {project}",
                    f"`lablink projects grants {project}` lists who has one",
                )
            conn.execute(g.delete().where(g.c.project_id == project_id, g.c.user_id == user_id))
            self._audit(conn, {**audit, "detail": {**audit["detail"], "role": row.role}})
            return Grant(project, user, row.role, row.granted_by, row.granted_at)

    def grants(self, project: str | None = None, user: str | None = None) -> list[Grant]:
        """Grants by project then user, optionally of one project or one user."""
        g, u, p = t.project_grants, t.users, t.projects
        query = (
            sa.select(g, u.c.name.label("user_name"), p.c.name.label("project_name"))
            .join(u, u.c.id == g.c.user_id)
            .join(p, p.c.id == g.c.project_id)
            .order_by(p.c.name, u.c.name)
        )
        if project is not None:
            query = query.where(p.c.name == project)
        if user is not None:
            query = query.where(u.c.name == user)
        with self.store.engine.connect() as conn:
            return [
                Grant(r.project_name, r.user_name, r.role, r.granted_by, r.granted_at)
                for r in conn.execute(query)
            ]

    def project_role(self, user: str, project: str) -> str | None:
        """The role ``user`` was granted in ``project``, if any."""
        g, u, p = t.project_grants, t.users, t.projects
        query = (
            sa.select(g.c.role)
            .join(u, u.c.id == g.c.user_id)
            .join(p, p.c.id == g.c.project_id)
            .where(u.c.name == user, p.c.name == project)
        )
        with self.store.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else str(found)

    # -- audit ------------------------------------------------------------------------
    def append_audit(self, audit: Audit) -> int:
        """Append one entry on its own (for events that change nothing else)."""
        with self.store.write() as conn:
            return self._audit(conn, audit)

    def audit(
        self,
        since: float | None,
        user: str | None,
        action: str | None,
        limit: int,
        before: int | None = None,
    ) -> list[AuditEntry]:
        """Entries newest first: at or after ``since``, by or about ``user``, of ``action``,
        with an id below ``before`` (the next page).

        ``action`` matches exactly, or a family with a trailing dot (``token.``).
        """
        a = t.audit_log
        query = sa.select(a).order_by(a.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(a.c.id < before)
        if since is not None:
            query = query.where(a.c.at >= since)
        if user is not None:
            query = query.where(sa.or_(a.c.actor == user, a.c.target == f"user:{user}"))
        if action is not None and action.endswith("."):
            query = query.where(a.c.action.startswith(action, autoescape=True))
        elif action is not None:
            query = query.where(a.c.action == action)
        with self.store.engine.connect() as conn:
            return [
                AuditEntry(r.id, r.at, r.actor, r.action, r.target, dict(r.detail or {}), r.ip)
                for r in conn.execute(query)
            ]

    def _audit(self, conn: sa.Connection, audit: Audit) -> int:
        entry = {"target": None, "ip": None, "detail": {}, **audit}
        a = t.audit_log
        return int(conn.execute(a.insert().values(**entry).returning(a.c.id)).scalar_one())


def _user_row(conn: sa.Connection, name: str) -> Any:
    u = t.users
    row = conn.execute(sa.select(u).where(u.c.name == name)).first()
    if row is None:
        raise NotFound(f"no user {name!r}", "`lablink users ls` lists them")
    return row


def _project_id(conn: sa.Connection, name: str) -> int:
    p = t.projects
    found = conn.execute(sa.select(p.c.id).where(p.c.name == name)).scalar()
    if found is None:
        raise NotFound(
            f"no project {name!r}",
            "`lablink projects` lists them; a project's first run makes it, or grant with --create",
        )
    return int(found)


def _user(row: Any) -> User:
    return User(
        name=row.name,
        kind=row.kind,
        email=row.email,
        display_name=row.display_name,
        is_admin=bool(row.is_admin),
        disabled=bool(row.disabled),
        has_password=row.password_hash is not None,
        created_at=row.created_at,
    )


def _token(row: Any) -> Token:
    return Token(
        id=int(row.id),
        user=row.user_name,
        name=row.name,
        prefix=row.prefix,
        project=row.project_name,
        role=row.role,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
