"""Metric points: a raw tail of chunk rows, folded into compressed blocks, with summaries.

Ingestion appends one chunk row per key and batch (packed little-endian arrays: the
cheapest durable write). Once a key's tail passes ``TAIL_POINTS`` points or
``TAIL_ROWS`` rows, and when its run ends, the tail is folded into ``metric_blocks``
(``metric_codec.py``) in one transaction that deletes exactly the chunks it encodes,
so readers never see a point twice or miss one. A read is one statement over blocks
and tail, one snapshot on both dialects.

numpy and the codec are imported inside the functions: the CLI imports this module
and must start without them.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lablink.errors import NotFound, RunNotActive
from lablink.models import MetricSummary
from lablink.store import schema as t
from lablink.store.base import PointBatch, Series
from lablink.store.base_sql import RUN_STATE
from lablink.store.events_sql import EventsSql
from lablink.store.hot_sql import HotSql
from lablink.store.rows import metric_summary

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

TAIL_POINTS = 4_096  # a key's tail is folded past this many points (its room is reused)
TAIL_ROWS = 64  # ... or this many chunk rows (small batches: ~100 bytes of row each)
FOLD_GROUP = 100  # tails folded in one transaction
TAIL_CACHE = 100_000  # (run, key) tails followed in memory; cleared past it, as a cache
# A live "points" event carries its batch's points for the charts watching; once they
# are folded and this many seconds old (all of them when the run ends) the event keeps
# only ``{points, keys}``, the documented form for big batches, whose viewers reload
# the history. Stored inline forever they took more room than the blocks.
EVENT_POINTS_KEEP = 60.0
# This process's points events, one entry a second at most: which event ids are old
# enough to make lean, so a fold reads only those rows and never a minute of fresh
# events with their inline points (it read them all before: a scan per fold that grew
# with the ingestion rate).
CLOCK_STEP = 1.0
CLOCK_ENTRIES = 600


class _Packed(sa.LargeBinary):
    """Packed arrays handed to the driver as the ``bytes`` they are: sqlite3 and
    psycopg both take them, and LargeBinary's conversion of each one was a tenth of
    a thousand-key batch's cost."""

    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> None:
        return None


_CHUNK_INSERT = t.metric_chunks.insert().values(
    {name: sa.bindparam(name, type_=_Packed()) for name in ("steps", "times", "values")}
)


