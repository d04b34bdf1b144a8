"""Schema registry persistence: subjects and immutable versions, SQL written once.

``SchemaSql`` wraps a ``SqlStore`` and uses its engine, its one write path (``write``:
``BEGIN IMMEDIATE`` on SQLite) and its dialect INSERT, so it works unchanged on SQLite
and PostgreSQL. Versions are only ever inserted: there is no update or delete.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from lablink.errors import AlreadyExists, Conflict, NotFound
from lablink.store import schema as t
from lablink.store.sql import SqlStore


@dataclasses.dataclass(frozen=True)
class SchemaVersion:
    """One registered version of a subject."""

    subject: str
    version: int
    body: dict[str, Any]
    fingerprint: str
    compat: str
    created_by: str
    created_at: float
    description: str | None = None

    @property
    def ref(self) -> str:
        """``subject@vN``."""
        return f"{self.subject}@v{self.version}"


@dataclasses.dataclass(frozen=True)
class SchemaSubject:
    """A subject: its compatibility mode and latest version."""

    name: str
    compat: str
    latest: int
    versions: int
    created_by: str
    created_at: float
    updated_at: float


DEFAULT_COMPAT = "backward"  # Confluent Schema Registry's default too
# Called inside the write transaction with the stored versions (oldest first) and the
# mode in force; raising aborts the registration with nothing written.
Checker = Callable[[list[SchemaVersion], str], None]


class SchemaSql:
    """Queries for the schema registry tables over one SQL store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def register(
        self,
        subject: str,
        body: Mapping[str, Any],
        fingerprint: str,
        compat: str | None,
        actor: str,
        *,
        description: str | None = None,
        version: int | None = None,
        check: Checker | None = None,
    ) -> tuple[SchemaVersion, bool]:
        """Store the next version of ``subject``; ``compat`` (if given) becomes its mode.

        Returns the version and whether it was created: a body equal to the latest
        version's returns that version unchanged. ``check`` runs in the same
        transaction on the stored versions.

        Raises:
            AlreadyExists: ``version`` is given and already registered.
            Conflict: ``version`` is given and is not the next number.
            Whatever ``check`` raises, with nothing stored.
        """
        now = time.time()
        s, v = t.schema_subjects, t.schema_versions
        with self.store.write() as conn:
            conn.execute(
                self.store.insert(s)
                .values(
                    name=subject,
                    compat=compat or DEFAULT_COMPAT,
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["name"])
            )
            # FOR UPDATE serialises registrations of one subject on PostgreSQL; SQLite's
            # BEGIN IMMEDIATE already holds the write lock.
            row = conn.execute(
                sa.select(s.c.id, s.c.compat).where(s.c.name == subject).with_for_update()
            ).one()
            mode = compat or row.compat
            previous = self._versions(conn, subject, int(row.id))
            latest = previous[-1] if previous else None
            if version is not None and any(p.version == version for p in previous):
                raise AlreadyExists(
                    f"{subject}@v{version} already exists and versions are immutable",
                    f"register without a version to get {subject}@v{(latest.version if latest else 0) + 1}",
                )
            if latest is not None and latest.fingerprint == fingerprint and version is None:
                return latest, False
            number = (latest.version if latest else 0) + 1
            if version is not None and version != number:
                raise Conflict(
                    f"{subject}@v{version} cannot be registered: the next version is v{number}",
                    "versions are numbered 1, 2, 3... without gaps",
                )
            if check is not None:
                check(previous, mode)
            values = {
                "subject_id": int(row.id),
                "version": number,
                "fingerprint": fingerprint,
                "body": dict(body),
                "compat": mode,
                "description": description,
                "created_by": actor,
                "created_at": now,
            }
            conn.execute(v.insert().values(**values))
            conn.execute(s.update().where(s.c.id == row.id).values(compat=mode, updated_at=now))
        return _version(subject, values), True

    def get(self, subject: str, version: int | None = None) -> SchemaVersion:
        """One version, or the latest when ``version`` is None.

        Raises:
            NotFound: no such subject or version.
        """
        with self.store.engine.connect() as conn:
            sid = self._subject_id(conn, subject)
            v = t.schema_versions
            query = sa.select(v).where(v.c.subject_id == sid)
            query = query.where(v.c.version == version) if version is not None else query
            row = conn.execute(query.order_by(v.c.version.desc()).limit(1)).first()
        if row is None:
            raise NotFound(
                f"{subject}@v{version} does not exist",
                f"list versions with `lablink schema show {subject}`",
            )
        return _version(subject, dict(row._mapping))

    def versions(self, subject: str) -> list[SchemaVersion]:
        """Every version of a subject, oldest first.

        Raises:
            NotFound: no such subject.
        """
        with self.store.engine.connect() as conn:
            return self._versions(conn, subject, self._subject_id(conn, subject))

    def subjects(self) -> list[SchemaSubject]:
        """Every subject with its mode and latest version, by name."""
        s, v = t.schema_subjects, t.schema_versions
        stats = (
            sa.select(
                v.c.subject_id, sa.func.max(v.c.version).label("latest"), sa.func.count().label("n")
            )
            .group_by(v.c.subject_id)
            .subquery()
        )
        query = (
            sa.select(s, stats.c.latest, stats.c.n)
            .join(stats, stats.c.subject_id == s.c.id)
            .order_by(s.c.name)
        )
        with self.store.engine.connect() as conn:
            return [
                SchemaSubject(
                    r.name,
                    r.compat,
                    int(r.latest),
                    int(r.n),
                    r.created_by,
                    r.created_at,
                    r.updated_at,
                )
                for r in conn.execute(query)
            ]

    def _subject_id(self, conn: sa.Connection, subject: str) -> int:
        s = t.schema_subjects
        sid = conn.execute(sa.select(s.c.id).where(s.c.name == subject)).scalar()
        if sid is None:
            raise NotFound(
                f"no schema subject named {subject!r}", "list subjects with `lablink schema ls`"
            )
        return int(sid)

    def _versions(self, conn: sa.Connection, subject: str, sid: int) -> list[SchemaVersion]:
        v = t.schema_versions
        rows = conn.execute(sa.select(v).where(v.c.subject_id == sid).order_by(v.c.version))
        return [_version(subject, dict(r._mapping)) for r in rows]


def _version(subject: str, row: Mapping[str, Any]) -> SchemaVersion:
    return SchemaVersion(
        subject=subject,
        version=int(row["version"]),
        body=dict(row["body"]),
        fingerprint=row["fingerprint"],
        compat=row["compat"],
        created_by=row["created_by"],
        created_at=float(row["created_at"]),
        description=row["description"],
    )
