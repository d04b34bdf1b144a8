"""Dataset persistence: datasets, immutable numbered versions and their lineage.

``DatasetSql`` wraps a ``SqlStore`` and uses its engine, its one write path (``write``:
``BEGIN IMMEDIATE`` on SQLite) and its dialect INSERT, so the same SQL runs on SQLite
and PostgreSQL. Versions are only ever inserted: there is no update or delete.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from lablink.errors import AlreadyExists, Conflict, NotFound
from lablink.models import DatasetSummary, DatasetVersion
from lablink.store import schema as t
from lablink.store.sql import SqlStore


class DatasetSql:
    """Queries for the dataset tables over one SQL store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def create_version(
        self,
        name: str,
        actor: str,
        values: Mapping[str, Any],
        parent_ids: Sequence[int],
        number: int | None,
    ) -> tuple[DatasetVersion, bool]:
        """Insert the next version of ``name`` (creating the dataset on first use).

        ``values`` are ``dataset_versions`` columns (digest, algorithm, files, size,
        message, source_run, source_command, profile_digest, schema_ref). When the
        latest version has the same manifest digest, that version is returned with
        False: the same files are never a new version, whatever message, parents,
        ``number``, schema or profile come with them (versions are immutable, so those
        are not recorded either).

        Raises:
            AlreadyExists: ``number`` is given and already taken (versions are immutable).
            Conflict: ``number`` is given and is not the next one.
        """
        now = time.time()
        d, v = t.datasets, t.dataset_versions
        with self.store.write() as conn:
            conn.execute(
                self.store.insert(d)
                .values(name=name, created_by=actor, created_at=now, updated_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            # FOR UPDATE serialises commits to one dataset on PostgreSQL; SQLite's
            # BEGIN IMMEDIATE already holds the write lock.
            dataset_id = int(
                conn.execute(
                    sa.select(d.c.id).where(d.c.name == name).with_for_update()
                ).scalar_one()
            )
            latest = conn.execute(
                sa.select(v)
                .where(v.c.dataset_id == dataset_id)
                .order_by(v.c.version.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.digest == values["digest"]:
                return self._versions(conn, name, [latest])[0], False
            next_number = (int(latest.version) if latest else 0) + 1
            if number is not None and number < next_number:
                raise AlreadyExists(
                    f"{name}@v{number} already exists and versions are immutable",
                    f"add without --version to get {name}@v{next_number}",
                )
            if number is not None and number != next_number:
                raise Conflict(
                    f"{name}@v{number} cannot be created: the next version is v{next_number}",
                    "versions are numbered 1, 2, 3... without gaps",
                )
            row = {
                **values,
                "dataset_id": dataset_id,
                "version": next_number,
                "created_by": actor,
                "created_at": now,
            }
            version_id = int(conn.execute(v.insert().values(**row)).inserted_primary_key[0])
            if parent_ids:
                conn.execute(
                    t.dataset_parents.insert(),
                    [{"version_id": version_id, "parent_id": p} for p in dict.fromkeys(parent_ids)],
                )
            conn.execute(d.update().where(d.c.id == dataset_id).values(updated_at=now))
            created = conn.execute(sa.select(v).where(v.c.id == version_id)).one()
            return self._versions(conn, name, [created])[0], True

    def version_id(self, name: str, number: int) -> int:
        """The row id of ``name@vN``. Raises NotFound."""
        return self._row(name, number).id  # type: ignore[no-any-return]

    def get(self, name: str, number: int | None = None) -> DatasetVersion:
        """``name@vN``, or its latest version when ``number`` is None.

        Raises:
            NotFound: no such dataset or version.
        """
        row = self._row(name, number)
        with self.store.engine.connect() as conn:
            return self._versions(conn, name, [row])[0]

    def versions(self, name: str) -> list[DatasetVersion]:
        """Every version of ``name``, newest first. Raises NotFound."""
        v = t.dataset_versions
        with self.store.engine.connect() as conn:
            dataset_id = self._dataset_id(conn, name)
            rows = conn.execute(
                sa.select(v).where(v.c.dataset_id == dataset_id).order_by(v.c.version.desc())
            ).all()
            return self._versions(conn, name, rows)

    def by_digest(self, prefix: str, name: str | None) -> list[DatasetVersion]:
        """Versions whose manifest digest starts with ``prefix`` (``algo:hex``), oldest first."""
        d, v = t.datasets, t.dataset_versions
        like = prefix.replace("%", "").replace("_", "") + "%"
        query = (
            sa.select(v, d.c.name)
            .join(d, d.c.id == v.c.dataset_id)
            .where(v.c.digest.like(like))
            .order_by(v.c.created_at, v.c.id)
            .limit(50)
        )
        if name is not None:
            query = query.where(d.c.name == name)
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
            return [self._versions(conn, r.name, [r])[0] for r in rows]

    def summaries(self) -> list[DatasetSummary]:
        """Every dataset with its latest version, by name."""
        d, v = t.datasets, t.dataset_versions
        stats = (
            sa.select(
                v.c.dataset_id, sa.func.max(v.c.version).label("latest"), sa.func.count().label("n")
            )
            .group_by(v.c.dataset_id)
            .subquery()
        )
        query = (
            sa.select(d, stats.c.latest, stats.c.n, v.c.files, v.c.size)
            .join(stats, stats.c.dataset_id == d.c.id)
            .join(v, sa.and_(v.c.dataset_id == d.c.id, v.c.version == stats.c.latest))
            .order_by(d.c.name)
        )
        with self.store.engine.connect() as conn:
            return [
                DatasetSummary(
                    r.name,
                    int(r.n),
                    int(r.latest),
                    int(r.files),
                    int(r.size),
                    r.created_by,
                    r.created_at,
                    r.updated_at,
                )
                for r in conn.execute(query)
            ]

    def children(self, name: str, number: int) -> list[DatasetVersion]:
        """Versions made from ``name@vN`` (with ``--from``)."""
        d, v, p = t.datasets, t.dataset_versions, t.dataset_parents
        parent = self.version_id(name, number)
        query = (
            sa.select(v, d.c.name)
            .join(p, p.c.version_id == v.c.id)
            .join(d, d.c.id == v.c.dataset_id)
            .where(p.c.parent_id == parent)
            .order_by(v.c.created_at)
        )
        with self.store.engine.connect() as conn:
            return [self._versions(conn, r.name, [r])[0] for r in conn.execute(query).all()]

    def runs_using(self, ref: str, digest: str) -> list[dict[str, Any]]:
        """Runs that recorded ``ref`` (or its manifest digest) as an input, oldest first."""
        i, r, pr = t.run_inputs, t.runs, t.projects
        query = (
            sa.select(
                r.c.id, r.c.name, r.c.user, r.c.status, r.c.created_at, pr.c.name.label("project")
            )
            .join(i, i.c.run_id == r.c.id)
            .join(pr, pr.c.id == r.c.project_id)
            .where(i.c.kind == "dataset", sa.or_(i.c.ref == ref, i.c.digest == digest))
            .distinct()
            .order_by(r.c.created_at)
        )
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def record_blobs(self, blobs: Iterable[tuple[str, int]]) -> None:
        """Note stored blobs in the ``blobs`` table, many rows per statement."""
        now = time.time()
        rows = [{"digest": d, "size": s, "created_at": now} for d, s in blobs]
        if not rows:
            return
        statement = self.store.insert(t.blobs).on_conflict_do_nothing()
        with self.store.write() as conn:
            conn.execute(statement, rows)  # executemany: compiled once

    # -- helpers ------------------------------------------------------------------------
    def _dataset_id(self, conn: sa.Connection, name: str) -> int:
        d = t.datasets
        dataset_id = conn.execute(sa.select(d.c.id).where(d.c.name == name)).scalar()
        if dataset_id is None:
            raise NotFound(f"no dataset named {name!r}", "list datasets with `lablink data ls`")
        return int(dataset_id)

    def _row(self, name: str, number: int | None) -> Any:
        v = t.dataset_versions
        with self.store.engine.connect() as conn:
            query = sa.select(v).where(v.c.dataset_id == self._dataset_id(conn, name))
            if number is not None:
                query = query.where(v.c.version == number)
            row = conn.execute(query.order_by(v.c.version.desc()).limit(1)).first()
        if row is None:
            what = f"{name}@v{number}" if number is not None else f"dataset {name!r}"
            raise NotFound(
                f"{what} does not exist", f"list versions with `lablink data log {name}`"
            )
        return row

    def _versions(
        self, conn: sa.Connection, name: str, rows: Sequence[Any]
    ) -> list[DatasetVersion]:
        d, v, p = t.datasets, t.dataset_versions, t.dataset_parents
        ids = [int(row.id) for row in rows]
        parents: dict[int, list[str]] = {}
        if ids:
            query = (
                sa.select(p.c.version_id, d.c.name, v.c.version)
                .join(v, v.c.id == p.c.parent_id)
                .join(d, d.c.id == v.c.dataset_id)
                .where(p.c.version_id.in_(ids))
                .order_by(d.c.name, v.c.version)
            )
            for link in conn.execute(query):
                parents.setdefault(int(link.version_id), []).append(f"{link.name}@v{link.version}")
        return [
            DatasetVersion(
                dataset=name,
                version=int(row.version),
                digest=row.digest,
                algorithm=row.algorithm,
                files=int(row.files),
                size=int(row.size),
                message=row.message,
                created_by=row.created_by,
                created_at=float(row.created_at),
                parents=tuple(parents.get(int(row.id), ())),
                source_run=row.source_run,
                source_command=row.source_command,
                profile_digest=row.profile_digest,
                schema_ref=row.schema_ref,
            )
            for row in rows
        ]
