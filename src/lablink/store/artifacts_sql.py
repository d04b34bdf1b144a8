"""Blobs the blob store holds, and the named artifacts that attach them to runs."""

from __future__ import annotations

import time

import sqlalchemy as sa

from lablink.models import Artifact
from lablink.store import schema as t
from lablink.store.events_sql import EventsSql


class ArtifactsSql(EventsSql):
    """Blob rows (idempotent) and per-run artifact names (replaced on re-upload).

    Each artifact stored is an ``artifact`` event ``{name, kind, size}``: the run page
    follows a launched job's output (``logs/*.jsonl`` chunks) and its attempts with it.
    """

    def record_blob(self, digest: str, size: int) -> None:
        with self.write() as conn:
            conn.execute(
                self.insert(t.blobs)
                .values(digest=digest, size=size, created_at=time.time())
                .on_conflict_do_nothing()
            )

    def add_artifact(self, artifact: Artifact) -> None:
        with self.write() as conn:
            row = self.require_run(conn, artifact.run_id)
            values = {
                "kind": artifact.kind,
                "digest": artifact.digest,
                "size": artifact.size,
                "created_at": artifact.created_at,
            }
            conn.execute(
                self.insert(t.artifacts)
                .values(run_id=artifact.run_id, name=artifact.name, **values)
                .on_conflict_do_update(index_elements=["run_id", "name"], set_=values)
            )
            event = {"name": artifact.name, "kind": artifact.kind, "size": artifact.size}
            self.add_event(conn, int(row.project_id), artifact.run_id, "artifact", event)

    def project_artifacts(self, project: str, kind: str | None = None) -> list[Artifact]:
        runs = (
            sa.select(t.runs.c.id)
            .join(t.projects, t.projects.c.id == t.runs.c.project_id)
            .where(t.projects.c.name == project)
        )
        query = sa.select(t.artifacts).where(t.artifacts.c.run_id.in_(runs))
        if kind is not None:
            query = query.where(t.artifacts.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.artifacts.c.run_id, t.artifacts.c.name))
            return [
                Artifact(r.run_id, r.name, r.kind, r.digest, r.size, r.created_at) for r in rows
            ]

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        with self.engine.connect() as conn:
            self.require_run(conn, run_id)
            rows = conn.execute(
                sa.select(t.artifacts)
                .where(t.artifacts.c.run_id == run_id)
                .order_by(t.artifacts.c.name)
            )
            return [
                Artifact(r.run_id, r.name, r.kind, r.digest, r.size, r.created_at) for r in rows
            ]

    def artifact_page(
        self, run_id: str, prefix: str, after: str | None, limit: int, newest: bool
    ) -> list[Artifact]:
        a = t.artifacts
        # LIKE, not a name range: PostgreSQL's collation may not order punctuation by
        # code point; the (run_id, name) key still walks the run's names in order
        query = sa.select(a).where(
            a.c.run_id == run_id, a.c.name.startswith(prefix, autoescape=True)
        )
        if after is not None:
            query = query.where(a.c.name > after)
        order = a.c.name.desc() if newest else a.c.name
        with self.engine.connect() as conn:
            self.require_run(conn, run_id)
            rows = conn.execute(query.order_by(order).limit(limit))
            return [
                Artifact(r.run_id, r.name, r.kind, r.digest, r.size, r.created_at) for r in rows
            ]
