"""Metric points: chunked numpy batches, idempotent per ``(run, seq)``, with summaries."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from lablink.models import MetricSummary
from lablink.store import schema as t
from lablink.store.base import PointBatch, Series
from lablink.store.events_sql import EventsSql
from lablink.store.rows import metric_summary


class MetricsSql(EventsSql):
    """One chunk row per key and batch; ``run_metrics`` keeps count, last point, extremes."""

    _metric_upsert_stmt: Any = None  # the merge statement, built on first use

    def ingest(
        self, run_id: str, seq: int, batch: PointBatch, event_payload: Mapping[str, Any] | None
    ) -> bool:
        import numpy as np  # here, not at the top: CLI commands that read no points skip it

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
        with self.write() as conn:
            project_id = self.run_project(conn, run_id)
            fresh = conn.execute(
                self.insert(t.ingested_batches)
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
                self.add_event(conn, project_id, run_id, "points", event_payload)
        return True

    def _merge_metric_stats(
        self, conn: sa.Connection, run_id: str, stats: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Fold a batch's per-key stats into ``run_metrics``: one statement, many rows.

        The upsert is built once per store and executed with one parameter set per key
        (``executemany``), so its cost barely grows with the number of keys. Each row
        merges atomically in SQL: concurrent batches for a key lose no update.
        """
        if not stats:
            return
        rows = [{"run_id": run_id, "key": key, **new} for key, new in stats.items()]
        conn.execute(self._metric_upsert(), rows)

    def _metric_upsert(self) -> Any:
        if self._metric_upsert_stmt is not None:
            return self._metric_upsert_stmt
        m = t.run_metrics
        stmt = self.insert(m)
        x = stmt.excluded
        newer = sa.or_(m.c.last_step.is_(None), x.last_step >= m.c.last_step)
        merged = {
            "count": m.c.count + x.count,
            "last_step": sa.case((newer, x.last_step), else_=m.c.last_step),
            "last_value": sa.case((newer, x.last_value), else_=m.c.last_value),
            "last_time": sa.case((newer, x.last_time), else_=m.c.last_time),
            # A NULL min/max (a batch of NaN only) never wins a comparison: kept as is.
            "min_value": sa.case(
                (sa.or_(m.c.min_value.is_(None), x.min_value < m.c.min_value), x.min_value),
                else_=m.c.min_value,
            ),
            "max_value": sa.case(
                (sa.or_(m.c.max_value.is_(None), x.max_value > m.c.max_value), x.max_value),
                else_=m.c.max_value,
            ),
        }
        stmt = stmt.on_conflict_do_update(index_elements=["run_id", "key"], set_=merged)
        self._metric_upsert_stmt = stmt
        return stmt

    def read_series(
        self, run_id: str, key: str, step_min: int | None, step_max: int | None
    ) -> Series:
        import numpy as np

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
            self.require_run(conn, run_id)
            rows = conn.execute(
                sa.select(t.run_metrics)
                .where(t.run_metrics.c.run_id == run_id)
                .order_by(t.run_metrics.c.key)
            )
            return {row.key: metric_summary(row) for row in rows}
