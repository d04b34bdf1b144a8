"""What holds a blob: the runs (artifacts, captured diffs) and dataset versions naming it.

Blobs are content-addressed and shared, so one digest may be an artifact of runs in
several projects, a run's captured diff and a dataset file at once. These queries let
``core/blob_readers.py`` decide who may read it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from lablink.store import schema as t
from lablink.store.base_sql import SqlBase

BATCH = 500  # digests per IN (...) list


class BlobRefsSql(SqlBase):
    """Read-only look-ups from a digest to what holds it."""

    def __init__(self, store: SqlBase) -> None:
        super().__init__(store.engine)

    def run_projects(self, digests: Sequence[str]) -> dict[str, set[str]]:
        """The projects of the runs holding each digest as an artifact or captured diff."""
        found: dict[str, set[str]] = {}
        project = t.projects.c.name
        with self.engine.connect() as conn:
            for start in range(0, len(digests), BATCH):
                batch = list(digests[start : start + BATCH])
                artifacts = (
                    sa.select(t.artifacts.c.digest, project)
                    .join(t.runs, t.runs.c.id == t.artifacts.c.run_id)
                    .join(t.projects, t.projects.c.id == t.runs.c.project_id)
                    .where(t.artifacts.c.digest.in_(batch))
                )
                diffs = (
                    sa.select(t.runs.c.git_diff_digest, project)
                    .join(t.projects, t.projects.c.id == t.runs.c.project_id)
                    .where(t.runs.c.git_diff_digest.in_(batch))
                )
                for digest, name in conn.execute(sa.union(artifacts, diffs)):
                    found.setdefault(digest, set()).add(name)
        return found

    def dataset_versions(self, after: int = 0) -> list[tuple[int, str, str | None]]:
        """``(id, manifest digest, profile digest)`` of every version with id > ``after``."""
        v = t.dataset_versions.c
        query = sa.select(v.id, v.digest, v.profile_digest).where(v.id > after).order_by(v.id)
        with self.engine.connect() as conn:
            return [(int(i), str(d), p) for i, d, p in conn.execute(query)]