class MetricsSql(EventsSql):
    """One chunk row per key and batch; ``run_metrics`` keeps count, last point, extremes."""

    _metric_upsert_stmt: Any = None  # the merge statement, built on first use
    _batch_insert_stmt: Any = None  # built once: a statement's construction costs ~0.1 ms

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(engine)
        # (run id, key) -> [points, rows] this process appended to the tail since it last
        # folded it. Only a trigger: another process's appends or a restart make it
        # low, which delays a fold and loses nothing (a run's end folds every key).
        self._tails: dict[tuple[str, str], list[int]] = {}
        self._lean_events: dict[str, int] = {}  # run id -> last points event made lean
        # [first time, last time, last id] of the points events written in each second
        self._event_clock: collections.deque[list[float]] = collections.deque(maxlen=CLOCK_ENTRIES)

    def ingest(
        self,
        run_id: str,
        seq: int,
        batch: PointBatch,
        event_payload: Mapping[str, Any] | None,
        accepting: Collection[str] | None = None,
    ) -> bool:
        import numpy as np

        from lablink.store.metric_codec import load_codec

        # Points stored now are folded later, maybe at the run's end inside an exiting
        # process: importing the codec's libraries there would cost the process its
        # SIGINT exit status (an import at exit resets CPython's unhandled-Ctrl-C flag).
        load_codec()
        now = time.time()
        chunks: list[dict[str, Any]] = []
        direct: list[tuple[str, Any]] = []  # batches big enough to fold at once
        stats: list[dict[str, Any]] = []
        total = 0
        for key, (steps, times, values) in batch.items():
            s = np.asarray(steps, dtype="<i8")
            w = np.asarray(times, dtype="<f8")
            v = np.asarray(values, dtype="<f8")
            if not len(s):
                continue
            total += len(s)
            low, top, last_value, last_time, low_value, high_value = _summary(s, w, v)
            if len(s) >= TAIL_POINTS:
                direct.append((key, (s.tobytes(), w.tobytes(), v.tobytes())))
            else:
                chunks.append(
                    {
                        "run_id": run_id,
                        "key": key,
                        "n": len(s),
                        "step_min": low,
                        "step_max": top,
                        "steps": s.tobytes(),
                        "times": w.tobytes(),
                        "values": v.tobytes(),
                    }
                )
            stats.append(
                {
                    "run_id": run_id,
                    "key": key,
                    "count": len(s),
                    "last_step": top,
                    "last_value": last_value,
                    "last_time": last_time,
                    "min_value": low_value,
                    "max_value": high_value,
                }
            )
        return self._store_batch(
            run_id,
            seq,
            total,
            _columns(chunks),
            direct,
            _columns(stats),
            event_payload,
            accepting,
            now,
        )

    def ingest_points(
        self,
        run_id: str,
        seq: int,
        keys: Sequence[str],
        steps: Any,
        times: Any,
        values: Any,
        event_payload: Mapping[str, Any] | None,
        accepting: Collection[str] | None = None,
    ) -> bool:
        import numpy as np

        from lablink.store.metric_codec import load_codec

        load_codec()  # as in ingest: not at a run's end in an exiting process
        # One pass over the columns for every key: a key's packed point is its 8 bytes
        # of each column, its summary the point itself.
        s = np.asarray(steps, dtype="<i8")
        w = np.asarray(times, dtype="<f8")
        v = np.asarray(values, dtype="<f8")
        n = len(keys)
        packed = [c.tobytes() for c in (s, w, v)]
        steps_list, values_list = s.tolist(), v.tolist()
        # NaN is no minimum nor maximum
        kept = [None if x != x else x for x in values_list]
        runs, ones, keys_list = [run_id] * n, [1] * n, list(keys)
        chunks: dict[str, list[Any]] = {
            "run_id": runs,
            "key": keys_list,
            "n": ones,
            "step_min": steps_list,
            "step_max": steps_list,
        }
        for name, column in zip(("steps", "times", "values"), packed, strict=True):
            chunks[name] = [column[i : i + 8] for i in range(0, 8 * n, 8)]
        stats: dict[str, list[Any]] = {
            "run_id": runs,
            "key": keys_list,
            "count": ones,
            "last_step": steps_list,
            "last_value": values_list,
            "last_time": w.tolist(),
            "min_value": kept,
            "max_value": kept,
        }
        return self._store_batch(
            run_id, seq, n, chunks, [], stats, event_payload, accepting, time.time()
        )

    def _store_batch(
        self,
        run_id: str,
        seq: int,
        total: int,
        chunks: dict[str, list[Any]],
        direct: list[tuple[str, Any]],
        stats: dict[str, list[Any]],
        event_payload: Mapping[str, Any] | None,
        accepting: Collection[str] | None,
        now: float,
    ) -> bool:
        """One batch's rows in one transaction (``ingest``), ``chunks`` and ``stats`` as
        columns (name -> values, a row each); False for a seq seen before."""
        event_id: int | None = None
        hot = self.hot
        with self.write() as conn:
            if accepting is None:
                project_id = self.run_project(conn, run_id)
            else:
                # The status changes (a run ends), so it is read here, in the transaction
                # that stores the points, where the project comes at no extra cost.
                found = hot.execute(conn, RUN_STATE, {"run_id": run_id})
                if not found:
                    raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
                project_id, status = int(found[0][0]), found[0][1]
                if status not in accepting:
                    raise RunNotActive(
                        f"run {run_id} is {status}; it accepts no more points",
                        "start a new run, or log before finish()",
                    )
            fresh = hot.execute(
                conn,
                self._batch_insert(),
                {"run_id": run_id, "seq": seq, "points": total, "received_at": now},
            )
            if not fresh:
                return False
            hot.executemany(conn, _CHUNK_INSERT, chunks)
            for key, arrays in direct:  # never written raw: saves the tail's room and time
                fold_key(conn, run_id, key, arrays)
                self._tails.pop((run_id, key), None)
            # Each row merges atomically in SQL: concurrent batches lose no update.
            hot.executemany(conn, self._metric_upsert(), stats, multirow=True)
            if event_payload is not None:
                event_id = self.add_event(conn, project_id, run_id, "points", event_payload)
        if event_id is not None:
            self._note_event(now, event_id)
        self._fold_full_tails(run_id, chunks["key"], chunks["n"])
        return True

    def _fold_full_tails(self, run_id: str, keys: list[str], counts: list[int]) -> None:
        """Fold the tails this batch filled, ``FOLD_GROUP`` keys a transaction."""
        tails = self._tails
        if len(tails) >= TAIL_CACHE:
            tails.clear()
        full = []
        for key, n in zip(keys, counts, strict=True):
            tail = tails.setdefault((run_id, key), [0, 0])
            tail[0] += n
            tail[1] += 1
            if tail[0] >= TAIL_POINTS or tail[1] >= TAIL_ROWS:
                tail[0] = tail[1] = 0
                full.append(key)
        # An MLflow batch fills a thousand keys' tails at once: folded a group per
        # transaction, not one each, and not all in one that holds the write lock long.
        for start in range(0, len(full), FOLD_GROUP):
            self.fold_tail(run_id, full[start : start + FOLD_GROUP])

    def fold_tail(self, run_id: str, keys: list[str] | None = None) -> int:
        """Fold the tails of ``keys`` into blocks; None: every key, as the run has ended.

        Returns the number of points folded. A failure is logged, never raised: the
        points stay in the tail, where reads find them.
        """
        try:
            with self.rewrite() as conn:
                ended = keys is None
                folded = fold_keys(conn, run_id, keys, self.hot)
                self._lean_points_events(
                    conn, run_id, math.inf if ended else time.time() - EVENT_POINTS_KEEP
                )
                return folded
        except Exception:
            logger.exception("folding the metric tail of run %s failed; kept as is", run_id)
            return 0

    def _note_event(self, at: float, event_id: int) -> None:
        """Remember that points event ``event_id`` was written at about ``at``."""
        clock = self._event_clock
        if clock and at - clock[-1][0] < CLOCK_STEP:
            clock[-1][1:] = [max(clock[-1][1], at), event_id]
        else:
            clock.append([at, at, event_id])

    def _old_event_id(self, before: float) -> int | None:
        """An event id all of whose points events up to it (written here) are older than
        ``before``; None when this process wrote none that old."""
        for _, last, event_id in reversed(self._event_clock):
            if last < before:
                return int(event_id)
        return None

    def _lean_points_events(self, conn: sa.Connection, run_id: str, before: float) -> None:
        """Reduce the run's "points" events older than ``before`` to ``{points, keys}``.

        While the run lives, only events up to the newest id this process knows to be
        that old are read (events of other processes wait for a later fold or the end).
        """
        e = t.events
        query = (
            sa.select(e.c.id, e.c.payload)
            .where(
                e.c.run_id == run_id,
                e.c.id > self._lean_events.get(run_id, 0),
                e.c.kind == "points",
                e.c.created_at < before,
            )
            .order_by(e.c.id)
        )
        if before != math.inf:
            upto = self._old_event_id(before)
            if upto is None:
                return
            query = query.where(e.c.id <= upto)
        rows = conn.execute(query).all()
        if not rows:
            return
        lean = [
            {
                "event_id": r.id,
                "lean": {"points": r.payload["points"], "keys": sorted(r.payload["metrics"])},
            }
            for r in rows
            if "metrics" in r.payload
        ]
        if lean:
            conn.execute(
                e.update()
                .where(e.c.id == sa.bindparam("event_id"))
                .values(payload=sa.bindparam("lean", type_=e.c.payload.type)),
                lean,
            )
        if len(self._lean_events) >= TAIL_CACHE:
            self._lean_events.clear()
        self._lean_events[run_id] = int(rows[-1].id)

    def _batch_insert(self) -> Any:
        if self._batch_insert_stmt is None:
            b = t.ingested_batches
            stmt = self.insert(b).on_conflict_do_nothing().returning(b.c.seq)
            self._batch_insert_stmt = stmt
        return self._batch_insert_stmt

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

        from lablink.store.metric_codec import decode

        b, c = t.metric_blocks, t.metric_chunks
        blocks = sa.select(
            sa.literal(0).label("tail"),
            b.c.id,
            b.c.data.label("a"),
            sa.cast(sa.null(), sa.LargeBinary).label("b"),
            sa.cast(sa.null(), sa.LargeBinary).label("c"),
        ).where(b.c.run_id == run_id, b.c.key == key)
        tail = sa.select(sa.literal(1), c.c.id, c.c.steps, c.c.times, c.c["values"]).where(
            c.c.run_id == run_id, c.c.key == key
        )
        if step_min is not None:
            blocks = blocks.where(b.c.step_max >= step_min)
            tail = tail.where(c.c.step_max >= step_min)
        if step_max is not None:
            blocks = blocks.where(b.c.step_min <= step_max)
            tail = tail.where(c.c.step_min <= step_max)
        # One statement, so one snapshot: a fold committing meanwhile is seen whole or not.
        with self.engine.connect() as conn:
            rows = list(conn.execute(sa.union_all(blocks, tail)).all())
        if not rows:
            return (np.empty(0, "<i8"), np.empty(0, "<f8"), np.empty(0, "<f8"))
        # Blocks, then the tail, each in id order: once stably sorted by step, points of
        # one step read in the order they arrived (blocks of a migrated store keep the
        # order the chunks read in before).
        rows.sort(key=lambda r: (r[0], r[1]))
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [
            decode(r[2])
            if not r[0]
            else (
                np.frombuffer(r[2], "<i8"),
                np.frombuffer(r[3], "<f8"),
                np.frombuffer(r[4], "<f8"),
            )
            for r in rows
        ]
        if len(parts) == 1:
            steps, times, values = parts[0]
        else:
            steps = np.concatenate([p[0] for p in parts])
            times = np.concatenate([p[1] for p in parts])
            values = np.concatenate([p[2] for p in parts])
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


