"""SqlStore: every query written once against the Core tables in ``schema.py``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from lablink.checks.filters import Expr
from lablink.checks.nonfinite import scrub
from lablink.errors import AlreadyExists, InvalidInput, NotFound
from lablink.models import (
    Artifact,
    Event,
    MetricSummary,
    Note,
    Project,
    RunRecord,
)
from lablink.store import schema as t
from lablink.store.base import PointBatch, Series, Store
from lablink.store.filter_sql import compile_filter, order_by_clause
from lablink.store.rows import as_number, metric_summary, param_columns, param_value, to_run


def json_dumps(value: Any) -> str:
    """JSON for JSON columns: non-finite floats become null (PostgreSQL rejects NaN)."""
    return json.dumps(scrub(value), separators=(",", ":"))


class SqlStore(Store):
    """Shared SQL for SQLite and PostgreSQL; subclasses make the engine and upserts."""

    engine: sa.Engine

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._project_ids: dict[str, int] = {}

    # -- dialect hooks ------------------------------------------------------------------
    def _write(self) -> Any:
        """A connection context for one short write transaction."""
        return self.engine.begin()

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT construct, which supports ON CONFLICT."""
        raise NotImplementedError  # pragma: no cover - every dialect overrides it

    def _notify(self, conn: sa.Connection, event_id: int) -> None:
        """Wake watchers in other processes (PostgreSQL NOTIFY); SQLite polls instead."""

    def close(self) -> None:
        self.engine.dispose()

    # -- projects -----------------------------------------------------------------------
    def ensure_project(self, name: str) -> int:
        if name in self._project_ids:
            return self._project_ids[name]
        with self._write() as conn:
            conn.execute(
                self._insert(t.projects)
                .values(name=name, created_at=time.time())
                .on_conflict_do_nothing(index_elements=["name"])
            )
            pid = conn.execute(
                sa.select(t.projects.c.id).where(t.projects.c.name == name)
            ).scalar_one()
        self._project_ids[name] = int(pid)
        return int(pid)

    def _project_id(self, conn: sa.Connection, name: str) -> int:
        pid = conn.execute(sa.select(t.projects.c.id).where(t.projects.c.name == name)).scalar()
        if pid is None:
            raise NotFound(f"no project named {name!r}", "list projects with `lablink projects`")
        return int(pid)

    def list_projects(self) -> list[Project]:
        r = t.runs
        counts = (
            sa.select(
                r.c.project_id,
                sa.func.count().label("n"),
                sa.func.sum(sa.case((r.c.status == "running", 1), else_=0)).label("active"),
                sa.func.max(sa.func.coalesce(r.c.updated_at, r.c.created_at)).label("last"),
            )
            .group_by(r.c.project_id)
            .subquery()
        )
        query = (
            sa.select(
                t.projects.c.name,
                t.projects.c.created_at,
                counts.c.n,
                counts.c.active,
                counts.c.last,
            )
            .select_from(t.projects.outerjoin(counts, counts.c.project_id == t.projects.c.id))
            .order_by(sa.desc(sa.func.coalesce(counts.c.last, t.projects.c.created_at)))
        )
        with self.engine.connect() as conn:
            return [
                Project(row.name, row.created_at, int(row.n or 0), int(row.active or 0), row.last)
                for row in conn.execute(query)
            ]

    # -- runs -------------------------------------------------------------------------
    def create_run(
        self, values: Mapping[str, Any], params: Mapping[str, Any], tags: Sequence[str]
    ) -> None:
        with self._write() as conn:
            exists = conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == values["id"])).first()
            if exists:
                raise AlreadyExists(f"run {values['id']} already exists")
            conn.execute(t.runs.insert().values(**values))
            if params:
                conn.execute(
                    t.run_params.insert(),
                    [
                        {"run_id": values["id"], "key": k, **param_columns(v)}
                        for k, v in params.items()
                    ],
                )
            if tags:
                conn.execute(
                    t.run_tags.insert(),
                    [{"run_id": values["id"], "tag": tag} for tag in dict.fromkeys(tags)],
                )
            self._add_event(
                conn,
                values["project_id"],
                values["id"],
                "run_created",
                {"status": values["status"], "name": values["name"]},
            )

    def get_run(self, run_id: str) -> RunRecord:
        runs = self._load_runs([run_id])
        if not runs:
            raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
        return runs[0]

    def run_status(self, run_id: str) -> tuple[str, str | None, str | None]:
        c = t.runs.c
        query = sa.select(c.status, c.status_reason, c.stop_requested).where(c.id == run_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
        return str(row.status), row.status_reason, row.stop_requested

    def resolve_run_id(self, ref: str) -> str:
        ref = ref.strip()
        if not ref:
            raise InvalidInput("a run id is empty")
        with self.engine.connect() as conn:
            exact = conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == ref)).scalar()
            if exact:
                return str(exact)
            if len(ref) < 4:
                raise NotFound(f"no run with id {ref!r}", "give at least 4 characters of an id")
            like = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found = (
                conn.execute(
                    sa.select(t.runs.c.id).where(t.runs.c.id.like(like, escape="\\")).limit(2)
                )
                .scalars()
                .all()
            )
        if not found:
            raise NotFound(f"no run with id {ref!r}", "list runs with `lablink runs ls`")
        if len(found) > 1:
            raise InvalidInput(f"run id prefix {ref!r} is ambiguous", "give more characters")
        return str(found[0])

    def search_runs(
        self,
        project: str | None,
        where: Expr | None,
        order_by: str | None,
        descending: bool,
        limit: int,
        offset: int,
    ) -> tuple[list[RunRecord], int]:
        r = t.runs
        with self.engine.connect() as conn:
            conds: list[Any] = []
            if project is not None:
                conds.append(r.c.project_id == self._project_id(conn, project))
            if where is not None:
                conds.append(compile_filter(where))
            base = sa.select(r.c.id).where(*conds)
            total = conn.execute(
                sa.select(sa.func.count()).select_from(base.subquery())
            ).scalar_one()
            order = order_by_clause(order_by)
            direction = sa.desc if descending else sa.asc
            sort = [
                direction(o).nulls_last() for o in (order if isinstance(order, list) else [order])
            ]
            ids = (
                conn.execute(
                    base.order_by(*sort, sa.desc(r.c.created_at), r.c.id)
                    .limit(limit)
                    .offset(offset)
                )
                .scalars()
                .all()
            )
        return self._load_runs(list(ids)), int(total)

    def update_run(self, run_id: str, values: Mapping[str, Any]) -> None:
        with self._write() as conn:
            row = conn.execute(
                sa.select(t.runs.c.project_id, t.runs.c.status).where(t.runs.c.id == run_id)
            ).first()
            if row is None:
                raise NotFound(f"no run with id {run_id!r}")
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(updated_at=time.time(), **values)
            )
            if "status" in values and values["status"] != row.status:
                self._add_event(
                    conn,
                    row.project_id,
                    run_id,
                    "status",
                    {"status": values["status"], "reason": values.get("status_reason")},
                )

    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> None:
        with self._write() as conn:
            current = conn.execute(sa.select(t.runs.c.summary).where(t.runs.c.id == run_id)).first()
            if current is None:
                raise NotFound(f"no run with id {run_id!r}")
            merged = {**(current.summary or {}), **summary}
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(summary=merged, updated_at=time.time())
            )
            for key, value in summary.items():
                number = as_number(value)
                stmt = self._insert(t.run_metrics).values(
                    run_id=run_id, key=key, count=0, summary_value=number
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["run_id", "key"], set_={"summary_value": number}
                    )
                )

    def add_tags(self, run_id: str, tags: Sequence[str]) -> None:
        with self._write() as conn:
            self._require_run(conn, run_id)
            for tag in dict.fromkeys(tags):
                conn.execute(
                    self._insert(t.run_tags).values(run_id=run_id, tag=tag).on_conflict_do_nothing()
                )
            conn.execute(
                t.runs.update().where(t.runs.c.id == run_id).values(updated_at=time.time())
            )

    def remove_tags(self, run_id: str, tags: Sequence[str]) -> None:
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                t.run_tags.delete().where(
                    t.run_tags.c.run_id == run_id, t.run_tags.c.tag.in_(list(tags))
                )
            )

    def add_note(self, run_id: str, author: str, text: str, outcome: str | None) -> None:
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                t.notes.insert().values(
                    run_id=run_id, author=author, text=text, outcome=outcome, created_at=time.time()
                )
            )
            values: dict[str, Any] = {"updated_at": time.time()}
            if outcome:
                values["outcome"] = outcome
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(**values))

    def add_input(self, run_id: str, kind: str, ref: str, digest: str | None) -> None:
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                self._insert(t.run_inputs)
                .values(
                    run_id=run_id,
                    kind=kind,
                    ref=ref,
                    digest=digest,
                    created_at=time.time(),
                )
                .on_conflict_do_nothing()
            )

    def _require_run(self, conn: sa.Connection, run_id: str) -> Any:
        row = conn.execute(
            sa.select(t.runs.c.project_id, t.runs.c.status).where(t.runs.c.id == run_id)
        ).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
        return row

    def _load_runs(self, ids: Sequence[str]) -> list[RunRecord]:
        """Hydrate runs in one query per table, keeping the order of ``ids``."""
        if not ids:
            return []
        ids = list(ids)
        with self.engine.connect() as conn:
            rows = {
                row.id: row
                for row in conn.execute(
                    sa.select(t.runs, t.projects.c.name.label("project_name"))
                    .join(t.projects, t.projects.c.id == t.runs.c.project_id)
                    .where(t.runs.c.id.in_(ids))
                )
            }
            tags: dict[str, list[str]] = {}
            for run_id, tag in conn.execute(
                sa.select(t.run_tags.c.run_id, t.run_tags.c.tag)
                .where(t.run_tags.c.run_id.in_(ids))
                .order_by(t.run_tags.c.tag)
            ):
                tags.setdefault(run_id, []).append(tag)
            params: dict[str, dict[str, Any]] = {}
            for row in conn.execute(sa.select(t.run_params).where(t.run_params.c.run_id.in_(ids))):
                params.setdefault(row.run_id, {})[row.key] = param_value(row)
            metrics: dict[str, dict[str, MetricSummary]] = {}
            for row in conn.execute(
                sa.select(t.run_metrics)
                .where(t.run_metrics.c.run_id.in_(ids))
                .order_by(t.run_metrics.c.key)
            ):
                metrics.setdefault(row.run_id, {})[row.key] = metric_summary(row)
            notes: dict[str, list[Note]] = {}
            for row in conn.execute(
                sa.select(t.notes).where(t.notes.c.run_id.in_(ids)).order_by(t.notes.c.id)
            ):
                notes.setdefault(row.run_id, []).append(
                    Note(row.text, row.author, row.created_at, row.outcome)
                )
            inputs: dict[str, list[dict[str, Any]]] = {}
            for row in conn.execute(
                sa.select(t.run_inputs)
                .where(t.run_inputs.c.run_id.in_(ids))
                .order_by(t.run_inputs.c.created_at)
            ):
                inputs.setdefault(row.run_id, []).append(
                    {"kind": row.kind, "ref": row.ref, "digest": row.digest}
                )
        return [
            to_run(
                rows[i],
                tags.get(i, []),
                params.get(i, {}),
                metrics.get(i, {}),
                notes.get(i, []),
                inputs.get(i, []),
            )
            for i in ids
            if i in rows
        ]

    # -- events -------------------------------------------------------------------------
    def add_event(
        self, project_id: int, run_id: str | None, kind: str, payload: Mapping[str, Any]
    ) -> int:
        with self._write() as conn:
            return self._add_event(conn, project_id, run_id, kind, payload)

    def _add_event(
        self,
        conn: sa.Connection,
        project_id: int,
        run_id: str | None,
        kind: str,
        payload: Mapping[str, Any],
    ) -> int:
        event_id = conn.execute(
            t.events.insert()
            .values(
                project_id=project_id,
                run_id=run_id,
                kind=kind,
                payload=dict(payload),
                created_at=time.time(),
            )
            .returning(t.events.c.id)
        ).scalar_one()
        self._notify(conn, int(event_id))
        return int(event_id)

    def events_since(
        self, cursor: int, project: str | None, run_id: str | None, limit: int
    ) -> list[Event]:
        e = t.events
        query = (
            sa.select(e, t.projects.c.name.label("project_name"))
            .join(t.projects, t.projects.c.id == e.c.project_id)
            .where(e.c.id > cursor)
            .order_by(e.c.id)
            .limit(limit)
        )
        if run_id is not None:
            query = query.where(e.c.run_id == run_id)
        if project is not None:
            query = query.where(t.projects.c.name == project)
        with self.engine.connect() as conn:
            return [
                Event(row.id, row.project_name, row.run_id, row.kind, row.payload, row.created_at)
                for row in conn.execute(query)
            ]

    def last_event_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(t.events.c.id))).scalar() or 0)

    def iter_stale_runs(self, heartbeat_before: float) -> Iterator[RunRecord]:
        r = t.runs
        with self.engine.connect() as conn:
            ids = (
                conn.execute(
                    sa.select(r.c.id).where(
                        r.c.status == "running",
                        sa.func.coalesce(r.c.heartbeat_at, r.c.created_at) < heartbeat_before,
                    )
                )
                .scalars()
                .all()
            )
        yield from self._load_runs(list(ids))

    # -- metrics ------------------------------------------------------------------------
    def ingest(
        self, run_id: str, seq: int, batch: PointBatch, event_payload: Mapping[str, Any] | None
    ) -> bool:
        now = time.time()
        chunks: list[dict[str, Any]] = []
        stats: dict[str, dict[str, Any]] = {}
        total = 0
        for key, (steps, times, values) in batch.items():
            s = np.asarray(steps, dtype="<i8")
            w = np.asarray(times, dtype="<f8")
            v = np.asarray(values, dtype="<f8")
            if not len(s):
                continue
            total += len(s)
            chunks.append(
                {
                    "run_id": run_id,
                    "key": key,
                    "n": len(s),
                    "step_min": int(s.min()),
                    "step_max": int(s.max()),
                    "steps": s.tobytes(),
                    "times": w.tobytes(),
                    "values": v.tobytes(),
                }
            )
            last = int(np.flatnonzero(s == s.max())[-1])
            finite = v[~np.isnan(v)]
            stats[key] = {
                "count": len(s),
                "last_step": int(s[last]),
                "last_value": float(v[last]),
                "last_time": float(w[last]),
                "min_value": float(finite.min()) if len(finite) else None,
                "max_value": float(finite.max()) if len(finite) else None,
            }
        with self._write() as conn:
            run = self._require_run(conn, run_id)
            fresh = conn.execute(
                self._insert(t.ingested_batches)
                .values(run_id=run_id, seq=seq, points=total, received_at=now)
                .on_conflict_do_nothing()
                .returning(t.ingested_batches.c.seq)
            ).first()
            if fresh is None:
                return False
            if chunks:
                conn.execute(t.metric_chunks.insert(), chunks)
            self._merge_metric_stats(conn, run_id, stats)
            if event_payload is not None:
                self._add_event(conn, run.project_id, run_id, "points", event_payload)
        return True

    def _merge_metric_stats(
        self, conn: sa.Connection, run_id: str, stats: Mapping[str, Mapping[str, Any]]
    ) -> None:
        if not stats:
            return
        m = t.run_metrics
        for key, new in stats.items():
            stmt = self._insert(m).values(run_id=run_id, key=key, **new)
            x = stmt.excluded
            newer = sa.or_(m.c.last_step.is_(None), x.last_step >= m.c.last_step)
            # One atomic upsert: concurrent batches for a key merge without a lost update.
            merged = {
                "count": m.c.count + x.count,
                "last_step": sa.case((newer, x.last_step), else_=m.c.last_step),
                "last_value": sa.case((newer, x.last_value), else_=m.c.last_value),
                "last_time": sa.case((newer, x.last_time), else_=m.c.last_time),
                "min_value": sa.case(
                    (sa.or_(m.c.min_value.is_(None), x.min_value < m.c.min_value), x.min_value),
                    else_=m.c.min_value,
                ),
                "max_value": sa.case(
                    (sa.or_(m.c.max_value.is_(None), x.max_value > m.c.max_value), x.max_value),
                    else_=m.c.max_value,
                ),
            }
            conn.execute(stmt.on_conflict_do_update(index_elements=["run_id", "key"], set_=merged))

    def read_series(
        self, run_id: str, key: str, step_min: int | None, step_max: int | None
    ) -> Series:
        c = t.metric_chunks
        query = sa.select(c.c.steps, c.c.times, c.c["values"]).where(
            c.c.run_id == run_id, c.c.key == key
        )
        if step_min is not None:
            query = query.where(c.c.step_max >= step_min)
        if step_max is not None:
            query = query.where(c.c.step_min <= step_max)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(c.c.step_min, c.c.id)).all()
        if not rows:
            return (np.empty(0, "<i8"), np.empty(0, "<f8"), np.empty(0, "<f8"))
        steps = np.concatenate([np.frombuffer(r[0], "<i8") for r in rows])
        times = np.concatenate([np.frombuffer(r[1], "<f8") for r in rows])
        values = np.concatenate([np.frombuffer(r[2], "<f8") for r in rows])
        if len(steps) > 1 and not bool(np.all(steps[1:] >= steps[:-1])):
            order = np.argsort(steps, kind="stable")
            steps, times, values = steps[order], times[order], values[order]
        if step_min is not None or step_max is not None:
            lo = 0 if step_min is None else int(np.searchsorted(steps, step_min, "left"))
            hi = len(steps) if step_max is None else int(np.searchsorted(steps, step_max, "right"))
            steps, times, values = steps[lo:hi], times[lo:hi], values[lo:hi]
        return steps, times, values

    def metric_summaries(self, run_id: str) -> dict[str, MetricSummary]:
        with self.engine.connect() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                sa.select(t.run_metrics)
                .where(t.run_metrics.c.run_id == run_id)
                .order_by(t.run_metrics.c.key)
            )
            return {row.key: metric_summary(row) for row in rows}

    # -- blobs and artifacts ------------------------------------------------------------
    def record_blob(self, digest: str, size: int) -> None:
        with self._write() as conn:
            conn.execute(
                self._insert(t.blobs)
                .values(digest=digest, size=size, created_at=time.time())
                .on_conflict_do_nothing()
            )

    def add_artifact(self, artifact: Artifact) -> None:
        with self._write() as conn:
            self._require_run(conn, artifact.run_id)
            values = {
                "kind": artifact.kind,
                "digest": artifact.digest,
                "size": artifact.size,
                "created_at": artifact.created_at,
            }
            conn.execute(
                self._insert(t.artifacts)
                .values(run_id=artifact.run_id, name=artifact.name, **values)
                .on_conflict_do_update(index_elements=["run_id", "name"], set_=values)
            )

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        with self.engine.connect() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(
                sa.select(t.artifacts)
                .where(t.artifacts.c.run_id == run_id)
                .order_by(t.artifacts.c.name)
            )
            return [
                Artifact(r.run_id, r.name, r.kind, r.digest, r.size, r.created_at) for r in rows
            ]