def _summary(
    s: np.ndarray, w: np.ndarray, v: np.ndarray
) -> tuple[int, int, float, float, float | None, float | None]:
    """A key's points in a batch as (lowest step, highest step, value and time at the
    highest step (the last of ties), lowest and highest value but NaN: None if all NaN).
    """
    if len(s) == 1:
        # An MLflow batch holds a point per key, a thousand keys: numpy's reductions
        # cost microseconds each, on one number.
        step, value = int(s[0]), float(v[0])
        kept = None if math.isnan(value) else value
        return step, step, value, float(w[0]), kept, kept
    import numpy as np

    top = int(s.max())
    last = int(np.flatnonzero(s == top)[-1])
    finite = v[~np.isnan(v)]
    low_value = float(finite.min()) if len(finite) else None
    high_value = float(finite.max()) if len(finite) else None
    return int(s.min()), top, float(v[last]), float(w[last]), low_value, high_value


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows of one set of keys as columns (name -> values); the names of
    ``_CHUNK_INSERT`` and the summary upsert for no rows."""
    if not rows:
        return {"key": [], "n": []}
    return {name: [row[name] for row in rows] for name in rows[0]}


def fold_keys(
    conn: sa.Connection, run_id: str, keys: list[str] | None, hot: HotSql | None = None
) -> int:
    """``fold_key`` for many keys of a run at once (None: all of them), in ``conn``'s
    transaction: one statement deletes their tails, one inserts their blocks (a
    thousand-key MLflow run folds a thousand tails together). Returns the points folded.
    ``hot``: the store's ``HotSql``, which returns the deleted rows more cheaply.
    """
    import numpy as np

    from lablink.store.metric_codec import fold_arrays

    c = t.metric_chunks
    query = sa.delete(c).where(c.c.run_id == run_id)
    if keys is not None:
        query = query.where(c.c.key.in_(keys))
    taken = query.returning(c.c.id, c.c.key, c.c.steps, c.c.times, c.c["values"])
    found = conn.execute(taken).all() if hot is None else hot.execute_once(conn, taken)
    rows = sorted(found, key=lambda r: r[0])  # arrival order, as reads take the tail
    if not rows:
        return 0
    # by column, not zip(*rows): tens of thousands of rows unpack slowly as arguments
    row_keys, steps, times, values = ([r[i] for r in rows] for i in range(1, 5))
    # Every point of the tails as three columns, each joined once (a thousand keys'
    # tails of single points are tens of thousands of 8-byte chunks), then gathered by
    # key: a stable sort keeps each key's points in arrival order.
    number: dict[str, int] = {}
    codes = np.repeat(
        np.fromiter((number.setdefault(k, len(number)) for k in row_keys), np.intp, len(rows)),
        [len(b) >> 3 for b in steps],
    )
    by_key = np.argsort(codes, kind="stable")
    s = np.frombuffer(b"".join(steps), "<i8")[by_key]
    w = np.frombuffer(b"".join(times), "<f8")[by_key]
    v = np.frombuffer(b"".join(values), "<f8")[by_key]
    ends = np.cumsum(np.bincount(codes, minlength=len(number))).tolist()
    blocks: list[dict[str, Any]] = []
    start = 0
    for key, end in zip(number, ends, strict=True):
        for n, lo, hi, data in fold_arrays(s[start:end], w[start:end], v[start:end]):
            blocks.append(
                {"run_id": run_id, "key": key, "n": n, "step_min": lo, "step_max": hi, "data": data}
            )
        start = end
    if blocks:
        # executemany inserts in list order: each key's block ids follow its blocks' order
        conn.execute(t.metric_blocks.insert(), blocks)
    return sum(int(block["n"]) for block in blocks)


def fold_key(
    conn: sa.Connection, run_id: str, key: str, more: tuple[bytes, bytes, bytes] | None = None
) -> int:
    """Replace a key's tail chunks (and ``more`` points after them, packed as chunks
    are) by blocks in ``conn``'s transaction; returns the number of points folded.

    The chunks are deleted first and the blocks built from exactly the rows deleted:
    two processes folding one key at once (PostgreSQL) split the rows between them,
    none is encoded twice.
    """
    from lablink.store.metric_codec import fold

    c = t.metric_chunks
    rows = list(
        conn.execute(
            sa.delete(c)
            .where(c.c.run_id == run_id, c.c.key == key)
            .returning(c.c.id, c.c.steps, c.c.times, c.c["values"])
        ).all()
    )
    rows.sort(key=lambda r: r[0])  # arrival order, as reads take the tail
    packed = [(r[1], r[2], r[3]) for r in rows]
    if more is not None:
        packed.append(more)
    if not packed:
        return 0
    blocks = fold(packed)
    for n, lo, hi, data in blocks:  # one by one: ids must follow the blocks' order
        conn.execute(
            t.metric_blocks.insert().values(
                run_id=run_id, key=key, n=n, step_min=lo, step_max=hi, data=data
            )
        )
    return sum(block[0] for block in blocks)
